#!/usr/bin/env bash
# Every GPU number the open issues ask for, in one command sized to fit one device call (10 minutes):
#
#   recipes/gpu_measure.sh CODEQA_ROOT WORK_DIR
#
#  1. training speed and peak memory (issue 4): `codeqa bench` of kaggle_t4 and paper_lstm, and of kaggle_t4
#     compiled (compile_mode=default) and with batch 256;
#  2. model quality (issue 8): recipes/codeqa_dev.sh with kaggle_t4, its training capped by max_time
#     (MAX_TIME, default 5m; pre-training gets at most 60% of it) so that the steps after it still run;
#  3. decoding speed with the trained model (issue 5): `codeqa bench --checkpoint`.
# Every result lands in WORK_DIR: bench_{kaggle_t4,paper_lstm,kaggle_t4_compiled,kaggle_t4_batch256}.json
# with profile_*.txt beside each (where a training step's host time goes), bench_decode.json,
# run/{metrics.jsonl,decoding.json,dev_greedy.json,dev_chosen.json,logs.txt}.
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
phase "training benchmarks"
bench() {  # NAME CODEQA-BENCH-ARGUMENTS...: WORK/bench_NAME.json and WORK/profile_NAME.txt
  local name=$1; shift
  $codeqa bench --data-dir "$real" --steps 200 --profile "$work/profile_$name.txt" "$@" \
      | tee "$work/bench_$name.json" || echo "bench $name failed; going on" >&2
}
bench kaggle_t4 --config kaggle_t4
bench paper_lstm --config paper_lstm
bench kaggle_t4_compiled --config kaggle_t4 --set compile_mode=default  # the levers issue 4 still needs
bench kaggle_t4_batch256 --config kaggle_t4 --set batch_size=256
phase "the quality recipe (kaggle_t4)"
SETTINGS="max_time=${MAX_TIME:-5m} ${SETTINGS:-}" bash "$here/codeqa_dev.sh" "$root" "$work" kaggle_t4
phase "decoding benchmark with the trained model"
$codeqa bench --config kaggle_t4 --data-dir "$real" --checkpoint "$work/run/best_model_python.pt" \
    | tee "$work/bench_decode.json"
phase "done"
