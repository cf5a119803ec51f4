#!/usr/bin/env bash
# The 7,000 real CodeQA Python dev examples as a train/dev dataset: 1,000 consecutive examples validate, the
# other 6,000 train. By default the last 1,000 validate (block 6), as every number in docs/results.md does; another
# block (0-5) gives a second held-out slice. The file is ordered so that the questions about one snippet sit
# together: only the snippets at a block's edges can be split. It is not shuffled: block 0 holds 117 of its
# 201 yes/no questions, block 6 five.
#
#   recipes/split_dev.sh CODEQA_ROOT DATA_DIR [BLOCK]    (CODEQA_ROOT holds python/dev/dev.{question,answer,code,code.original})
set -euo pipefail
usage="usage: recipes/split_dev.sh CODEQA_ROOT DATA_DIR [BLOCK 0-6]"
root=${1:?$usage}
data=${2:?$usage}
block=${3:-6}
case "$block" in [0-6]) ;; *) echo "$usage (got block '$block')" >&2; exit 2 ;; esac
first=$(( block * 1000 + 1 )) last=$(( block * 1000 + 1000 ))
mkdir -p "$data/python/train" "$data/python/dev"
for field in question answer code code.original; do
  { head -n $(( first - 1 )) "$root/python/dev/dev.$field"; tail -n +$(( last + 1 )) "$root/python/dev/dev.$field"; } \
    > "$data/python/train/train.$field"
  sed -n "${first},${last}p" "$root/python/dev/dev.$field" > "$data/python/dev/dev.$field"
done
