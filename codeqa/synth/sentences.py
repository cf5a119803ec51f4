"""Docstring text → its leading sentences → lower-case words: step 1 of the question rules
(:mod:`codeqa.synth.questions`). Markup, parenthetical remarks and the sections after the prose ("Args:",
":param", examples) are dropped; contractions are expanded."""

from __future__ import annotations

import re

MAX_SENTENCES = 3
# Punctuation kept as a word of its own (CodeQA's answers keep it); the rest is dropped
KEPT_PUNCTUATION = frozenset("-/*=<>+%#[]{}&,:")

_TOKEN = re.compile(r"[A-Za-z0-9_]+(?:['’.\-/][A-Za-z0-9_]+)*|[^\w\s]")
_SIGNATURE = re.compile(r"^[\w.]+\(.*\)\s*(->.*)?$")
_SECTION = re.compile(r"^\s*((args|arguments|parameters|params|returns?|raises|yields?|examples?|notes?|"
                      r"see also|usage|attributes|keyword arguments|warnings?|todo)\s*:?\s*$"
                      r"|[:@](param|type|return|raise))", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Za-z0-9\"'`*_])|;\s*")


def leading_sentences(docstring: str, max_sentences: int = MAX_SENTENCES) -> list[str]:
    """The docstring's leading sentences, markup and parentheses removed: its paragraphs of prose up to
    the first section ("Args:", ":param", "Example", ">>>", an indented block); a signature is skipped."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", docstring.strip()):
        lines = paragraph.rstrip().splitlines()
        if not lines:
            break
        if _SECTION.match(lines[0]) or (len(lines) > 1 and set(lines[1].strip()) <= set("-=~")):
            break
        text = " ".join(line.strip() for line in lines)
        if not sentences and (_SIGNATURE.match(text) or "->" in text.split(".")[0]):
            continue
        if any(line[:1].isspace() or ">>>" in line for line in lines):
            break
        sentences += [s for s in _SENTENCE_END.split(_clean(text)) if s.strip()]
        if len(sentences) >= max_sentences:
            break
    return sentences[:max_sentences]


def _clean(text: str) -> str:
    text = re.sub(r":[\w:.-]+:`~?([^`]*)`", r"\1", text)          # :class:`Foo` → Foo
    text = re.sub(r"``([^`]*)``", r"\1", text)
    text = re.sub(r"`([^`']*)'", r"\1", text)                      # old style `quotes'
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"(?<!\w)\*\*?([A-Za-z](?:[^*]*?[A-Za-z.])?)\*\*?(?!\w)", r"\1", text)  # *emphasis*
    previous = None
    while previous != text:                                        # (parenthetical remarks)
        previous, text = text, re.sub(r"\s*\([^()]*\)", "", text)
    text = re.sub(r"\b(e\.g|i\.e|etc|vs|cf)\.", r"\1", text)
    return re.sub(r"\s+-{1,3}\s+", ", ", text)                     # a dash between words: a clause break


def sentence_words(sentence: str) -> list[str]:
    """Lower-case words; contractions expanded; quotes and sentence punctuation dropped."""
    out: list[str] = []
    for token in _TOKEN.findall(sentence):
        low = token.lower().replace("’", "'")
        if low[0].isalnum() or low[0] == "_":
            if low.endswith("n't"):
                base = low[:-3]
                out += [{"ca": "can", "wo": "will", "sha": "shall"}.get(base, base), "not"]
            elif low.endswith("'s") and low[:-2] in {"it", "that", "there", "what", "here"}:
                out += [low[:-2], "is"]
            else:
                out.append(low)
        elif token in KEPT_PUNCTUATION:
            out.append(token)
    return out
