"""What a run writes besides checkpoints: ``metrics.jsonl``, ``training_curves.png`` and ``logs.txt``."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from codeqa import runfiles
from codeqa.fileio import atomic_open, write_text

log = logging.getLogger("codeqa.train")

CURVE_METRICS = (("val_f1", "F1"), ("val_rouge_l", "ROUGE-L"), ("val_exact_match", "exact match"),
                 ("val_bleu", "official BLEU (rewards short answers)"))


def write_history(out_dir: Path, history: list[dict]) -> None:
    text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in history)
    write_text(Path(out_dir) / runfiles.METRICS, text)


def plot_curves(out_dir: Path, history: list[dict]) -> None:
    """Loss and validation-metric curves, headless; a plotting problem is logged, never fatal."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        epochs = [row["epoch"] for row in history]
        fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 4))
        ax_loss.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train")
        ax_loss.plot(epochs, [row["val_loss"] for row in history], marker="o", label="validation")
        ax_loss.set(xlabel="epoch", ylabel="loss per answer token", title="Loss")
        ax_loss.legend()
        for key, label in CURVE_METRICS:
            points = [(row["epoch"], row[key]) for row in history if row.get(key) is not None]
            if points:
                ax_metric.plot(*zip(*points), marker="o", label=label)
        ax_metric.set(xlabel="epoch", ylabel="score (0-100)", title="Validation answers")
        if ax_metric.lines:
            ax_metric.legend()
        fig.tight_layout()
        with atomic_open(Path(out_dir) / runfiles.CURVES, "wb") as handle:
            fig.savefig(handle, format="png", dpi=100)
        plt.close(fig)
    except Exception as err:  # noqa: BLE001 — curves are a convenience; training results matter more
        log.warning("could not draw %s: %s", runfiles.CURVES, err)


def setup_logging(out_dir: Path, main: bool) -> None:
    """The ``codeqa`` logger writes to ``<out>/logs.txt`` (main process only) and to stdout when nothing
    else shows it; handlers of an earlier run in the same process are replaced."""
    logger = logging.getLogger("codeqa")
    logger.setLevel(logging.INFO if main else logging.WARNING)
    for handler in list(logger.handlers):
        if getattr(handler, "_codeqa_run", False):
            logger.removeHandler(handler)
            handler.close()
    if not main:
        return
    file_handler = logging.FileHandler(Path(out_dir) / runfiles.LOGS, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    file_handler._codeqa_run = True  # type: ignore[attr-defined]
    logger.addHandler(file_handler)
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               for h in logging.getLogger().handlers + logger.handlers):
        stream = logging.StreamHandler(sys.stdout)
        stream.setFormatter(logging.Formatter("%(message)s"))
        stream._codeqa_run = True  # type: ignore[attr-defined]
        logger.addHandler(stream)


def record_in_log(message: str) -> None:
    """Write ``message`` to the run's logs.txt only: the command line shows the error itself."""
    record = logging.LogRecord("codeqa", logging.ERROR, __file__, 0, message, None, None)
    for handler in logging.getLogger("codeqa").handlers:
        if getattr(handler, "_codeqa_run", False) and isinstance(handler, logging.FileHandler):
            handler.handle(record)
