import math
import random
import time

import pytest
import sacrebleu

from codeqa.data import read_split
from codeqa.metrics import (
    compute_metrics,
    exact_match,
    format_report,
    metrics_by_question_type,
    normalize_answer,
    official_bleu,
    rouge_l,
    sacrebleu_corpus,
    sentence_bleu,
    token_f1,
)

KEYS = {"f1", "rouge_l", "exact_match", "bleu", "sacrebleu", "count"}


def simple_type(question: str) -> str:
    """A stand-in classifier so these tests do not depend on codeqa.qtypes."""
    first = question.split()[0].lower()
    if first in ("what", "how", "where", "when"):
        return first
    if first in ("does", "is", "do", "can"):
        return "yes-no"
    return "other"


# ---------------------------------------------------------------- official BLEU


def test_wrong_one_token_answer_scores_84():
    # p = ((0+1)/(1+1), 1/1, 1/1, 1/1), ratio 1 -> no brevity penalty: 0.5 ** 0.25
    assert sentence_bleu("foo", "bar") == pytest.approx(100 * 0.5 ** 0.25)
    assert sentence_bleu("foo", "bar") == pytest.approx(84.09, abs=0.01)
    assert compute_metrics(["foo"], ["bar"])["bleu"] == pytest.approx(84.0896, abs=1e-4)


def test_official_bleu_hand_worked_short_prediction():
    # hyp "the sum of x" (4) vs ref "the sum of a and b" (6):
    # matches 3/4, 2/3, 1/2, 0/1 -> smoothed 4/5, 3/4, 2/3, 1/2 (product 1/5); bp = exp(1 - 6/4)
    expected = 100 * (1 / 5) ** 0.25 * math.exp(-0.5)
    assert sentence_bleu("the sum of x", "the sum of a and b") == pytest.approx(expected)
    assert expected == pytest.approx(40.56, abs=0.01)


def test_official_bleu_long_prediction_and_clipping():
    # hyp 5 tokens vs ref "a list": matches 2/5, 1/4, 0/3, 0/2 -> 3/6, 2/5, 1/4, 1/3; ratio 5/2 -> bp 1
    assert sentence_bleu("a list of items here", "a list") == pytest.approx(100 * (1 / 60) ** 0.25)
    # "the" counted once (clipped): 1/3, 0/2, 0/1, 0/0 -> 2/4, 1/3, 1/2, 1/1
    assert sentence_bleu("the the the", "the cat") == pytest.approx(100 * (1 / 12) ** 0.25)
    # a correct but short answer: all precisions 1, bp = exp(1 - 2/1)
    assert sentence_bleu("list", "a list") == pytest.approx(100 * math.exp(-1))


def test_official_bleu_is_case_sensitive_and_averages_sentences():
    assert sentence_bleu("Yes", "Yes") == pytest.approx(100)
    assert sentence_bleu("yes", "Yes") == pytest.approx(84.0896, abs=1e-4)
    assert official_bleu(["Yes", "foo"], ["Yes", "bar"]) == pytest.approx((100 + 100 * 0.5 ** 0.25) / 2)


# ---------------------------------------------------------------- ROUGE-L, EM, F1


def test_rouge_l_hand_worked_lcs_beta_1_2():
    # LCS("a b c d e", "a x c e") = "a c e" = 3; P = 3/5, R = 3/4
    p, r = 3 / 5, 3 / 4
    expected = 100 * (1 + 1.2 ** 2) * p * r / (r + 1.2 ** 2 * p)
    assert rouge_l("a b c d e", "a x c e") == pytest.approx(expected)
    assert expected == pytest.approx(68.03, abs=0.01)
    # beta weights recall: swapping prediction and reference changes the score (P = 3/4, R = 3/5)
    assert rouge_l("a x c e", "a b c d e") == pytest.approx(100 * 2.44 * 0.45 / (0.6 + 1.44 * 0.75))
    assert rouge_l("a b", "c d") == 0.0
    assert rouge_l("yes", "Yes") == 0.0  # case-sensitive, as COCO's


def test_token_f1_counts_repeated_tokens_as_a_multiset():
    # pred {the: 3, cat: 1}, ref {the: 2, cat, sat, on, mat}: overlap 2 + 1 = 3; P = 3/4, R = 3/6
    assert token_f1("the the the cat", "the cat sat on the mat") == pytest.approx(60.0)
    assert token_f1("a b", "c d") == 0.0


def test_em_and_f1_lowercase_and_collapse_whitespace_only():
    assert normalize_answer("  The   Sum\tof A ") == "the sum of a"
    assert exact_match("  The   Sum ", "the sum") == 100.0
    assert exact_match("the sum .", "the sum") == 0.0  # no punctuation removal
    assert exact_match("a list", "list") == 0.0  # no article removal
    assert token_f1("a list", "list") == pytest.approx(100 * 2 * 0.5 * 1 / 1.5)


def test_yes_no_case_sensitive_bleu_against_case_insensitive_em_f1():
    m = compute_metrics(["yes"], ["Yes"])
    assert m["exact_match"] == 100.0 and m["f1"] == 100.0
    assert m["bleu"] == pytest.approx(84.0896, abs=1e-4)
    assert m["rouge_l"] == 0.0
    m = compute_metrics(["No"], ["Yes"])
    assert m["exact_match"] == 0.0 and m["f1"] == 0.0
    assert m["bleu"] == pytest.approx(84.0896, abs=1e-4)


def test_identical_answers_score_100_everywhere():
    answers = ["the sum of a and b", "a list of the keys", "Yes it returns the value"]
    m = compute_metrics(answers, answers)
    for key in ("f1", "rouge_l", "exact_match", "bleu", "sacrebleu"):
        assert m[key] == pytest.approx(100.0), key
    assert m["count"] == 3
    assert compute_metrics(["Yes"], ["Yes"])["bleu"] == pytest.approx(100.0)


# ---------------------------------------------------------------- sacreBLEU


def test_sacrebleu_matches_sacrebleu_directly():
    preds = ["the sum of a and b", "a list of keys", "No", "the json text of the file"]
    refs = ["the sum of a and c", "the list of keys", "Yes", "the json text"]
    direct = sacrebleu.corpus_bleu(preds, [refs], tokenize="none").score
    assert sacrebleu_corpus(preds, refs) == pytest.approx(direct)
    assert compute_metrics(preds, refs)["sacrebleu"] == pytest.approx(direct)
    assert 0 < direct < 100


# ---------------------------------------------------------------- edge cases


def test_empty_inputs_never_raise():
    m = compute_metrics([], [])
    assert set(m) == KEYS and m["count"] == 0
    assert all(m[k] == 0.0 for k in KEYS - {"count"})
    m = compute_metrics(["", "   "], ["the sum", "Yes"])
    assert m["count"] == 2 and all(m[k] == 0.0 for k in KEYS - {"count"})
    assert sentence_bleu("foo", "") == pytest.approx(100 * 0.5 ** 0.25)  # no reference: no brevity penalty
    assert metrics_by_question_type([], [], [], question_type=simple_type) == {}
    assert "0 answers" in format_report(compute_metrics([], []), {})


def test_mismatched_lengths_raise_value_error():
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        compute_metrics(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="questions"):
        metrics_by_question_type(["a"], ["a"], ["What ?", "How ?"], question_type=simple_type)


# ---------------------------------------------------------------- breakdown and report


def test_breakdown_by_question_type_counts_and_values():
    questions = ["What does it return ?", "How is it read ?", "Does it return ?", "What is made ?",
                 "Does it fail ?", "Where is it written ?", "Why ?"]
    refs = ["the sum", "with open", "Yes", "a list", "No", "in path", "because"]
    preds = ["the sum", "open", "yes", "a dict", "Yes", "in path", "no idea"]
    by_type = metrics_by_question_type(preds, refs, questions, question_type=simple_type)
    assert list(by_type) == ["what", "how", "where", "yes-no", "other"]  # canonical order
    assert {name: row["count"] for name, row in by_type.items()} == {
        "what": 2, "how": 1, "where": 1, "yes-no": 2, "other": 1}
    assert by_type["what"]["exact_match"] == pytest.approx(50.0)
    assert by_type["what"]["f1"] == pytest.approx(75.0)  # (100 + 50) / 2
    assert by_type["yes-no"]["exact_match"] == pytest.approx(50.0)  # "yes" = "Yes" after lower-casing
    assert by_type["where"] == compute_metrics(["in path"], ["in path"])
    assert sum(row["count"] for row in by_type.values()) == len(questions)

    report = format_report(compute_metrics(preds, refs), by_type)
    lines = report.splitlines()
    assert "7 answers" in lines[0]
    assert "F1" in lines[1] and "ROUGE-L" in lines[2]  # leads with the metrics to select on
    assert "rewards short answers" in report
    assert any(line.split()[:2] == ["yes-no", "2"] for line in lines)


def test_default_question_type_comes_from_codeqa_qtypes():
    qtypes = pytest.importorskip("codeqa.qtypes")
    questions = ["What does it return ?", "Does it return ?"]
    by_type = metrics_by_question_type(["a", "b"], ["a", "c"], questions)
    explicit = metrics_by_question_type(["a", "b"], ["a", "c"], questions, question_type=qtypes.question_type)
    assert by_type == explicit
    assert sum(row["count"] for row in by_type.values()) == 2


def test_seven_thousand_examples_are_fast():
    rng = random.Random(0)
    words = ["the", "a", "of", "sum", "list", "value", "file", "key", "return", "data", "path", "in"]
    refs = [" ".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(7000)]
    preds = [" ".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(7000)]
    start = time.perf_counter()
    compute_metrics(preds, refs)
    assert time.perf_counter() - start < 5.0  # about 0.3 s on a laptop; the bound only catches blow-ups


# ---------------------------------------------------------------- real data (CODEQA_REAL_DATA)


def test_degenerate_a_of_answer_on_real_dev(real_data_root):
    """GUIDE section 2: answering "a of" to everything scores high-20s official BLEU yet little else."""
    refs = [e.answer for e in read_split(real_data_root, "python", "dev")]
    m = compute_metrics(["a of"] * len(refs), refs)
    assert m["count"] == 7000
    assert m["bleu"] == pytest.approx(27.53, abs=0.3)
    assert m["f1"] == pytest.approx(10.81, abs=0.3)
    assert m["rouge_l"] == pytest.approx(9.69, abs=0.3)
    assert m["exact_match"] == 0.0
    assert m["sacrebleu"] == 0.0  # no 3- or 4-grams in the predictions
