"""Choosing the answer among a beam's hypotheses.

``score`` keeps the beam's order: the hypothesis with the highest length-normalised log-probability.

``mbr`` is minimum-Bayes-risk decoding for token F1, the metric answers are judged on: each hypothesis
is scored by its expected F1 against the others, weighted by their probabilities (a softmax of the beam
scores), and the one that agrees most with the rest comes first. The beam's single best is often a
short, confident guess; the consensus answer shares more words with the reference
(docs/results.md).
"""

from __future__ import annotations

import math

from codeqa.metrics import bag_f1, token_bag

RERANKS = ("score", "mbr")

Option = tuple[str, float]  # (answer, length-normalised log-probability)


def mbr(options: list[Option]) -> list[Option]:
    """``options`` ordered by expected token F1 against each other (best first); ties keep beam order."""
    if len(options) < 2:
        return list(options)
    top = max(score for _, score in options)
    weights = [math.exp(score - top) for _, score in options]
    bags = [token_bag(text) for text, _ in options]
    gains = list(weights)  # an answer's F1 with itself is 1
    for i in range(len(options)):
        for j in range(i + 1, len(options)):  # F1 is symmetric: each pair once
            f1 = bag_f1(bags[i], bags[j]) / 100.0
            gains[i] += weights[j] * f1
            gains[j] += weights[i] * f1
    order = sorted(range(len(options)), key=lambda i: -gains[i])  # stable: beam order breaks ties
    return [options[i] for i in order]


def rank(options: list[Option], method: str) -> list[Option]:
    if method == "score":
        return list(options)
    if method == "mbr":
        return mbr(options)
    raise ValueError(f"unknown rerank method {method!r}; expected one of {', '.join(RERANKS)}")
