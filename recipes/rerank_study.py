"""How much a learned reranker could add to MBR: beam-K hypotheses of a trained model, scored three ways.

    python recipes/rerank_study.py CHECKPOINT DATA_DIR [--beam 16] [--threads 2]

Decodes the train and dev splits of DATA_DIR with the checkpoint's model (beam K, length penalty 1.0, all
K hypotheses kept) and prints, on dev: the beam's best, MBR (`codeqa.rerank.mbr`), the oracle (the
hypothesis of highest F1 against the reference: what a perfect reranker would reach) and least-squares
rerankers fitted on the train split's beams to predict each hypothesis's F1 from features of the beam
(its score, length, MBR agreement, copy share, ...). The dev split never fits anything.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from codeqa.checkpoint import load_model
from codeqa.data import read_split
from codeqa.decode import predict
from codeqa.metrics import bag_f1, compute_metrics, token_bag, token_f1
from codeqa.rerank import mbr

FEATURES = ("bias", "score", "log-probability", "length", "log length", "MBR agreement",
            "uniform agreement", "beam rank", "share copied", "share from question", "length x agreement",
            "length >= 6")
FEATURE_SETS = (("bias", "MBR agreement"), ("bias", "score", "MBR agreement"),
                ("bias", "score", "length", "MBR agreement"), FEATURES)


def beam_features(question: str, code: str, options: list[tuple[str, float]]) -> list[list[float]]:
    source = set(question.lower().split()) | set(code.lower().split())
    asked = set(question.lower().split())
    top = max(score for _, score in options)
    weights = [math.exp(score - top) for _, score in options]
    bags = [token_bag(text) for text, _ in options]
    rows = []
    for i, (text, score) in enumerate(options):
        words = text.lower().split()
        n = max(len(words), 1)
        agree = [1.0 if i == j else bag_f1(bags[i], bags[j]) / 100 for j in range(len(options))]
        weighted = sum(w * a for w, a in zip(weights, agree)) / sum(weights)
        rows.append([1.0, score, score * n, n, math.log(n), weighted, sum(agree) / len(agree), i / len(options),
                     sum(w in source for w in words) / n, sum(w in asked for w in words) / n, n * weighted,
                     float(n >= 6)])
    return rows


def decode(model, vocab, config, data_dir: str, split: str, beam: int):
    examples = read_split(data_dir, config.lang, split, config.code_field)
    beams = predict(model, examples, vocab, beam_size=beam, length_penalty=1.0, top_k=beam,
                    max_src_len=config.max_src_len, max_tgt_len=config.max_tgt_len, progress=True)
    return examples, beams


def table(examples, beams):
    """Feature rows, each hypothesis's F1 and the index of its example, over every non-empty beam."""
    x, y, owner = [], [], []
    for k, (ex, options) in enumerate(zip(examples, beams)):
        for row, (text, _) in zip(beam_features(ex.question, ex.code, options) if options else [], options):
            x.append(row)
            y.append(token_f1(text, ex.answer))
            owner.append(k)
    return np.array(x), np.array(y), np.array(owner)


def pick(values: np.ndarray, owner: np.ndarray, beams) -> list[str]:
    """Per example, the hypothesis of the highest value (the first on ties)."""
    chosen = {}
    start = {}
    for row, (value, k) in enumerate(zip(values, owner)):
        start.setdefault(k, row)
        if k not in chosen or value > values[chosen[k]]:
            chosen[k] = row
    return [options[chosen[k] - start[k]][0] if k in chosen else "" for k, options in enumerate(beams)]


def report(name: str, predictions: list[str], references: list[str]) -> None:
    scores = compute_metrics(predictions, references)
    words = sum(len(p.split()) for p in predictions) / max(len(predictions), 1)
    print(f"{name:58s} F1 {scores['f1']:5.2f}  ROUGE-L {scores['rouge_l']:5.2f}  EM {scores['exact_match']:4.1f}"
          f"  BLEU {scores['bleu']:5.2f}  ({words:.2f} words an answer)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data_dir")
    parser.add_argument("--beam", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, vocab, config = load_model(args.checkpoint, "cuda" if torch.cuda.is_available() else "cpu")
    train_examples, train_beams = decode(model, vocab, config, args.data_dir, config.train_split, args.beam)
    dev_examples, dev_beams = decode(model, vocab, config, args.data_dir, config.valid_split, args.beam)
    references = [ex.answer for ex in dev_examples]
    x_train, y_train, _ = table(train_examples, train_beams)
    x_dev, y_dev, owner = table(dev_examples, dev_beams)
    report(f"beam {args.beam}, the beam's best", [o[0][0] if o else "" for o in dev_beams], references)
    report(f"beam {args.beam}, MBR", [mbr(o)[0][0] if o else "" for o in dev_beams], references)
    report(f"beam {args.beam}, oracle (best F1 against the reference)", pick(y_dev, owner, dev_beams), references)
    for names in FEATURE_SETS:
        cols = [FEATURES.index(name) for name in names]
        weights, *_ = np.linalg.lstsq(x_train[:, cols], y_train, rcond=None)
        label = "all features" if names == FEATURES else " + ".join(names[1:])
        report(f"least squares on train beams: {label}", pick(x_dev[:, cols] @ weights, owner, dev_beams),
               references)


if __name__ == "__main__":
    main()
