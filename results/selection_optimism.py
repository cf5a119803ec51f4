#!/usr/bin/env python3
"""How much choosing on the reported examples flatters the reported score (#22):

    python results/selection_optimism.py DATA_DIR RUN_DIR [RUN_DIR ...] --out optimism.json [--grid]

The candidates are a run's epochs, or with --grid the decoding settings of its `decoding.json` grid (the best model
decoded with each). Without --grid each RUN_DIR is a fine-tuning that kept every epoch's checkpoint
(recipes/seed_study.py's runs), and every epoch is decoded as training validates it (the config's greedy decoding).
Each candidate's per-example token F1 and ROUGE-L on the validation split are kept (cached in the run dir). The
optimism of reporting the best candidate's score is estimated by the bootstrap (Efron and Tibshirani): over
resamples of the examples, the candidate that is best on a resample scores higher there than on the whole split, and
the mean of that difference is how far the best candidate's score overstates what a fresh sample would give.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from codeqa.checkpoint import load_model
from codeqa.data import read_split
from codeqa.decode import DecodeConfig, predict
from codeqa.fileio import write_json
from codeqa.metrics import rouge_l, token_f1
from codeqa.runfiles import EPOCH_PREFIX

RESAMPLES = 2000


def scored(checkpoint: Path, data: Path, **choices) -> dict[str, list[float]]:
    """Per-example token F1 and ROUGE-L of a checkpoint's answers to the validation split."""
    model, vocab, config = load_model(checkpoint, "cpu")
    examples = read_split(data, config.lang, config.valid_split, config.code_field)
    decoding = DecodeConfig.from_config(config, **choices)
    answers = [o[0][0] if o else "" for o in predict(model, examples, vocab, decoding)]
    return {"f1": [token_f1(a, e.answer) for a, e in zip(answers, examples)],
            "rouge_l": [rouge_l(a, e.answer) for a, e in zip(answers, examples)]}


def per_example(run: Path, data: Path, grid: bool) -> dict[str, dict[str, list[float]]]:
    """{candidate: {"f1": [...], "rouge_l": [...]}}: the run's epochs, or its decoding grid's settings."""
    cache = run / ("per_example_grid.json" if grid else "per_example_greedy.json")
    found = json.loads(cache.read_text()) if cache.is_file() else {}
    if grid:
        todo = {f"beam {r['beam_size']}, length penalty {r['length_penalty']}, {r['rerank']}":
                (run / "best_model_python.pt", {"beam_size": r["beam_size"], "length_penalty": r["length_penalty"],
                                                "rerank": r["rerank"]})
                for r in json.loads((run / "decoding.json").read_text())["grid"]}
    else:
        todo = {f"epoch {ckpt.stem.removeprefix(EPOCH_PREFIX)}": (ckpt, {}) for ckpt in run.glob(f"{EPOCH_PREFIX}*.pt")}
    for name, (checkpoint, choices) in todo.items():
        if name not in found:
            found[name] = scored(checkpoint, data, **choices)
            write_json(cache, found)
    return found


def optimism(scores: dict[str, dict[str, list[float]]], rng: random.Random) -> dict:
    """The best candidate's F1 / ROUGE-L on all examples, and the bootstrap estimate of how much choosing it on
    them inflates them."""
    n = len(next(iter(scores.values()))["f1"])
    full = {e: {k: sum(v) / n for k, v in s.items()} for e, s in scores.items()}
    best = max(full, key=lambda e: full[e]["f1"])
    gaps = {"f1": 0.0, "rouge_l": 0.0}
    changed = 0
    for _ in range(RESAMPLES):
        sample = [rng.randrange(n) for _ in range(n)]
        chosen = max(scores, key=lambda e: sum(scores[e]["f1"][i] for i in sample))
        changed += chosen != best
        for key in gaps:
            gaps[key] += sum(scores[chosen][key][i] for i in sample) / n - full[chosen][key]
    return {"candidates": len(scores), "best": best, "best_f1": round(full[best]["f1"], 2),
            "best_rouge_l": round(full[best]["rouge_l"], 2),
            "optimism_f1": round(gaps["f1"] / RESAMPLES, 2), "optimism_rouge_l": round(gaps["rouge_l"] / RESAMPLES, 2),
            "resamples_choosing_another": round(changed / RESAMPLES, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--grid", action="store_true", help="the candidates are the decoding grid's settings")
    args = parser.parse_args()
    rng = random.Random(0)
    rows = [{"run": str(run), **optimism(per_example(run, args.data, args.grid), rng)} for run in args.runs]
    mean = {key: round(sum(r[key] for r in rows) / len(rows), 2) for key in ("optimism_f1", "optimism_rouge_l")}
    write_json(args.out, {"candidates": "decoding settings" if args.grid else "epochs", "resamples": RESAMPLES,
                          "runs": rows, "mean": mean})
    print(json.dumps(mean))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
