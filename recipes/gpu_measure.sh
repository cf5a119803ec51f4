#!/usr/bin/env bash
# The GPU measurements of docs/speed.md and the kaggle_t4 rows of docs/results.md, in one command sized to fit
# one device call (about six minutes on an H100):
#
#   recipes/gpu_measure.sh CODEQA_ROOT WORK_DIR
#
#  1. `codeqa bench` of kaggle_t4 as it ships (batch 256, compiled where Triton supports the GPU), training
#     alone: bench_kaggle_t4.json;
#  2. the same as kaggle_t4 shipped before (batch 128, eager), with its profile: bench_kaggle_t4_b128_eager.json,
#     profile_kaggle_t4_b128_eager.txt;
#  3. `codeqa bench` of paper_lstm: bench_paper_lstm.json;
#  4. the quality recipe (recipes/codeqa_dev.sh) with kaggle_t4, MAX_TIME (default 8m) only as a guard:
#     run/{metrics.jsonl,decoding.json,dev_greedy.json,dev_chosen.json,logs.txt}.
# On a machine that cannot build the pretrain split itself (a GPU box whose site-packages is huge, or
# that has no codeqa installed), make WORK_DIR/real/python/pretrain here first and carry it; CODEQA
# (default: codeqa) is the command to run, e.g. "python3 -m codeqa" with PYTHONPATH at the repository.
set -euo pipefail
root=${1:?usage: recipes/gpu_measure.sh CODEQA_ROOT WORK_DIR}
work=${2:?usage: recipes/gpu_measure.sh CODEQA_ROOT WORK_DIR}
codeqa=${CODEQA:-codeqa}
here=$(cd "$(dirname "$0")" && pwd)
real="$work/real"
bash "$here/split_dev.sh" "$root" "$real"  # here too, so that the benchmarks run before the training
phase() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
bench() {  # NAME CONFIG [codeqa bench options]: one benchmark, its JSON line kept; a failure does not stop the rest
    local name=$1 config=$2; shift 2
    phase "training benchmark: $name"
    $codeqa bench --config "$config" --data-dir "$real" --decode-examples 0 "$@" | tee "$work/bench_$name.json" \
        || echo "bench $name failed; going on" >&2
}
bench kaggle_t4 kaggle_t4 --steps 300
bench kaggle_t4_b128_eager kaggle_t4 --steps 200 --set batch_size=128 --set compile_mode= \
    --profile "$work/profile_kaggle_t4_b128_eager.txt"
bench paper_lstm paper_lstm --steps 200
phase "the quality recipe: kaggle_t4"
SETTINGS="max_time=${MAX_TIME:-8m} ${SETTINGS:-}" bash "$here/codeqa_dev.sh" "$root" "$work" kaggle_t4
phase "done"
