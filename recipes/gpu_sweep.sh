#!/usr/bin/env bash
# The GPU sweep of #22 (lever 3, "scale to the budget") and the CodeT5 costs of #23, in one command sized
# for one device call (about nine minutes on an H100):
#
#   recipes/gpu_sweep.sh CODEQA_ROOT WORK_DIR [PACKAGES...]
#
#  1. the 6,000 / 1,000 split of the dev file twice, with two pretrain splits from the standard library and
#     PACKAGES (default: this Python's site-packages; add folders of wheels or local index URLs): the QA pairs the
#     recipe ships with (real/), and the same with code → docstring pairs (real_summaries/, #22 lever 1),
#     from a seeded sample of at most MAX_FILES files (default 65000, the sample the notebook's cell 5 draws
#     from a Kaggle image);
#  2. training benchmarks (examples/s, peak memory) of each kaggle_t4 variant below as a T4 trains it (eager,
#     fp16: Triton does not compile for a T4, and it saves compiling each shape here), 50 steps after the
#     warm-up, and of models of CodeT5-small's and CodeT5+ 220M's shapes (recipes/codet5_shapes.py);
#  3. the recipe with each variant, all at once on the one GPU, each capped by MAX_TIME (default 6m):
#     pre-training, fine-tuning and the decoding grid, then codeqa evaluate with the chosen decoding;
#  4. WORK_DIR/sweep.tsv: variant, F1, ROUGE-L, EM, official BLEU, training examples/s, peak GB; base_repeats is
#     base decoded as it chose but with repeated words allowed (no_repeat_ngram_size 0).
# Every variant must stay under 12 GB of training memory to fit a 16 GB T4.
# CODEQA (default: codeqa) is the command to run; SMOKE=1 shrinks everything to check the script on a CPU.
# PREPARE_ONLY=1 stops after step 1, so that the pairs are generated on a CPU machine and the GPU's time goes
# to training: copy WORK_DIR and CODEQA_ROOT to the GPU machine (the pretrain splits' *.code.original are
# never read, so they can stay behind), then run the same command there: a pretrain split already there is kept.
set -euo pipefail
root=${1:?usage: recipes/gpu_sweep.sh CODEQA_ROOT WORK_DIR [PACKAGES...]}
work=${2:?usage: recipes/gpu_sweep.sh CODEQA_ROOT WORK_DIR [PACKAGES...]}
shift 2
packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=("$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')")
codeqa=${CODEQA:-codeqa}
here=$(cd "$(dirname "$0")" && pwd)
config=kaggle_t4 steps=50 max_time=${MAX_TIME:-6m} extra=()
if [ "${SMOKE:-0}" = 1 ]; then  # the same steps, in seconds, on a CPU
  config=quick steps=2 max_time=40s extra=(max_train_examples=200 max_valid_examples=50 pretrain_split=pretrain
                                          pretrain_epochs=1 epochs=1
                                          tune_beam_sizes=1,2 tune_length_penalties=1.0)
fi
# name:data:the settings that make the variant (besides the base config); base is the recipe as it ships
variants=("base:real:" "summaries:real_summaries:" "wide:real:d_model=384 n_heads=6 ff_dim=1536"
          "deep:real:enc_layers=4 dec_layers=4" "frozen:real:freeze=embeddings")
[ "${SMOKE:-0}" = 1 ] && variants=("base:real:" "summaries:real_summaries:" "wide:real:d_model=96 n_heads=2 ff_dim=192"
                                   "frozen:real:freeze=embeddings")
phase() { echo "== $(date -u +%H:%M:%S) $*" >&2; }

real="$work/real"
phase "pretrain splits"
for data in real real_summaries; do
  bash "$here/split_dev.sh" "$root" "$work/$data"
  flags=(); [ $data = real_summaries ] && flags=(--summaries)
  [ -d "$work/$data/python/pretrain" ] ||
      $codeqa make-dataset --source stdlib "${packages[@]}" --max-files "${MAX_FILES:-65000}" \
          --pretrain-for "$work/$data" "${flags[@]}"
done
[ "${PREPARE_ONLY:-0}" = 1 ] && { phase "prepared: $work/real*/python/pretrain"; exit 0; }
sets() { for kv in "$@"; do printf -- '--set\n%s\n' "$kv"; done; }

phase "training benchmarks"
for variant in "${variants[@]}"; do
  IFS=: read -r name data spec <<< "$variant"
  # the summaries change the data, and freezing what fine-tuning trains, not the cost of a step
  [ $data = real ] && [[ $spec != freeze=* ]] || continue
  settings=($spec)
  mapfile -t args < <(sets "${settings[@]}" compile_mode= precision=fp16 "${extra[@]}")
  $codeqa bench --config $config --data-dir "$real" --steps $steps --decode-examples 0 "${args[@]}" \
      > "$work/bench_$name.json" || echo "bench $name failed; going on" >&2
done
# a failure here (another transformers release, say) costs the CodeT5 rows, not the recipes after them
if python3 -c "import transformers" 2>/dev/null && [ "${SMOKE:-0}" != 1 ] &&
    { python3 "$here/codet5_shapes.py" "$work/shapes" --words "$real" || ! echo "CodeT5 shapes failed" >&2; }; then
  for shape in codet5_small:codet5-small-shape codet5p_220m:codet5p-220m-shape; do
    $codeqa bench --config ${shape%%:*} --data-dir "$real" --steps 20 --decode-examples 2048 \
        --set pretrained="$work/shapes/${shape#*:}" > "$work/bench_${shape%%:*}.json" || echo "bench $shape failed" >&2
  done
fi

phase "recipes, all at once, max_time $max_time each"
pids=()
for variant in "${variants[@]}"; do
  IFS=: read -r name data spec <<< "$variant"
  settings=($spec)
  mapfile -t args < <(sets max_time=$max_time "${settings[@]}" "${extra[@]}")
  (
    out="$work/$name"
    $codeqa train --config $config --data-dir "$work/$data" --out-dir "$out" --resume auto "${args[@]}" > "$work/$name.log" 2>&1
    $codeqa evaluate --checkpoint "$out/best_model_python.pt" --data-dir "$work/$data" --split dev \
        --out "$out/dev_chosen.txt" --metrics-out "$out/dev_chosen.json" >> "$work/$name.log" 2>&1
    # the same decoding with repeated words allowed, as before kaggle_t4 banned them (#22)
    [ $name != base ] || $codeqa evaluate --checkpoint "$out/best_model_python.pt" --data-dir "$work/$data" \
        --split dev --no-repeat-ngram-size 0 --out "$out/dev_repeats.txt" --metrics-out "$out/dev_repeats.json" \
        >> "$work/$name.log" 2>&1
  ) &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || echo "a recipe failed: see $work/*.log" >&2; done

phase "summary"
python3 - "$work" "${variants[@]%%:*}" <<'PY'
import json, sys
from pathlib import Path
work, names = Path(sys.argv[1]), sys.argv[2:]
rows = ["variant\tF1\tROUGE-L\tEM\tBLEU\ttrain_examples_per_s\ttrain_peak_gb"]
for name, scored in [(n, n / Path("dev_chosen.json")) for n in names] + [("base_repeats", "base/dev_repeats.json")]:
    try:
        overall = json.loads((work / scored).read_text())["overall"]
        scores = [f"{overall[k]:.2f}" for k in ("f1", "rouge_l", "exact_match", "bleu")]
    except (OSError, KeyError, ValueError):
        scores = ["-"] * 4
    try:
        bench = json.loads((work / f"bench_{name}.json").read_text().strip().splitlines()[-1])
        speed = [str(bench["train_examples_per_s"]), str(bench["train_peak_memory_gb"])]
    except (OSError, KeyError, ValueError, IndexError):
        speed = ["-", "-"]
    rows.append("\t".join([name, *scores, *speed]))
(work / "sweep.tsv").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
phase "done"
