"""Choosing the decoding settings (beam size, length penalty, rerank) on the validation split, by F1.

Training selects a model; this selects how to decode with it. The grid is scored with F1 (ties broken
by ROUGE-L), never with the official BLEU, which rewards short answers. The chosen settings are written
into the best checkpoint's config, so `evaluate` and `answer` use them by default.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from codeqa import checkpoint, runfiles
from codeqa.config import TrainConfig, parse_list, parse_reranks
from codeqa.data import Example
from codeqa.decode import DecodeConfig, predict
from codeqa.fileio import write_json
from codeqa.metrics import compute_metrics
from codeqa.models import CopyModel
from codeqa.rerank import rank
from codeqa.vocab import Vocab

log = logging.getLogger("codeqa.tuning")

DECODING_KEYS = ("beam_size", "length_penalty", "rerank")  # the config keys a row of the grid sets


def grid(config: TrainConfig) -> list[tuple[int, float, list[str]]]:
    """(beam size, length penalty, reranks) to try; greedy decoding (beam 1) has one answer to choose from
    and no length penalty. Each (beam, penalty) is decoded once and every rerank scored on that beam."""
    beams = parse_list(config.tune_beam_sizes, int, "tune_beam_sizes")
    penalties = parse_list(config.tune_length_penalties, float, "tune_length_penalties")
    reranks = parse_reranks(config.tune_reranks)
    settings: list[tuple[int, float, list[str]]] = []
    for beam in dict.fromkeys(beams):
        for penalty in ([1.0] if beam == 1 else dict.fromkeys(penalties)):
            settings.append((beam, penalty, ["score"] if beam == 1 else reranks))
    return settings


def score_grid(model: CopyModel, examples: list[Example], vocab: Vocab, config: TrainConfig,
               device: torch.device, autocast, deadline: float | None = None, seconds_per_beam: float = 0.0,
               reserve: float = 0.0) -> tuple[list[dict], list[tuple[int, float]]]:
    """Decode ``examples`` with the settings of the grid, cheapest (smallest beam) first; one row of metrics
    per setting and rerank. Before ``deadline`` (``time.monotonic()``), less ``reserve`` seconds: a setting
    is skipped when decoding it is expected to pass that, its cost estimated as ``seconds_per_beam`` times
    its beam size (refined by each decode measured here). Returns the rows and the skipped settings."""
    references = [e.answer for e in examples]
    base = DecodeConfig.from_config(config, rerank="score")
    rows, skipped = [], []
    for beam, penalty, reranks in sorted(grid(config), key=lambda setting: setting[0]):
        if deadline is not None and time.monotonic() + seconds_per_beam * beam + reserve > deadline:
            skipped.append((beam, penalty))
            continue
        started = time.monotonic()
        with autocast():
            outputs = predict(model, examples, vocab, base.replace(beam_size=beam, length_penalty=penalty), device,
                              top_k=beam)
        seconds_per_beam = max(seconds_per_beam, (time.monotonic() - started) / beam)
        for method in reranks:
            predictions = [rank(o, method)[0][0] if o else "" for o in outputs]
            scores = compute_metrics(predictions, references)
            mean_length = sum(len(p.split()) for p in predictions) / max(1, len(predictions))
            rows.append({"beam_size": beam, "length_penalty": penalty, "rerank": method,
                         "mean_answer_tokens": round(mean_length, 2),
                         **{k: v for k, v in scores.items() if k != "count"}})
            log.info("decoding beam %d, length penalty %.2f, rerank %s: F1 %.2f, ROUGE-L %.2f, EM %.2f, "
                     "BLEU %.2f (%.1f tokens an answer)", beam, penalty, method, scores["f1"], scores["rouge_l"],
                     scores["exact_match"], scores["bleu"], mean_length)
    if skipped:
        log.warning("max_time leaves no time to decode %d of the %d decoding settings; skipped: %s",
                    len(skipped), len(skipped) + len({(r["beam_size"], r["length_penalty"]) for r in rows}),
                    ", ".join(f"beam {b} length penalty {p:g}" for b, p in skipped))
    return rows, skipped


def best_row(rows: list[dict]) -> dict:
    return max(rows, key=lambda r: (r["f1"], r["rouge_l"]))


def tune_best_checkpoint(best_path: Path, trainer, deadline: float | None = None) -> dict:
    """Score the grid with the best model's weights (loaded into ``trainer.model``), save ``decoding.json``
    beside it and store the winner in the checkpoint's config (an atomic rewrite), all before ``deadline``.
    The first decoding's cost is estimated from the trainer's last validation decode."""
    config, runtime = trainer.config, trainer.runtime
    state = checkpoint.load(best_path)
    trainer.model.load_state_dict(state["model"])
    measured = [row for row in trainer.history if row.get("decode_seconds")]
    per_beam = measured[-1]["decode_seconds"] / trainer.decoding.beam_size if measured else 0.0
    reserve = max((row.get("save_seconds", 0.0) for row in trainer.history), default=0.0)
    rows, skipped = score_grid(trainer.model, trainer.valid_examples, trainer.vocab, config, runtime.device,
                               runtime.autocast, deadline, per_beam, reserve)
    split = config.valid_split
    if not rows:
        kept = trainer.decoding
        log.warning("no decoding setting was scored: %s keeps beam %d, length penalty %.2f, rerank %s",
                    best_path.name, kept.beam_size, kept.length_penalty, kept.rerank)
        return {"chosen": None, "grid": [], "skipped": skipped}
    chosen = best_row(rows)
    result = {"checkpoint": best_path.name, "epoch": state["epoch"], "split": split,
              "examples": len(trainer.valid_examples), "selected_by": "f1 (ties: rouge_l)",
              "chosen": {k: chosen[k] for k in DECODING_KEYS}, "grid": rows,
              "skipped": [{"beam_size": b, "length_penalty": p} for b, p in skipped]}
    state["config"] = {**state["config"], **{k: chosen[k] for k in DECODING_KEYS}}
    checkpoint.save(best_path, {k: v for k, v in state.items() if k not in ("format", "version", "checksum")})
    write_json(best_path.parent / runfiles.DECODING, result)
    log.info("decoding chosen on %s F1: beam %d, length penalty %.2f, rerank %s (F1 %.2f, ROUGE-L %.2f) → %s",
             split, chosen["beam_size"], chosen["length_penalty"], chosen["rerank"], chosen["f1"], chosen["rouge_l"],
             best_path.name)
    return result
