"""What a training run left in its out dir: the files, the final metrics, the decoding chosen. Used at the
end of the notebook's training cells and by ``codeqa kaggle download``; it never raises, so that a long
run never dies in its final summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from codeqa import runfiles
from codeqa.fileio import human_size


def final_metrics(out_dir: Path) -> dict | str | None:
    """The last line of ``metrics.jsonl`` (parsed when it is JSON), or None."""
    path = Path(out_dir) / runfiles.METRICS
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return None
    if not lines:
        return None
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        return lines[-1]


def summarize_run(out_dir: Path, save_every: int = 0, expected: Sequence[str] | None = None) -> dict:
    """What a run left: the expected files present and missing, the other files, the final metrics. By
    default a run is expected to have left what its epochs so far give (``runfiles.expected_outputs``)."""
    out_dir = Path(out_dir)
    if expected is None:
        metrics = final_metrics(out_dir)
        epochs = metrics.get("epoch", 0) if isinstance(metrics, dict) else 0
        expected = runfiles.expected_outputs(epochs if isinstance(epochs, int) else 0, save_every)
    try:
        files = {p.name: p.stat().st_size for p in sorted(out_dir.iterdir()) if p.is_file()}
    except OSError:
        files = {}
    return {"out_dir": str(out_dir),
            "present": {name: files[name] for name in expected if name in files},
            "missing": [name for name in expected if name not in files],
            "other": {name: size for name, size in files.items() if name not in expected},
            "metrics": final_metrics(out_dir), "decoding": decoding_choice(out_dir)}


def decoding_choice(out_dir: Path) -> dict | None:
    """The decoding (beam size, length penalty, rerank) chosen on validation F1 (decoding.json) with its
    scores, or None."""
    try:
        report = json.loads((Path(out_dir) / runfiles.DECODING).read_text(encoding="utf-8"))
        chosen = {"beam_size": report["chosen"]["beam_size"], "length_penalty": report["chosen"]["length_penalty"],
                  "rerank": report["chosen"].get("rerank", "score")}  # runs before reranking have no rerank
        row = next(r for r in report["grid"] if {k: r.get(k, "score") for k in chosen} == chosen)
        return {**chosen, "f1": float(row["f1"]), "rouge_l": float(row["rouge_l"])}
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None


def format_summary(summary: dict) -> str:
    lines = [f"outputs in {summary['out_dir']}:"]
    lines += [f"  {name:28s} {human_size(size)}" for name, size in summary["present"].items()]
    lines += [f"  {name:28s} {human_size(size)}" for name, size in summary["other"].items()]
    if summary["missing"]:
        lines.append(f"missing: {', '.join(summary['missing'])}")
    metrics = summary["metrics"]
    if metrics is None:
        lines.append("final metrics: none (no metrics.jsonl yet)")
    elif isinstance(metrics, dict):
        lines.append("final metrics (last line of metrics.jsonl):")
        lines += [f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}"
                  for key, value in metrics.items()]
    else:
        lines.append(f"final metrics (last line of metrics.jsonl, not JSON): {metrics}")
    decoding = summary.get("decoding")
    if decoding:
        lines.append(f"decoding chosen on validation F1: beam {decoding['beam_size']}, length penalty "
                     f"{decoding['length_penalty']}, rerank {decoding['rerank']} (F1 {decoding['f1']:.2f}, "
                     f"ROUGE-L {decoding['rouge_l']:.2f}); stored in best_model_*.pt")
    return "\n".join(lines)


def show_summary(out_dir: Path, save_every: int = 0, expected: Sequence[str] | None = None) -> dict:
    """Show training_curves.png (inside a notebook), the final metrics and the files; never raises."""
    summary = summarize_run(out_dir, save_every, expected)
    curves = Path(out_dir) / runfiles.CURVES
    if curves.is_file():
        try:
            from IPython import get_ipython
            from IPython.display import Image, display
        except ImportError:  # not in a notebook: the file list below names it
            get_ipython = None
        try:
            if get_ipython is not None and get_ipython() is not None:
                display(Image(filename=str(curves)))
        except Exception as err:  # noqa: BLE001 - a summary must never crash after hours of training
            print(f"(cannot display {curves}: {err})")
    print(format_summary(summary), flush=True)
    return summary
