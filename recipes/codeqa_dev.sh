#!/usr/bin/env bash
# The model-quality recipe on the 7,000 real CodeQA Python dev examples (issue 8), one command:
#
#   recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]
#
# CODEQA_ROOT holds python/dev/dev.{question,answer,code,code.original} (../shared/codeqa here).
#  1. the first 6,000 examples train, the last 1,000 validate (recipes/split_dev.sh; HELD_OUT_BLOCK=0-5
#     validates on another 1,000 consecutive examples instead);
#  2. the pretrain split: pairs generated from this Python's standard library and installed packages,
#     leaving out every function that is a near-duplicate of a validation snippet (--pretrain-for does that);
#  3. one `codeqa train`: pre-training on the generated pairs, then fine-tuning on the 6,000 real ones
#     (the config's pretrain_split / pretrain_epochs), selecting on validation F1;
#  4. evaluate the best model on the 1,000 greedily and with the decoding that training chose on them
#     (beam size, length penalty, rerank: decoding.json).
# CONFIG (default small: trains on a CPU) names the model; on a GPU use kaggle_t4. PACKAGES (default: this
# Python's site-packages) are the other sources of generated pairs, space-separated: folders, wheels or
# folders of wheels (e.g. PACKAGES="<site-packages> wheels/" after `pip download -d wheels ...`, the more
# varied data of docs/results.md); CODEQA the codeqa command to run;
# SETTINGS more `key=value` config overrides for the training (e.g. "max_time=6m").
set -euo pipefail
root=${1:?usage: recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]}
work=${2:?usage: recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]}
config=${3:-small}
codeqa=${CODEQA:-codeqa}
real="$work/real"
bash "$(dirname "$0")/split_dev.sh" "$root" "$real" "${HELD_OUT_BLOCK:-6}"
packages=${PACKAGES:-$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')}
# shellcheck disable=SC2086  # PACKAGES is a list of paths
[ -d "$real/python/pretrain" ] || $codeqa make-dataset --source stdlib $packages --pretrain-for "$real"
settings=()
for kv in ${SETTINGS:-}; do settings+=(--set "$kv"); done
$codeqa train --config "$config" --data-dir "$real" --out-dir "$work/run" --resume auto "${settings[@]}"
best="$work/run/best_model_python.pt"
$codeqa evaluate --checkpoint "$best" --data-dir "$real" --split dev --beam 1 \
    --out "$work/run/dev_greedy.txt" --metrics-out "$work/run/dev_greedy.json"
$codeqa evaluate --checkpoint "$best" --data-dir "$real" --split dev \
    --out "$work/run/dev_chosen.txt" --metrics-out "$work/run/dev_chosen.json"
