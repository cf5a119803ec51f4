#!/usr/bin/env python3
"""Lever B of session 28's rule (#22): the weights of the 5 epoch checkpoints centred on a fine-tuning run's best
epoch, averaged after training, against that best epoch; both decoded greedily (and, with --beam16, by beam 16 /
length penalty 1.0 / MBR) on the run's validation split.

    python average_study.py DATA_DIR RUN_DIR [RUN_DIR ...] --out study.json [--beam16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from codeqa import checkpoint
from codeqa.fileio import write_json

WIDTH = 2  # epochs each side of the best


def best_epoch(run: Path) -> int:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1])["best_epoch"]


def averaged(run: Path, best: int) -> tuple[Path, list[int]]:
    out = run / "averaged.pt"
    epochs = [e for e in range(best - WIDTH, best + WIDTH + 1) if (run / f"checkpoint_epoch{e}.pt").is_file()]
    if not out.is_file():
        states = [checkpoint.load(run / f"checkpoint_epoch{e}.pt") for e in epochs]
        base = states[epochs.index(best)]
        model = {k: sum(s["model"][k].double() for s in states).div(len(states)).to(v.dtype)
                 if v.is_floating_point() else v for k, v in base["model"].items()}
        keep = {k: base[k] for k in ("config", "vocab", "epoch", "step", "history", "best") if k in base}
        checkpoint.save(out, {**keep, "model": model})
    return out, epochs


def evaluate(ckpt: Path, data: Path, beam: int, tag: str) -> dict:
    metrics = ckpt.parent / f"avgstudy_{ckpt.stem}_{tag}.json"
    if not metrics.is_file():
        extra = ["--length-penalty", "1.0", "--rerank", "mbr"] if beam > 1 else []
        subprocess.run([sys.executable, "-m", "codeqa", "evaluate", "--checkpoint", str(ckpt), "--data-dir", str(data),
                        "--split", "dev", "--beam", str(beam), *extra, "--out", str(metrics.with_suffix(".txt")),
                        "--metrics-out", str(metrics)], check=True, capture_output=True)
    overall = json.loads(metrics.read_text())["overall"]
    return {k: round(overall[k], 2) for k in ("f1", "rouge_l", "exact_match")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--beam16", action="store_true")
    args = parser.parse_args()
    rows = []
    for run in args.runs:
        best = best_epoch(run)
        avg, epochs = averaged(run, best)
        row = {"run": str(run), "best_epoch": best, "averaged_epochs": epochs,
               "best_greedy": evaluate(run / f"checkpoint_epoch{best}.pt", args.data, 1, "greedy"),
               "averaged_greedy": evaluate(avg, args.data, 1, "greedy")}
        if args.beam16:
            row["best_beam16_mbr"] = evaluate(run / f"checkpoint_epoch{best}.pt", args.data, 16, "beam16")
            row["averaged_beam16_mbr"] = evaluate(avg, args.data, 16, "beam16")
        rows.append(row)
        print(json.dumps(row), flush=True)
    write_json(args.out, {"width_each_side": WIDTH, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
