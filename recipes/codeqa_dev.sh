#!/usr/bin/env bash
# The model-quality recipe on the 7,000 real CodeQA Python dev examples (issue 8), one command:
#
#   recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]
#
# CODEQA_ROOT holds python/dev/dev.{question,answer,code,code.original} (../shared/codeqa here).
#  1. the first 6,000 examples train, the last 1,000 validate (the files are ordered so that the questions
#     about one snippet sit together: only the snippet at the boundary can be split);
#  2. pre-training pairs are generated from this Python's standard library and installed packages, leaving
#     out every function that is a near-duplicate of a validation snippet (--exclude-like);
#  3. one vocabulary over both training sets; pre-train on the generated pairs, then fine-tune on the
#     6,000 real ones (init_from), selecting on validation F1;
#  4. evaluate the best model on the 1,000 with beam 1 and beam 4.
# CONFIG (default small: trains on a CPU) names the model; on a GPU use kaggle_t4.
set -euo pipefail
root=${1:?usage: recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]}
work=${2:?usage: recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]}
config=${3:-small}
pretrain_epochs=${PRETRAIN_EPOCHS:-3}
codeqa=${CODEQA:-codeqa}
src="$root/python/dev"
real="$work/real"
mkdir -p "$real/python/train" "$real/python/dev"
for field in question answer code code.original; do
  head -n 6000 "$src/dev.$field" > "$real/python/train/train.$field"
  tail -n +6001 "$src/dev.$field" > "$real/python/dev/dev.$field"
done
site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -d "$work/generated" ] || $codeqa make-dataset --source stdlib "$site" --out "$work/generated" \
    --split 0.95,0.05,0 --exclude-like "$real" --exclude-splits dev
$codeqa build-vocab --data-dir "$work/generated" --data-dir "$real" --min-freq 2 --max-size 30000 \
    --out "$work/vocab.json"
$codeqa train --config "$config" --data-dir "$work/generated" --out-dir "$work/pretrain" --vocab "$work/vocab.json" \
    --set epochs="$pretrain_epochs" --set patience=0 --set max_valid_examples=1000 --resume auto
$codeqa train --config "$config" --data-dir "$real" --out-dir "$work/finetune" \
    --set init_from="$work/pretrain/last.pt" --set lr=5e-4 --set warmup_steps=100 --resume auto
for beam in 1 4; do
  $codeqa evaluate --checkpoint "$work/finetune/best_model_python.pt" --data-dir "$real" --split dev \
      --beam "$beam" --out "$work/finetune/dev_beam$beam.txt" --metrics-out "$work/finetune/dev_beam$beam.json"
done
