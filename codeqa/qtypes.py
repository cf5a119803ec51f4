"""The type of a CodeQA question, from its leading words ("What ...", "How ...", "Does ...", ...).

CodeQA's questions were made from docstrings by syntactic rules, so the leading words name the type
reliably. Used to report per-type counts of generated data and per-type scores of models.
"""

from __future__ import annotations

QUESTION_TYPES = ("what", "how", "where", "when", "for what purpose", "yes-no", "in which direction",
                  "why", "till when", "by how much", "other")

# Multi-word openings first: "For what purpose" must not be read as a "what" question.
_PHRASES = (
    ("for what purpose", "for what purpose"),
    ("in which direction", "in which direction"),
    ("by how much", "by how much"),
    ("till when", "till when"),
    ("until when", "till when"),
)
_FIRST_WORD = {"what": "what", "which": "what", "how": "how", "where": "where", "when": "when", "why": "why"}
# An auxiliary or modal first: the question inverts a statement ("Does the code ...", "Ca ...": CodeQA's
# tokenizer splits "can't" into "ca n't", "won't" into "wo n't").
_AUXILIARIES = frozenset({
    "do", "does", "did", "is", "are", "was", "were", "am", "be", "been", "has", "have", "had", "can", "ca",
    "could", "will", "wo", "would", "shall", "should", "must", "may", "might", "need", "dare",
})


def question_type(question: str) -> str:
    """One of :data:`QUESTION_TYPES` for a question such as ``"How does the code open a file ?"``."""
    words = question.lower().split()
    text = " ".join(words)
    for phrase, qtype in _PHRASES:
        if text == phrase or text.startswith(phrase + " "):
            return qtype
    if not words:
        return "other"
    first = words[0]
    if first in _FIRST_WORD:
        return _FIRST_WORD[first]
    if first in _AUXILIARIES:
        return "yes-no"
    return "other"
