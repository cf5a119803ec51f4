#!/usr/bin/env bash
# The model-quality recipe on the 7,000 real CodeQA Python dev examples (issue 8), one command:
#
#   recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]
#
# CODEQA_ROOT holds python/dev/dev.{question,answer,code,code.original} (../shared/codeqa here).
#  1. the first 6,000 examples train, the last 1,000 validate (the files are ordered so that the questions
#     about one snippet sit together: only the snippet at the boundary can be split);
#  2. the pretrain split: pairs generated from this Python's standard library and installed packages,
#     leaving out every function that is a near-duplicate of a validation snippet (--pretrain-for does that);
#  3. one `codeqa train`: pre-training on the generated pairs, then fine-tuning on the 6,000 real ones
#     (the config's pretrain_split / pretrain_epochs), selecting on validation F1;
#  4. evaluate the best model on the 1,000 with beam 1 and beam 4.
# CONFIG (default small: trains on a CPU) names the model; on a GPU use kaggle_t4. PACKAGES (default: this
# Python's site-packages) is the second source of generated pairs; CODEQA the codeqa command to run.
set -euo pipefail
root=${1:?usage: recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]}
work=${2:?usage: recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]}
config=${3:-small}
codeqa=${CODEQA:-codeqa}
src="$root/python/dev"
real="$work/real"
mkdir -p "$real/python/train" "$real/python/dev"
for field in question answer code code.original; do
  head -n 6000 "$src/dev.$field" > "$real/python/train/train.$field"
  tail -n +6001 "$src/dev.$field" > "$real/python/dev/dev.$field"
done
packages=${PACKAGES:-$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')}
[ -d "$real/python/pretrain" ] || $codeqa make-dataset --source stdlib "$packages" --pretrain-for "$real"
$codeqa train --config "$config" --data-dir "$real" --out-dir "$work/run" --resume auto
for beam in 1 4; do
  $codeqa evaluate --checkpoint "$work/run/best_model_python.pt" --data-dir "$real" --split dev \
      --beam "$beam" --out "$work/run/dev_beam$beam.txt" --metrics-out "$work/run/dev_beam$beam.json"
done
