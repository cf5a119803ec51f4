"""Choosing among a beam's hypotheses: the beam's best, or minimum Bayes risk on token F1."""

import math

import pytest

from codeqa.decode import DecodeConfig, predict
from codeqa.metrics import token_f1
from codeqa.rerank import mbr, rank
from tests.test_decode import EXAMPLES, _model


def test_mbr_prefers_the_consensus_over_the_most_likely():
    options = [("x", -0.5), ("a b", -1.0), ("a b c", -1.1)]
    # expected F1 (0-1), weights exp(score - best): "a b" 0.607*1 + 0.549*0.8 = 1.046,
    # "a b c" 0.607*0.8 + 0.549*1 = 1.034, "x" 1.0
    assert mbr(options) == [("a b", -1.0), ("a b c", -1.1), ("x", -0.5)]
    assert rank(options, "score") == options


def test_mbr_gain_is_the_probability_weighted_token_f1():
    options = [("the Path", -0.2), ("a path", -0.9), ("the file name", -1.4)]
    weights = [math.exp(s + 0.2) for _, s in options]
    gains = [sum(w * token_f1(a, b) for (b, _), w in zip(options, weights)) for a, _ in options]
    expected = [options[i] for i in sorted(range(3), key=lambda i: -gains[i])]
    assert mbr(options) == expected


def test_mbr_edge_cases():
    assert mbr([]) == [] and mbr([("yes", -0.1)]) == [("yes", -0.1)]
    assert mbr([("A B", -1.0), ("a  b", -1.0)]) == [("A B", -1.0), ("a  b", -1.0)]  # a tie keeps beam order
    assert mbr([("", -0.1), ("no", -0.2)])[0] == ("", -0.1)  # an empty answer agrees only with itself
    with pytest.raises(ValueError, match="score, mbr"):
        rank([("a", 0.0)], "vote")


def test_predict_with_mbr_reorders_the_same_beam():
    model, vocab = _model()
    decoding = DecodeConfig(beam_size=4, max_len=8)
    by_score = predict(model, EXAMPLES, vocab, decoding, top_k=4)
    by_mbr = predict(model, EXAMPLES, vocab, decoding.replace(rerank="mbr"), top_k=4)
    for s, m in zip(by_score, by_mbr):
        assert sorted(s) == sorted(m) and m == mbr(s)
    first = predict(model, EXAMPLES, vocab, decoding.replace(rerank="mbr"))
    assert [f[0] for f in first] == [m[0] for m in by_mbr]  # top_k 1 still chooses among the whole beam
