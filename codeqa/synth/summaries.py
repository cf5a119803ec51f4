"""Code → docstring pairs: every documented function also teaches the model the docstring's own words.

CodeQA made its answers from docstrings it then removed, so most answer words occur in neither the
question nor the code. A QA pair exists only for the docstrings the question rules parse; a summary pair
exists for every documented function: the fixed question :data:`SUMMARY_QUESTION` (no CodeQA question
asks it) answered with the docstring's first sentence, in the words and case the QA pairs use.
"""

from __future__ import annotations

from codeqa.synth.sentences import leading_sentences, sentence_words

SUMMARY_QUESTION = "What does the docstring say ?"
MIN_SUMMARY_WORDS = 2
MAX_SUMMARY_WORDS = 29  # max_tgt_len is 30 tokens, <eos> included


def summary_pair(docstring: str) -> tuple[str, str] | None:
    """``(SUMMARY_QUESTION, first sentence)`` for a docstring, or None when it has no usable sentence."""
    sentences = leading_sentences(docstring, max_sentences=1)
    if not sentences:
        return None
    tokens = sentence_words(sentences[0])
    while tokens and tokens[-1] in (",", ":", "-"):
        tokens.pop()
    if not MIN_SUMMARY_WORDS <= len(tokens) <= MAX_SUMMARY_WORDS:
        return None
    return SUMMARY_QUESTION, " ".join(tokens)
