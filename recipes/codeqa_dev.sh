#!/usr/bin/env bash
# The model-quality recipe on the 7,000 real CodeQA Python dev examples (issue 8), one command:
#
#   recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]
#
# CODEQA_ROOT holds python/dev/dev.{question,answer,code,code.original} (../shared/codeqa here).
#  1. the first 6,000 examples train, the last 1,000 validate (recipes/split_dev.sh; HELD_OUT_BLOCK=0-5
#     validates on another 1,000 consecutive examples instead);
#  2. the pretrain split: pairs generated from this Python's standard library, its installed packages and
#     the wheels of the local package indexes pip is configured with (`pip config list`: file:// URLs),
#     a sample of as many files as a Kaggle image gives, leaving out every function that is a near-duplicate
#     of a validation snippet (--pretrain-for does that). Without a local index, the standard library and
#     the installed packages alone, and small then pre-trains 3 epochs over their fewer pairs instead of
#     its config's 1 (docs/results.md);
#  3. one `codeqa train`: pre-training on the generated pairs, then fine-tuning on the 6,000 real ones
#     (the config's pretrain_split / pretrain_epochs), selecting on validation F1;
#  4. evaluate the best model on the 1,000 greedily and with the decoding that training chose on them
#     (beam size, length penalty, rerank: decoding.json).
# CONFIG (default small: trains on a CPU) names the model; on a GPU use kaggle_t4. PACKAGES, when set,
# replaces the sources after the standard library, space-separated: folders, wheels, folders of wheels or
# local index URLs (e.g. PACKAGES="<site-packages> wheels/" after `pip download -d wheels ...`), all files
# read unless MAX_FILES says otherwise, and the config keeps its own schedule; CODEQA the codeqa command to
# run; SETTINGS more `key=value` config overrides for the training (e.g. "max_time=6m"), applied last.
set -euo pipefail
root=${1:?usage: recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]}
work=${2:?usage: recipes/codeqa_dev.sh CODEQA_ROOT WORK_DIR [CONFIG]}
config=${3:-small}
codeqa=${CODEQA:-codeqa}
real="$work/real"
bash "$(dirname "$0")/split_dev.sh" "$root" "$real" "${HELD_OUT_BLOCK:-6}"
settings=()
if [ -n "${PACKAGES:-}" ]; then
  packages=$PACKAGES
  max_files=${MAX_FILES:-0}
else
  packages=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  indexes=$(python3 -m pip config list 2>/dev/null | sed -n "s/^[^=]*index-url='\(.*\)'\$/\1/p" \
            | tr ' ' '\n' | grep '^file://' || true)
  if [ -n "$indexes" ]; then
    packages="$packages $(echo "$indexes" | tr '\n' ' ')"
    max_files=${MAX_FILES:-65000}
  else
    max_files=${MAX_FILES:-0}
    # small's schedule measured on these sources alone; its config's one pass is for the larger ones
    [ "$config" != small ] || settings+=(--set pretrain_epochs=3)
  fi
fi
# shellcheck disable=SC2086  # PACKAGES is a list of paths
[ -d "$real/python/pretrain" ] || $codeqa make-dataset --source stdlib $packages --max-files "$max_files" \
    --pretrain-for "$real"
for kv in ${SETTINGS:-}; do settings+=(--set "$kv"); done
$codeqa train --config "$config" --data-dir "$real" --out-dir "$work/run" --resume auto "${settings[@]}"
best="$work/run/best_model_python.pt"
$codeqa evaluate --checkpoint "$best" --data-dir "$real" --split dev --beam 1 \
    --out "$work/run/dev_greedy.txt" --metrics-out "$work/run/dev_greedy.json"
$codeqa evaluate --checkpoint "$best" --data-dir "$real" --split dev \
    --out "$work/run/dev_chosen.txt" --metrics-out "$work/run/dev_chosen.json"
