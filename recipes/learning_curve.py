#!/usr/bin/env python3
"""How answer quality grows with the number of real training pairs (#22 lever 4), one command:

    python recipes/learning_curve.py RECIPE_DIR OUT_DIR [--sizes 1000,2000,4000,6000] [--config small]

RECIPE_DIR is a finished `recipes/codeqa_dev.sh` work dir: its `real/` data (6,000 train / 1,000 dev) and
its `run/pretrain/best_model_python.pt`, the model pre-trained on generated pairs. For each size N the
pre-trained model is fine-tuned on the first N training pairs, as the recipe does (selection on validation
F1, then the decoding grid), and scored with `codeqa evaluate`; the run with all of them is the recipe's
own (`run/dev_chosen.json`). OUT_DIR gets `learning_curve.json` (the points and the fit), and
`learning_curve.png`. The fit is F1 = a + b ln N by least squares, extrapolated to CodeQA's 56,085
training pairs: an extrapolation, not a measurement.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from codeqa.cli import Parser
from codeqa.fileio import atomic_open, write_json

CODEQA_TRAIN = 56_085  # CodeQA's Python training split


def fine_tune(recipe: Path, out: Path, size: int, config: str) -> dict:
    run = out / f"n{size}"
    pretrained = recipe / "run" / "pretrain" / "best_model_python.pt"
    codeqa = [sys.executable, "-m", "codeqa"]
    if not (run / "dev_chosen.json").is_file():
        subprocess.run([*codeqa, "train", "--config", config, "--data-dir", str(recipe / "real"), "--out-dir", str(run),
                        "--vocab", str(recipe / "run" / "vocab.json"), "--resume", "auto", "--set", "pretrain_epochs=0",
                        "--set", f"init_from={pretrained}", "--set", f"max_train_examples={size}"], check=True)
        subprocess.run([*codeqa, "evaluate", "--checkpoint", str(run / "best_model_python.pt"), "--data-dir",
                        str(recipe / "real"), "--split", "dev", "--out", str(run / "dev_chosen.txt"),
                        "--metrics-out", str(run / "dev_chosen.json")], check=True)
    return json.loads((run / "dev_chosen.json").read_text())["overall"]


def fit_log(sizes: list[int], values: list[float]) -> tuple[float, float]:
    """Least squares of value = a + b ln(size)."""
    xs = [math.log(n) for n in sizes]
    mx, my = sum(xs) / len(xs), sum(values) / len(values)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, values)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def main() -> int:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", type=Path, help="a finished recipes/codeqa_dev.sh work dir")
    parser.add_argument("out", type=Path, help="where the runs, learning_curve.json and .png go")
    parser.add_argument("--sizes", default="1000,2000,4000,6000", help="training pairs per point")
    parser.add_argument("--config", default="small")
    args = parser.parse_args()
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",")})
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: expected comma-separated numbers of training pairs, e.g. 1000,2000")
    if len(sizes) < 2 or sizes[0] < 1:
        # checked before any training: the fit at the end needs two points
        parser.error(f"--sizes {args.sizes!r}: a curve needs at least two positive sizes, e.g. 1000,6000")
    train_file = args.recipe / "real" / "python" / "train" / "train.question"
    pretrained = args.recipe / "run" / "pretrain" / "best_model_python.pt"
    for needed in (train_file, pretrained):
        if not needed.is_file():
            parser.error(f"{needed}: not found; expected a finished recipes/codeqa_dev.sh work dir")
    train_lines = len(train_file.read_text().splitlines())
    points = []
    for size in sizes:
        if size >= train_lines:  # all of them: the recipe's own fine-tuning
            overall = json.loads((args.recipe / "run" / "dev_chosen.json").read_text())["overall"]
        else:
            overall = fine_tune(args.recipe, args.out, size, args.config)
        points.append({"train_pairs": size, **{k: round(overall[k], 2) for k in ("f1", "rouge_l", "exact_match",
                                                                               "bleu")}})
    fits = {}
    for key in ("f1", "rouge_l"):
        a, b = fit_log([p["train_pairs"] for p in points], [p[key] for p in points])
        fits[key] = {"a": round(a, 3), "b": round(b, 3), "at_56085": round(a + b * math.log(CODEQA_TRAIN), 1)}
    report = {"recipe": str(args.recipe), "points": points,
              "fit": "value = a + b ln(train_pairs), least squares over the points", "extrapolation": fits}
    write_json(args.out / "learning_curve.json", report)
    plot(points, fits, args.out / "learning_curve.png")
    print(json.dumps(report, indent=2))
    return 0


def plot(points: list[dict], fits: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = [p["train_pairs"] for p in points]
    grid = [int(math.exp(x / 20 * math.log(CODEQA_TRAIN / sizes[0])) * sizes[0]) for x in range(21)]
    for key, label in (("f1", "token F1"), ("rouge_l", "ROUGE-L")):
        line = ax.plot(sizes, [p[key] for p in points], marker="o", label=f"{label}, measured")[0]
        fit = fits[key]
        ax.plot(grid, [fit["a"] + fit["b"] * math.log(n) for n in grid], linestyle="--", color=line.get_color(),
                label=f"{label}, extrapolated: {fit['at_56085']} at 56,085")
    ax.set_xscale("log")
    ax.set(xlabel="real training pairs (log scale)", ylabel="score on the 1,000 held-out (0-100)",
           title="Fine-tuning the pre-trained small model on more real pairs")
    ax.axvline(CODEQA_TRAIN, color="grey", linewidth=0.8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)


if __name__ == "__main__":
    sys.exit(main())
