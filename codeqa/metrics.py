"""Answer-quality metrics for CodeQA, all on a 0-100 scale, plus a breakdown by question type.

* ``bleu`` -- CodeQA's *official* BLEU-4: sentence-level smoothed BLEU averaged over answers
  (NeuralCodeSum's ``google_bleu``), whitespace tokens, case-sensitive. Papers quote it, but it rewards
  short answers (a wrong one-token answer to a one-token reference scores 84.1), so do not select
  models on it.
* ``sacrebleu`` -- standard corpus BLEU from sacreBLEU, on the same whitespace tokens.
* ``rouge_l`` -- ROUGE-L F-measure as in the COCO-caption toolkit (LCS-based, beta 1.2), per answer then
  averaged; case-sensitive whitespace tokens.
* ``exact_match`` and ``f1`` -- SQuAD-style exact match and multiset token F1, after CodeQA's
  normalisation: lower-case and collapse whitespace, nothing else (no punctuation or article removal).

Judge and select models on ``f1`` and ``rouge_l``; report ``bleu`` because that is what papers compare.

Every function here accepts empty inputs: an empty prediction scores 0, an empty list gives zeros, so a
long training run never dies in its final summary.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

from codeqa.qtypes import question_type as default_question_type

MAX_ORDER = 4
ROUGE_BETA = 1.2
METRIC_KEYS = ("f1", "rouge_l", "exact_match", "bleu", "sacrebleu")
# Display order for the breakdown; types codeqa.qtypes may return beyond these are listed after them.
QUESTION_TYPE_ORDER = ("what", "how", "where", "when", "for what purpose", "yes-no", "other")
SACREBLEU_TOKENIZE = "none"
OFFICIAL_BLEU_CAVEAT = ("official BLEU rewards short answers (a wrong one-word answer to a one-word "
                        "reference scores 84): judge models on F1 and ROUGE-L")

QuestionTyper = Callable[[str], str]


# --------------------------------------------------------------------------------------------------
# Official CodeQA BLEU (NeuralCodeSum google_bleu)
# --------------------------------------------------------------------------------------------------

def _ngram_counts(tokens: Sequence[str], max_order: int = MAX_ORDER) -> Counter:
    counts: Counter = Counter()
    for order in range(1, max_order + 1):
        for start in range(len(tokens) - order + 1):
            counts[tuple(tokens[start:start + order])] += 1
    return counts


def sentence_bleu(prediction: str, reference: str, max_order: int = MAX_ORDER) -> float:
    """CodeQA's official per-answer BLEU-4 (0-100): ``compute_bleu([ref], [hyp], smooth=True)``.

    This reproduces the evaluation that CodeQA took from NeuralCodeSum
    (``c2nl/eval/bleu/google_bleu.py``, itself the TensorFlow NMT ``compute_bleu`` from
    ``tensorflow/nmt/scripts/bleu.py``; its docstring cites Lin & Och 2004, "ORANGE"), called with
    ``smooth=True`` on one answer at a time:

    * tokens are ``str.split()`` (whitespace), compared case-sensitively;
    * ``matches[n]`` is the clipped count of predicted n-grams found in the reference,
      ``possible[n] = max(0, len(prediction) - n + 1)``;
    * add-one smoothing on *every* order: ``p[n] = (matches[n] + 1) / (possible[n] + 1)``, even for
      orders the prediction is too short to have (there ``p[n] = 1/1 = 1``);
    * ``geo_mean = exp(sum(log p[n]) / 4)``;
    * ``ratio = len(prediction) / len(reference)``; brevity penalty ``exp(1 - 1/ratio)`` when
      ``ratio <= 1`` (equal to 1 at ``ratio == 1``), else 1.

    Hence the GUIDE's "84": a wrong one-token answer to a one-token reference has
    ``p = (1/2, 1, 1, 1)`` and ratio 1, so BLEU = ``0.5 ** 0.25`` = 0.8409. Note this is *not* NLTK's
    ``sentence_bleu`` with a smoothing function (NeuralCodeSum also ships an NLTK-based
    ``nltk_corpus_bleu``, but its evaluation reports this one): NLTK smoothing only touches orders
    with zero matches and gives short sentences far lower scores.

    Edge cases the published code does not survive (it divides by zero): an empty prediction scores
    0 here (NeuralCodeSum's test script would first replace it with the pad word ``<blank>``, which
    scores like any wrong one-token answer); an empty reference with a non-empty prediction gets no
    brevity penalty (ratio is infinite).
    """
    hyp = prediction.split()
    ref = reference.split()
    if not hyp:
        return 0.0
    overlap = _ngram_counts(hyp, max_order) & _ngram_counts(ref, max_order)
    matches = [0] * max_order
    for ngram, count in overlap.items():
        matches[len(ngram) - 1] += count
    log_sum = 0.0
    for order in range(1, max_order + 1):
        possible = max(0, len(hyp) - order + 1)
        log_sum += math.log((matches[order - 1] + 1.0) / (possible + 1.0))
    geo_mean = math.exp(log_sum / max_order)
    if ref and len(hyp) <= len(ref):
        brevity_penalty = math.exp(1.0 - len(ref) / len(hyp))
    else:
        brevity_penalty = 1.0
    return 100.0 * geo_mean * brevity_penalty


def official_bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """CodeQA's reported BLEU: the mean of :func:`sentence_bleu` over answers (NeuralCodeSum's
    ``corpus_bleu`` returns it as ``avg_score``); 0 for no answers."""
    _check_lengths(predictions, references)
    if not predictions:
        return 0.0
    return sum(sentence_bleu(p, r) for p, r in zip(predictions, references)) / len(predictions)


# --------------------------------------------------------------------------------------------------
# sacreBLEU
# --------------------------------------------------------------------------------------------------

def sacrebleu_corpus(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Standard corpus BLEU-4 from sacreBLEU, ``tokenize="none"``; 0 for no answers.

    CodeQA text is already tokenised (``self . cache``, ``max_range``), so the tokens are exactly the
    whitespace tokens every other metric here uses: ``"none"`` splits on whitespace only. sacreBLEU's
    default ``"13a"`` would re-split some punctuation inside tokens and so score slightly different
    units. Case-sensitive, sacreBLEU's default ``exp`` smoothing. Being corpus BLEU-4, it is 0 whenever
    the predictions hold no 4-gram at all (e.g. every answer one to three words long), even when they
    equal the references; on a real split it is the least forgiving of these metrics.
    """
    _check_lengths(predictions, references)
    if not predictions:
        return 0.0
    import sacrebleu  # imported here: it loads a little slowly and only this metric needs it

    result = sacrebleu.corpus_bleu(list(predictions), [list(references)], tokenize=SACREBLEU_TOKENIZE)
    return float(result.score)


# --------------------------------------------------------------------------------------------------
# ROUGE-L (COCO caption)
# --------------------------------------------------------------------------------------------------

def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token_a in a:
        current = [0]
        for j, token_b in enumerate(b, start=1):
            if token_a == token_b:
                current.append(previous[j - 1] + 1)
            else:
                current.append(max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str, beta: float = ROUGE_BETA) -> float:
    """ROUGE-L F-measure (0-100) as COCO-caption's ``Rouge.calc_score`` (pycocoevalcap/rouge/rouge.py).

    ``P = LCS / len(prediction)``, ``R = LCS / len(reference)`` over case-sensitive tokens,
    ``F = (1 + beta^2) P R / (R + beta^2 P)`` with ``beta = 1.2``, 0 when P or R is 0. COCO takes the
    max P and max R over references; CodeQA has one reference, so that is just P and R. Tokens are
    ``str.split()`` (COCO splits on single spaces, the same on CodeQA's single-spaced text). Two empty
    answers score 100 (COCO's ``"".split(" ") == [""]`` makes them equal); one empty answer scores 0.
    """
    hyp = prediction.split()
    ref = reference.split()
    if not hyp or not ref:
        return 100.0 if not hyp and not ref else 0.0
    lcs = _lcs_length(ref, hyp)
    if lcs == 0:
        return 0.0
    precision = lcs / len(hyp)
    recall = lcs / len(ref)
    return 100.0 * (1 + beta ** 2) * precision * recall / (recall + beta ** 2 * precision)


# --------------------------------------------------------------------------------------------------
# Exact match and token F1 (SQuAD-style, CodeQA normalisation)
# --------------------------------------------------------------------------------------------------

def normalize_answer(text: str) -> str:
    """CodeQA's normalisation for EM/F1: lower-case and collapse whitespace; nothing else."""
    return " ".join(text.lower().split())


def exact_match(prediction: str, reference: str) -> float:
    """100 if the normalised answers are equal, else 0."""
    return 100.0 if normalize_answer(prediction) == normalize_answer(reference) else 0.0


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 (0-100) over the multiset of normalised tokens.

    Repeated tokens count as often as they occur in both (``Counter`` intersection). Two empty answers
    score 100 (as in SQuAD and NeuralCodeSum's ``eval_score``); one empty answer scores 0.
    """
    return bag_f1(token_bag(prediction), token_bag(reference))


def token_bag(text: str) -> Counter:
    """The multiset of an answer's normalised tokens, as token F1 compares them."""
    return Counter(normalize_answer(text).split())


def bag_f1(hyp: Counter, ref: Counter) -> float:
    """Token F1 (0-100) of two token bags (`token_bag`): 2 * overlap / (size + size), the harmonic mean of
    precision and recall."""
    hyp_len, ref_len = hyp.total(), ref.total()
    if not hyp_len or not ref_len:
        return 100.0 if hyp_len == ref_len else 0.0
    return 200.0 * (hyp & ref).total() / (hyp_len + ref_len)


# --------------------------------------------------------------------------------------------------
# Everything together
# --------------------------------------------------------------------------------------------------

def _check_lengths(predictions: Sequence[str], references: Sequence[str], questions: Sequence[str] | None = None,
                   ) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references: "
                         "they must be aligned one to one")
    if questions is not None and len(questions) != len(predictions):
        raise ValueError(f"{len(questions)} questions but {len(predictions)} predictions: "
                         "they must be aligned one to one")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def compute_metrics(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """All metrics (0-100) over aligned prediction/reference strings.

    Keys: ``f1``, ``rouge_l``, ``exact_match``, ``bleu`` (official CodeQA BLEU-4), ``sacrebleu`` and
    ``count`` (number of answers). Raises ``ValueError`` when the lengths differ; empty lists give 0s.
    """
    _check_lengths(predictions, references)
    pairs = list(zip(predictions, references))
    return {
        "f1": _mean([token_f1(p, r) for p, r in pairs]),
        "rouge_l": _mean([rouge_l(p, r) for p, r in pairs]),
        "exact_match": _mean([exact_match(p, r) for p, r in pairs]),
        "bleu": official_bleu(predictions, references),
        "sacrebleu": sacrebleu_corpus(predictions, references),
        "count": len(pairs),
    }


def _type_sort_key(item: tuple[str, list[int]]) -> tuple[int, int, str]:
    name, indices = item
    if name in QUESTION_TYPE_ORDER:
        return (QUESTION_TYPE_ORDER.index(name), 0, name)
    return (len(QUESTION_TYPE_ORDER), -len(indices), name)


def metrics_by_question_type(predictions: Sequence[str], references: Sequence[str], questions: Sequence[str],
                             question_type: QuestionTyper | None = None) -> dict[str, dict[str, float]]:
    """:func:`compute_metrics` for each question type, keyed by type (each entry has its ``count``).

    ``question_type`` maps a question to its type; by default ``codeqa.qtypes.question_type``
    (what / how / where / when / for what purpose / yes-no / other). Types come out in that order,
    any others after them by decreasing count; types with no questions are left out.
    """
    _check_lengths(predictions, references, questions)
    typer = question_type or default_question_type
    groups: dict[str, list[int]] = {}
    for index, question in enumerate(questions):
        groups.setdefault(typer(question), []).append(index)
    breakdown: dict[str, dict[str, float]] = {}
    for name, indices in sorted(groups.items(), key=_type_sort_key):
        breakdown[name] = compute_metrics([predictions[i] for i in indices], [references[i] for i in indices])
    return breakdown


_COLUMNS = (("f1", "F1"), ("rouge_l", "ROUGE-L"), ("exact_match", "EM"), ("bleu", "BLEU"),
            ("sacrebleu", "sacreBLEU"))


def format_report(metrics: dict, by_type: dict | None = None) -> str:
    """A plain-text table: F1 and ROUGE-L first, then EM, official BLEU and sacreBLEU, and the
    per-question-type breakdown when given. Missing keys print as ``-``."""

    def cell(row: dict, key: str) -> str:
        value = row.get(key)
        return f"{value:.2f}" if isinstance(value, (int, float)) else "-"

    count = metrics.get("count")
    header = f"CodeQA answer metrics (0-100), {count:,} answers" if isinstance(count, int) else \
        "CodeQA answer metrics (0-100)"
    labels = {"f1": "token F1", "rouge_l": "ROUGE-L (COCO, beta 1.2)", "exact_match": "exact match",
              "bleu": "official BLEU-4 (CodeQA)", "sacrebleu": f"sacreBLEU (tokenize={SACREBLEU_TOKENIZE})"}
    width = max(len(label) for label in labels.values())
    lines = [header]
    lines += [f"  {labels[key]:<{width}}  {cell(metrics, key):>7}" for key in METRIC_KEYS]
    lines.append(f"  note: {OFFICIAL_BLEU_CAVEAT}")
    if by_type:
        name_width = max(len("question type"), *(len(str(name)) for name in by_type))
        total = sum(row.get("count", 0) for row in by_type.values()) or 1
        heading = f"  {'question type':<{name_width}}  {'count':>6}  {'share':>6}"
        heading += "".join(f"  {title:>9}" for _, title in _COLUMNS)
        lines += ["", "By question type:", heading]
        for name, row in by_type.items():
            n = row.get("count", 0)
            line = f"  {name!s:<{name_width}}  {n:>6}  {100.0 * n / total:>5.1f}%"
            line += "".join(f"  {cell(row, key):>9}" for key, _ in _COLUMNS)
            lines.append(line)
    return "\n".join(lines)
