"""Frequency calibration in decoding (#22, docs/results.md "What did not help"), one model per call:

    python results/frequency_calibration_study.py CHECKPOINT DATA_DIR OUT.json

The model answers its own training questions greedily; every in-vocabulary word w gets the bias
b(w) = min(0, ln((ref_w + 5) / (pred_w + 5))), from its counts in the training references and in those answers, and
the validation split is decoded with lambda * b added to each step's log-probabilities (lambda 0, 1 and 0.5; a
two-sided bias, without the min, greedily). Nothing is estimated on validation examples.
"""

import collections
import json
import math
import sys
from pathlib import Path

import torch

from codeqa.checkpoint import load_model
from codeqa.data import read_split
from codeqa.decode import DecodeConfig, predict
from codeqa.metrics import compute_metrics

SETTINGS = [("none", 0.0, 1), ("none", 0.0, 16), ("one-sided", 1.0, 1), ("one-sided", 1.0, 16),
            ("one-sided", 0.5, 1), ("one-sided", 0.5, 16), ("two-sided", 1.0, 1)]


def main(checkpoint: str, data_dir: str, out: Path) -> None:
    model, vocab, config = load_model(checkpoint, "cpu")
    train = read_split(data_dir, config.lang, "train", config.code_field)
    dev = read_split(data_dir, config.lang, "dev", config.code_field)
    base = DecodeConfig.from_config(config, batch_size=64)
    original = model.final_log_probs
    bias = torch.zeros(len(vocab))

    def biased(hidden, attn, p_gen, src_ext, n_oov):  # the bias covers the vocabulary, not the copied OOV slots
        logp = original(hidden, attn, p_gen, src_ext, n_oov)
        logp[:, :bias.numel()] += bias
        return logp

    model.final_log_probs = biased

    def answers(examples, decoding):
        return [options[0][0] if options else "" for options in predict(model, examples, vocab, decoding, "cpu")]

    train_answers = answers(train, base.replace(beam_size=1))
    predicted = collections.Counter(w for a in train_answers for w in a.split())
    referenced = collections.Counter(w for e in train for w in e.answer.split())
    ratio = torch.zeros(len(vocab))
    for word in set(predicted) | set(referenced):
        index = vocab.encode([word])[0]
        if index != vocab.unk_id:
            ratio[index] = math.log((referenced[word] + 5) / (predicted[word] + 5))
    one_sided = ratio.clamp(max=0)
    penalised = sorted((float(one_sided[i]), w) for w in predicted if (i := vocab.encode([w])[0]) != vocab.unk_id)
    report = {"checkpoint": checkpoint,
              "train_greedy_f1": round(compute_metrics(train_answers, [e.answer for e in train])["f1"], 2),
              "most_penalised": [[w, round(b, 2)] for b, w in penalised[:15]], "rows": []}
    references = [e.answer for e in dev]
    for kind, weight, beam in SETTINGS:
        bias.copy_((one_sided if kind == "one-sided" else ratio) * weight)
        decoding = base.replace(beam_size=beam, length_penalty=1.0, rerank="score" if beam == 1 else "mbr")
        predictions = answers(dev, decoding)
        scores = compute_metrics(predictions, references)
        report["rows"].append({"bias": kind, "lambda": weight, "beam": beam, "f1": round(scores["f1"], 2),
                               "rouge_l": round(scores["rouge_l"], 2), "exact_match": round(scores["exact_match"], 2),
                               "mean_answer_tokens": round(sum(len(p.split()) for p in predictions) / len(dev), 2)})
        out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
