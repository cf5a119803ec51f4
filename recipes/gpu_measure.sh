#!/usr/bin/env bash
# The GPU measurements issue 4 still needs, in one command sized to fit one device call (10 minutes):
#
#   recipes/gpu_measure.sh CODEQA_ROOT WORK_DIR
#
#  1. `codeqa bench` of kaggle_t4 as it ships (eager, batch 128), training alone, with its profile: the
#     machine's baseline;
#  2. the quality recipe (recipes/codeqa_dev.sh) with kaggle_t4 at the setting that trains past 10,000
#     examples/s on an H200 (compile_mode=default, batch_size=256), its learning rate scaled by sqrt(2) and
#     its warm-up halved for the doubled batch (FAST, to override), capped by MAX_TIME (default 5m):
#     to compare with the 26.3 test F1 of kaggle_t4 as it ships (README, "Results");
#  3. `codeqa bench` of kaggle_t4 compiled at batch 128 with Inductor's C++ wrapper
#     (TORCHINDUCTOR_CPP_WRAPPER=1), which launches the compiled kernels without Python: does it take the
#     shipped batch size past 10,000 examples/s (8,516 with the Python wrapper)?
#  4. the same with Inductor's combo kernels as well (config.combo_kernels: independent small kernels, such
#     as the per-weight casts and bias gradients, launched as one).
# Every result lands in WORK_DIR: bench_{kaggle_t4,kaggle_t4_cpp_wrapper,kaggle_t4_combo}.json, profile_kaggle_t4.txt,
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
fast=${FAST:-"compile_mode=default batch_size=256 lr=7.0e-4 warmup_steps=200"}
bash "$here/split_dev.sh" "$root" "$real"  # here too, so that the benchmark runs before the training
phase() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
phase "training benchmark: kaggle_t4 as it ships"
$codeqa bench --config kaggle_t4 --data-dir "$real" --steps 200 --decode-examples 0 \
    --profile "$work/profile_kaggle_t4.txt" | tee "$work/bench_kaggle_t4.json" || echo "bench failed; going on" >&2
phase "the quality recipe: kaggle_t4 with $fast"
SETTINGS="max_time=${MAX_TIME:-5m} $fast ${SETTINGS:-}" bash "$here/codeqa_dev.sh" "$root" "$work" kaggle_t4
compiled=(bench --config kaggle_t4 --data-dir "$real" --steps 300 --warmup 40 --decode-examples 0
          --set compile_mode=default)
phase "training benchmark: compiled, C++ wrapper"
TORCHINDUCTOR_CPP_WRAPPER=1 timeout 240 $codeqa "${compiled[@]}" | tee "$work/bench_kaggle_t4_cpp_wrapper.json" \
    || echo "bench failed; going on" >&2
phase "training benchmark: compiled, C++ wrapper and combo kernels"
python=${PYTHON:-python3}  # the one codeqa runs under: Inductor's combo_kernels has no environment variable
TORCHINDUCTOR_CPP_WRAPPER=1 timeout 240 "$python" -c "import sys, torch._inductor.config as inductor
inductor.combo_kernels = True
from codeqa.cli import main
sys.exit(main(sys.argv[1:]))" "${compiled[@]}" | tee "$work/bench_kaggle_t4_combo.json"
phase "done"
