"""Checkpoints: one dict that carries everything needed to resume or to answer on its own.

Saved atomically (a temporary file renamed over the target, so a kill mid-save leaves the previous file
intact) with a checksum of its tensors, and loaded with ``torch.load(..., weights_only=True)``: plain
tensors, numbers, strings, lists and dicts only — no pickled objects — then checked against it.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from codeqa import runfiles
from codeqa.config import MODEL_KEYS, TrainConfig, from_dict
from codeqa.errors import CodeQAError
from codeqa.fileio import atomic_open, human_size
from codeqa.models import CopyModel, build_model
from codeqa.vocab import Vocab

FORMAT = "codeqa-checkpoint"
VERSION = 2  # 2 added the checksum of the tensors
READABLE_VERSIONS = (1, 2)
REQUIRED_KEYS = ("model", "config", "vocab", "epoch")  # what answering needs
RESUME_KEYS = ("optimizer", "scheduler", "rng", "history", "best", "step")  # what resuming needs too

log = logging.getLogger("codeqa")


def tensor_checksum(state: dict[str, Any]) -> str:
    """A hash of every tensor in ``state`` with its place, dtype and shape: a flipped byte changes it."""
    digest = hashlib.sha256()  # hardware-accelerated on most CPUs

    def visit(obj: Any, where: str) -> None:
        if isinstance(obj, torch.Tensor):
            flat = obj.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{where}:{flat.dtype}:{tuple(obj.shape)}".encode())
            digest.update(flat.view(torch.uint8).numpy())
        elif isinstance(obj, dict):
            for key in sorted(obj, key=str):
                visit(obj[key], f"{where}/{key}")
        elif isinstance(obj, (list, tuple)):
            for i, item in enumerate(obj):
                visit(item, f"{where}/{i}")

    visit({k: v for k, v in state.items() if k != "checksum"}, "")
    return digest.hexdigest()


def save(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically, with its format, version and tensor checksum."""
    state = {"format": FORMAT, "version": VERSION, **state}
    state["checksum"] = tensor_checksum(state)
    try:
        with atomic_open(path, "wb") as handle:
            torch.save(state, handle)
    except RuntimeError as err:  # torch's zip writer reports a failed write (a full disk) this way
        free = shutil.disk_usage(Path(path).parent).free
        raise CodeQAError(f"{path}: cannot write the checkpoint ({str(err).splitlines()[0][:120]}; "
                          f"{human_size(free)} free there): the disk is full or the file too large; free some "
                          "space, then rerun with --resume auto (the previous checkpoint is intact)") from None


def load(path: str | Path) -> dict[str, Any]:
    """A checkpoint, checked: its format and version, the keys answering needs, and its tensors against
    the checksum saved with them."""
    path = Path(path)
    if not path.is_file():
        raise CodeQAError(f"{path}: checkpoint not found" + (" (a folder)" if path.is_dir() else ""))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 — a truncated or foreign file: name it, no torch traceback
        raise CodeQAError(f"{path}: not a readable codeqa checkpoint ({type(err).__name__}: "
                          f"{str(err).splitlines()[0][:160] if str(err) else 'no detail'})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CodeQAError(f"{path}: not a codeqa checkpoint")
    if state.get("version") not in READABLE_VERSIONS:
        raise CodeQAError(f"{path}: checkpoint version {state.get('version')!r}, this codeqa reads "
                          f"{', '.join(map(str, READABLE_VERSIONS))}")
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise CodeQAError(f"{path}: a codeqa checkpoint without {', '.join(missing)}: damaged, or not saved by "
                          "`codeqa train`")
    if "checksum" in state and tensor_checksum(state) != state["checksum"]:
        raise CodeQAError(f"{path}: damaged checkpoint: its tensors do not match the checksum saved with them")
    return state


def load_resumable(path: str | Path) -> dict[str, Any]:
    """A checkpoint that training can continue from (``last.pt``, ``checkpoint_epoch<N>.pt``)."""
    state = load(path)
    missing = [key for key in RESUME_KEYS if key not in state]
    if missing:
        raise CodeQAError(f"{path}: cannot resume from it: it has no {', '.join(missing)} (a best_model file "
                          "holds the weights only): resume from last.pt or a checkpoint_epoch<N>.pt")
    return state


def check_compatible(state: dict[str, Any], path: str | Path, config: TrainConfig, vocab: Vocab) -> None:
    """Refuse to resume from a checkpoint of another model shape or vocabulary, saying what differs."""
    saved, defaults = state["config"], TrainConfig()  # a key newer than the checkpoint has its default there
    diffs = [f"{k}: checkpoint {saved.get(k, getattr(defaults, k))!r}, now {getattr(config, k)!r}"
             for k in MODEL_KEYS if saved.get(k, getattr(defaults, k)) != getattr(config, k)]
    if diffs:
        raise CodeQAError(f"{path}: made with another model configuration ({'; '.join(diffs)})")
    saved_vocab = Vocab.from_state(state["vocab"], str(path))
    if saved_vocab != vocab:
        raise CodeQAError(f"{path}: made with another vocabulary ({len(saved_vocab)} tokens, "
                          f"fingerprint {saved_vocab.fingerprint()}; now {len(vocab)} tokens, "
                          f"fingerprint {vocab.fingerprint()}): resume with the checkpoint's vocabulary")


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[CopyModel, Vocab, TrainConfig]:
    """A trained model ready for inference, with its vocabulary and configuration."""
    state = load(path)
    config = from_dict(state["config"], str(path))
    vocab = Vocab.from_state(state["vocab"], str(path))
    model = build_model(config.model_settings(), len(vocab), vocab.pad_id, vocab.sep_id, state.get("model_config"))
    model.load_state_dict(state["model"])
    return model.to(device).eval(), vocab, config


def candidates(out_dir: str | Path) -> list[Path]:
    """The checkpoints to resume from, newest first: last.pt, then checkpoint_epoch<N>.pt by N."""
    out_dir = Path(out_dir)
    numbered = sorted(out_dir.glob(f"{runfiles.EPOCH_PREFIX}*.pt"),
                      key=lambda p: int(p.stem.removeprefix(runfiles.EPOCH_PREFIX) or 0), reverse=True)
    last = out_dir / runfiles.LAST
    return ([last] if last.is_file() else []) + numbered


def newest(out_dir: str | Path) -> Path | None:
    """The newest checkpoint to resume from, or None."""
    found = candidates(out_dir)
    return found[0] if found else None


def newest_readable(out_dir: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that loads and passes its checks, with its state; the ones skipped are named
    in a warning (a kill or a full disk can leave a damaged last.pt beside an intact older one)."""
    for path in candidates(out_dir):
        try:
            return path, load_resumable(path)
        except CodeQAError as err:
            log.warning("skipping %s: %s", path.name, str(err).removeprefix(f"{path}: "))
    return None
