"""The token vocabulary, shared by source (question + code) and target (answer), stored as JSON.

Case is kept: CodeQA answers are lower-case except ``Yes``/``No`` and the official metric is
case-sensitive. Tokens are whitespace-separated words, as in the CodeQA files.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from codeqa.data import Example
from codeqa.errors import CodeQAError
from codeqa.fileio import write_json

PAD, UNK, BOS, EOS, SEP = "<pad>", "<unk>", "<bos>", "<eos>", "<sep>"
SPECIALS = (PAD, UNK, BOS, EOS, SEP)
FORMAT = "codeqa-vocab"
VERSION = 1


def example_tokens(example: Example) -> Iterable[str]:
    yield from example.question.split()
    yield from example.code.split()
    yield from example.answer.split()


class Vocab:
    """Token ↔ id mapping; the special tokens take ids 0-4 in the order of ``SPECIALS``."""

    pad_id, unk_id, bos_id, eos_id, sep_id = range(len(SPECIALS))

    def __init__(self, tokens: Iterable[str]):
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with the special tokens {SPECIALS}")
        self.itos: list[str] = tokens
        self.stoi: dict[str, int] = {tok: i for i, tok in enumerate(tokens)}
        if len(self.stoi) != len(tokens):
            raise ValueError("a vocabulary lists each token once")

    @classmethod
    def build(cls, examples: Iterable[Example], min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Most frequent tokens first (ties broken alphabetically, so the result is deterministic)."""
        if min_freq < 1:
            raise CodeQAError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(SPECIALS):
            raise CodeQAError(f"max_size must be >= {len(SPECIALS)} (the special tokens), got {max_size}")
        counts: Counter[str] = Counter()
        for example in examples:
            counts.update(example_tokens(example))
        for special in SPECIALS:
            counts.pop(special, None)
        ranked = sorted((tok for tok, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIALS)]
        return cls([*SPECIALS, *ranked])

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.stoi.get(tok, self.unk_id) for tok in tokens]

    def fingerprint(self) -> str:
        """A short hash of the token list: checkpoints record it to refuse a different vocabulary."""
        return hashlib.sha256("\n".join(self.itos).encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "size": len(self), "tokens": self.itos}

    @classmethod
    def from_dict(cls, obj: object, source: str = "vocabulary") -> Vocab:
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise CodeQAError(f"{source}: not a codeqa vocabulary (expected a JSON object with format {FORMAT!r})")
        if obj.get("version") != VERSION:
            raise CodeQAError(f"{source}: vocabulary version {obj.get('version')!r}, expected {VERSION}")
        tokens = obj.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise CodeQAError(f"{source}: 'tokens' must be a list of strings")
        try:
            return cls(tokens)
        except ValueError as err:
            raise CodeQAError(f"{source}: {err}") from None

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict(), indent=None)

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        path = Path(path)
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CodeQAError(f"{path}: vocabulary file not found") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CodeQAError(f"{path}: not valid JSON ({err})") from None
        return cls.from_dict(obj, str(path))
