#!/usr/bin/env bash
# Every GPU number the open issues ask for, in one command sized to fit one device call (10 minutes):
#
#   recipes/gpu_measure.sh CODEQA_ROOT WORK_DIR
#
#  1. training speed and peak memory (issue 4): `codeqa bench` of kaggle_t4 and paper_lstm;
#  2. model quality (issue 8): recipes/codeqa_dev.sh with kaggle_t4, its training capped by max_time
#     (MAX_TIME, default 5m; pre-training gets at most 60% of it) so that the steps after it still run;
#  3. decoding speed with the trained model (issue 5): `codeqa bench --checkpoint`.
# Every result lands in WORK_DIR: bench_kaggle_t4.json, bench_paper_lstm.json, bench_decode.json,
# profile_kaggle_t4.txt, profile_paper_lstm.txt (where a training step's host time goes),
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
for config in kaggle_t4 paper_lstm; do
  $codeqa bench --config "$config" --data-dir "$real" --steps 200 --profile "$work/profile_$config.txt" \
      | tee "$work/bench_$config.json" \
      || echo "bench of $config failed; going on" >&2
done
phase "the quality recipe (kaggle_t4)"
SETTINGS="max_time=${MAX_TIME:-5m} ${SETTINGS:-}" bash "$here/codeqa_dev.sh" "$root" "$work" kaggle_t4
phase "decoding benchmark with the trained model"
$codeqa bench --config kaggle_t4 --data-dir "$real" --checkpoint "$work/run/best_model_python.pt" \
    | tee "$work/bench_decode.json"
phase "done"
