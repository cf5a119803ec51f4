"""The names of the files a training run writes into its out dir, with no heavy import (no torch), so that
the Kaggle side, the summary and the tests name them from one place."""

from __future__ import annotations

LAST = "last.pt"  # everything needed to resume, rewritten every epoch
METRICS = "metrics.jsonl"  # a line per epoch
LOGS = "logs.txt"
CURVES = "training_curves.png"
VOCAB = "vocab.json"
DECODING = "decoding.json"  # the decoding grid scored on validation, and the setting chosen
PRETRAIN_DIR = "pretrain"  # stage 1 of a two-stage run, inside the out dir
PRETRAIN_FINISHED = "finished.json"  # in PRETRAIN_DIR once stage 1 is over
LOCK = ".codeqa.lock"  # held by the run that owns the out dir
EPOCH_PREFIX = "checkpoint_epoch"


def best_model(lang: str) -> str:
    return f"best_model_{lang}.pt"


def epoch_checkpoint(epoch: int) -> str:
    return f"{EPOCH_PREFIX}{epoch}.pt"


def expected_outputs(epochs: int, save_every: int, lang: str = "python") -> list[str]:
    """What a run of ``epochs`` epochs that saves every ``save_every`` leaves besides ``last.pt``. A run
    that stops early (patience, ``max_time``) has fewer numbered checkpoints, which is not a loss."""
    numbered = [epoch_checkpoint(e) for e in range(save_every, epochs + 1, save_every)] if save_every > 0 else []
    return [best_model(lang), *numbered, METRICS, CURVES, LOGS]
