#!/usr/bin/env bash
# The 7,000 real CodeQA Python dev examples as a train/dev dataset: the first 6,000 train, the last 1,000
# validate (the files are ordered so that the questions about one snippet sit together: only the snippet
# at the boundary can be split).
#
#   recipes/split_dev.sh CODEQA_ROOT DATA_DIR    (CODEQA_ROOT holds python/dev/dev.{question,answer,code,code.original})
set -euo pipefail
root=${1:?usage: recipes/split_dev.sh CODEQA_ROOT DATA_DIR}
data=${2:?usage: recipes/split_dev.sh CODEQA_ROOT DATA_DIR}
mkdir -p "$data/python/train" "$data/python/dev"
for field in question answer code code.original; do
  head -n 6000 "$root/python/dev/dev.$field" > "$data/python/train/train.$field"
  tail -n +6001 "$root/python/dev/dev.$field" > "$data/python/dev/dev.$field"
done
