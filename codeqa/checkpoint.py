"""Checkpoints: one dict that carries everything needed to resume or to answer on its own.

Saved atomically (a temporary file renamed over the target, so a kill mid-save leaves the previous file
intact) and loaded with ``torch.load(..., weights_only=True)``: plain tensors, numbers, strings, lists and
dicts only — no pickled objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from codeqa import runfiles
from codeqa.config import MODEL_KEYS, TrainConfig, from_dict
from codeqa.errors import CodeQAError
from codeqa.fileio import atomic_open
from codeqa.models import CopyModel, build_model
from codeqa.vocab import Vocab

FORMAT = "codeqa-checkpoint"
VERSION = 1


def save(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_open(path, "wb") as handle:
        torch.save({"format": FORMAT, "version": VERSION, **state}, handle)


def load(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CodeQAError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 — a truncated or foreign file: name it, no torch traceback
        raise CodeQAError(f"{path}: not a readable codeqa checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CodeQAError(f"{path}: not a codeqa checkpoint")
    if state.get("version") != VERSION:
        raise CodeQAError(f"{path}: checkpoint version {state.get('version')!r}, this codeqa reads {VERSION}")
    return state


def check_compatible(state: dict[str, Any], path: str | Path, config: TrainConfig, vocab: Vocab) -> None:
    """Refuse to resume from a checkpoint of another model shape or vocabulary, saying what differs."""
    saved = state["config"]
    diffs = [f"{k}: checkpoint {saved.get(k)!r}, now {getattr(config, k)!r}"
             for k in MODEL_KEYS if saved.get(k) != getattr(config, k)]
    if diffs:
        raise CodeQAError(f"{path}: made with another model configuration ({'; '.join(diffs)})")
    saved_vocab = Vocab(state["vocab"])
    if saved_vocab != vocab:
        raise CodeQAError(f"{path}: made with another vocabulary ({len(saved_vocab)} tokens, "
                          f"fingerprint {saved_vocab.fingerprint()}; now {len(vocab)} tokens, "
                          f"fingerprint {vocab.fingerprint()}): resume with the checkpoint's vocabulary")


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[CopyModel, Vocab, TrainConfig]:
    """A trained model ready for inference, with its vocabulary and configuration."""
    state = load(path)
    config = from_dict(state["config"], str(path))
    vocab = Vocab(state["vocab"])
    model = build_model(config.model_settings(), len(vocab), vocab.pad_id, vocab.sep_id)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), vocab, config


def newest(out_dir: str | Path) -> Path | None:
    """The checkpoint to resume from: last.pt, else the highest checkpoint_epoch<N>.pt."""
    out_dir = Path(out_dir)
    if (out_dir / runfiles.LAST).is_file():
        return out_dir / runfiles.LAST
    numbered = sorted(out_dir.glob(f"{runfiles.EPOCH_PREFIX}*.pt"),
                      key=lambda p: int(p.stem.removeprefix(runfiles.EPOCH_PREFIX) or 0))
    return numbered[-1] if numbered else None
