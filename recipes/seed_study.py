#!/usr/bin/env python3
"""A fine-tuning lever judged over several seeds from one pre-trained model (#22), one command:

    python recipes/seed_study.py RECIPE_DIR OUT_DIR [--seeds 1234,1,2] [--set key=value ...] [--config small]

RECIPE_DIR is a finished `recipes/codeqa_dev.sh` work dir: its `real/` data and its
`run/pretrain/best_model_python.pt`. Each seed fine-tunes that pre-trained model as the recipe does, with the
`--set` overrides (the lever; none: the recipe as it ships), into OUT_DIR/seed<N>/, keeping every epoch's
checkpoint. A whole CPU run of the recipe moves by more than a point of F1, most of it in pre-training; one
pre-trained model fine-tuned with several seeds isolates what a fine-tuning or decoding lever does.

Each run is scored by a short decoding grid, greedy and beam 16 / length penalty 1.0 / MBR, which the full grid's
choice rarely beats by much under the no-repeat ban (docs/results.md); "chosen" is the better F1 of the two.
Without `--set`, the seed the config trains with is the recipe's own run (its `run/decoding.json` holds both rows).
OUT_DIR/seed_study.json gets the rows and the mean, min and max over the seeds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from codeqa.cli import Parser
from codeqa.config import load_config
from codeqa.fileio import write_json

ROWS = {"greedy": (1, 1.0, "score"), "beam16_mbr": (16, 1.0, "mbr")}
GRID = ["tune_beam_sizes=1,16", "tune_length_penalties=1.0", "tune_reranks=mbr"]
KEYS = ("f1", "rouge_l", "exact_match", "bleu", "mean_answer_tokens")


def fine_tune(recipe: Path, run: Path, seed: int, config: str, overrides: list[str]) -> Path:
    """Fine-tune the recipe's pre-trained model with ``seed``; the path of the run's decoding.json."""
    decoding = run / "decoding.json"
    if not decoding.is_file():
        pretrained = recipe / "run" / "pretrain" / "best_model_python.pt"
        sets = ["pretrain_epochs=0", f"init_from={pretrained}", f"seed={seed}", "save_every=1", *GRID, *overrides]
        subprocess.run([sys.executable, "-m", "codeqa", "train", "--config", config, "--data-dir",
                        str(recipe / "real"), "--out-dir", str(run), "--vocab", str(recipe / "run" / "vocab.json"),
                        "--resume", "auto", *[arg for kv in sets for arg in ("--set", kv)]], check=True)
    return decoding


def scores(decoding: Path) -> dict:
    """The greedy and beam-16 MBR rows of a decoding grid, and the better of the two by F1 (ties: ROUGE-L)."""
    grid = json.loads(decoding.read_text())
    found = {}
    for name, (beam, penalty, rerank) in ROWS.items():
        rows = [r for r in grid["grid"]
                if (r["beam_size"], r["length_penalty"], r["rerank"]) == (beam, penalty, rerank)]
        if not rows:
            raise SystemExit(f"{decoding}: no row for beam {beam}, length penalty {penalty}, rerank {rerank}")
        found[name] = {k: round(rows[0][k], 2) for k in KEYS}
    found["chosen"] = max(found.values(), key=lambda r: (r["f1"], r["rouge_l"]))
    return {"epoch": grid["epoch"], **found}


def summary(runs: dict[int, dict]) -> dict:
    out = {}
    for name in (*ROWS, "chosen"):
        out[name] = {}
        for key in ("f1", "rouge_l", "exact_match"):
            values = [r[name][key] for r in runs.values()]
            out[name][key] = {"mean": round(sum(values) / len(values), 2), "min": min(values), "max": max(values)}
    return out


def main() -> int:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", type=Path, help="a finished recipes/codeqa_dev.sh work dir")
    parser.add_argument("out", type=Path, help="where the runs and seed_study.json go")
    parser.add_argument("--seeds", default="1234,1,2", help="comma-separated fine-tuning seeds")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for fine-tuning: the lever (repeatable)")
    parser.add_argument("--config", default="small")
    args = parser.parse_args()
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r}: expected comma-separated integers, e.g. 1234,1,2")
    for needed in (args.recipe / "real" / "python" / "train" / "train.question",
                   args.recipe / "run" / "pretrain" / "best_model_python.pt", args.recipe / "run" / "vocab.json"):
        if not needed.is_file():
            parser.error(f"{needed}: not found; expected a finished recipes/codeqa_dev.sh work dir")
    own_seed = load_config(args.config).seed
    runs = {}
    for seed in seeds:
        if not args.overrides and seed == own_seed:
            runs[seed] = {"run": str(args.recipe / "run"), **scores(args.recipe / "run" / "decoding.json")}
            continue
        run = args.out / f"seed{seed}"
        runs[seed] = {"run": str(run), **scores(fine_tune(args.recipe, run, seed, args.config, args.overrides))}
    report = {"recipe": str(args.recipe), "config": args.config, "overrides": args.overrides,
              "decoding": {name: dict(zip(("beam_size", "length_penalty", "rerank"), row))
                           for name, row in ROWS.items()},
              "seeds": runs, "over_seeds": summary(runs)}
    write_json(args.out / "seed_study.json", report)
    print(json.dumps(report["over_seeds"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
