"""`codeqa evaluate`: decode a split with a checkpoint, write the predictions, score them."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from codeqa.checkpoint import load_model
from codeqa.data import read_split
from codeqa.decode import predict
from codeqa.fileio import write_json, write_lines
from codeqa.metrics import compute_metrics, format_report, metrics_by_question_type

log = logging.getLogger("codeqa")


def default_device(device: str | None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def evaluate(checkpoint_path: str | Path, data_dir: str | Path, split: str, out: str | Path, *,
             metrics_out: str | Path | None = None, lang: str | None = None, beam_size: int | None = None,
             length_penalty: float | None = None, rerank: str | None = None, batch_size: int | None = None,
             device: str | None = None) -> dict:
    dev = default_device(device)
    model, vocab, config = load_model(checkpoint_path, dev)
    examples = read_split(data_dir, lang or config.lang, split, config.code_field)
    beam = beam_size or config.beam_size
    method = rerank or config.rerank
    penalty = config.length_penalty if length_penalty is None else length_penalty
    outputs = predict(model, examples, vocab, beam_size=beam, max_src_len=config.max_src_len,
                      max_tgt_len=config.max_tgt_len, length_penalty=penalty, rerank=method,
                      batch_size=batch_size or config.decode_batch(dev, beam), device=dev, progress=True)
    predictions = [options[0][0] if options else "" for options in outputs]
    write_lines(out, predictions)
    references = [e.answer for e in examples]
    overall = compute_metrics(predictions, references)
    by_type = metrics_by_question_type(predictions, references, [e.question for e in examples])
    result = {"checkpoint": str(checkpoint_path), "split": split, "beam_size": beam, "length_penalty": penalty,
              "rerank": method, "overall": overall, "by_question_type": by_type}
    if metrics_out:  # saved before anything is printed: a closed stdout must not lose the results
        write_json(metrics_out, result)
    log.info("%d predictions → %s", len(predictions), out)
    print(format_report(overall, by_type))
    return result
