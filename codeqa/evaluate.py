"""`codeqa evaluate`: decode a split with a checkpoint, write the predictions, score them."""

from __future__ import annotations

import logging
from pathlib import Path

from codeqa.checkpoint import load_model
from codeqa.data import read_split
from codeqa.decode import DecodeConfig, predict
from codeqa.fileio import write_json, write_lines
from codeqa.metrics import compute_metrics, format_report, metrics_by_question_type
from codeqa.training.runtime import default_device

log = logging.getLogger("codeqa")


def evaluate(checkpoint_path: str | Path, data_dir: str | Path, split: str, out: str | Path, *,
             metrics_out: str | Path | None = None, lang: str | None = None, beam_size: int | None = None,
             length_penalty: float | None = None, rerank: str | None = None,
             no_repeat_ngram_size: int | None = None, batch_size: int | None = None,
             device: str | None = None) -> dict:
    """Decode with the checkpoint's decoding unless a choice here replaces it (None keeps it)."""
    dev = default_device(device)
    model, vocab, config = load_model(checkpoint_path, dev)
    decoding = DecodeConfig.from_config(config, beam_size=beam_size, length_penalty=length_penalty,
                                        rerank=rerank, no_repeat_ngram_size=no_repeat_ngram_size,
                                        batch_size=batch_size)
    examples = read_split(data_dir, lang or config.lang, split, config.code_field, keep_empty=True)
    outputs = predict(model, examples, vocab, decoding, dev, progress=True)
    predictions = [options[0][0] if options else "" for options in outputs]
    write_lines(out, predictions)  # one line per input line, always
    scored = [i for i, e in enumerate(examples) if e.answer]  # an empty reference has nothing to score against
    if len(scored) < len(examples):
        log.warning("%d example(s) without a reference answer: answered in %s, left out of the scores",
                    len(examples) - len(scored), out)
    references = [examples[i].answer for i in scored]
    kept = [predictions[i] for i in scored]
    overall = compute_metrics(kept, references)
    by_type = metrics_by_question_type(kept, references, [examples[i].question for i in scored])
    result = {"checkpoint": str(checkpoint_path), "split": split, "beam_size": decoding.beam_size,
              "length_penalty": decoding.length_penalty, "rerank": decoding.rerank,
              "no_repeat_ngram_size": decoding.no_repeat_ngram_size, "predictions": len(predictions),
              "overall": overall, "by_question_type": by_type}
    if metrics_out:  # saved before anything is printed: a closed stdout must not lose the results
        write_json(metrics_out, result)
    log.info("%d predictions → %s", len(predictions), out)
    print(format_report(overall, by_type))
    return result
