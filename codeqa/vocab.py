"""The token vocabulary, shared by source (question + code) and target (answer), stored as JSON.

Case is kept: CodeQA answers are lower-case except ``Yes``/``No`` and the official metric is
case-sensitive. A :class:`Vocab`'s tokens are the whitespace-separated words of the CodeQA files; a
:class:`SubwordVocab` cuts each word into BPE pieces (the ``tokenizers`` library), so that a word never
seen whole can still be read and written.
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
KINDS = ("word", "bpe")
CONTINUATION = "##"  # a BPE piece that continues the word before it starts with this


def example_tokens(example: Example) -> Iterable[str]:
    yield from example.question.split()
    yield from example.code.split()
    yield from example.answer.split()


class Vocab:
    """Token ↔ id mapping; the special tokens take ids 0-4 in the order of ``SPECIALS``."""

    pad_id, unk_id, bos_id, eos_id, sep_id = range(len(SPECIALS))
    kind = "word"

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

    def pieces(self, texts: list[list[str]]) -> list[list[str]]:
        """Each text's words as this vocabulary's tokens: the words themselves here."""
        return texts

    def encode_all(self, examples: list[Example], max_src_len: int, max_tgt_len: int) -> list:
        """The examples as ids for training and decoding (:func:`codeqa.batching.encode_all`)."""
        from codeqa.batching import encode_all

        return encode_all(examples, self, max_src_len, max_tgt_len)

    def collator(self, device=None):
        """What turns encoded examples into a batch (:func:`codeqa.batching.collator_for`)."""
        from codeqa.batching import collator_for

        return collator_for(self, device or "cpu")

    def words(self, tokens: list[str]) -> list[str]:
        """Tokens back to words (the inverse of :meth:`pieces`)."""
        return tokens

    def fingerprint(self) -> str:
        """A short hash of the token list: checkpoints record it to refuse a different vocabulary."""
        return hashlib.sha256("\n".join(self.itos).encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "kind": self.kind, "size": len(self), "tokens": self.itos}

    def to_state(self) -> list[str] | dict:
        """What a checkpoint keeps of it (:meth:`from_state` reads it back)."""
        return self.itos

    @staticmethod
    def from_state(state: list[str] | dict, source: str = "checkpoint") -> Vocab:
        if isinstance(state, list):
            return Vocab(state)
        return Vocab.from_dict({"format": FORMAT, "version": VERSION, **state}, source)

    @classmethod
    def from_dict(cls, obj: object, source: str = "vocabulary") -> Vocab:
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise CodeQAError(f"{source}: not a codeqa vocabulary (expected a JSON object with format {FORMAT!r})")
        if obj.get("version") != VERSION:
            raise CodeQAError(f"{source}: vocabulary version {obj.get('version')!r}, expected {VERSION}")
        if obj.get("kind") == "hf":  # a pretrained model's own tokenizer
            from codeqa.models.hf_seq2seq import HFTokenizer

            return HFTokenizer.from_state(obj, source)
        if obj.get("kind", "word") == "bpe":
            if not isinstance(obj.get("tokenizer"), str):
                raise CodeQAError(f"{source}: a BPE vocabulary without its 'tokenizer'")
            return SubwordVocab(obj["tokenizer"], source)
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


class SubwordVocab(Vocab):
    """BPE pieces trained with the ``tokenizers`` library on the training splits' words; a piece that
    continues a word starts with :data:`CONTINUATION`. Copy attention works on the source's pieces."""

    kind = "bpe"

    def __init__(self, tokenizer_json: str, source: str = "vocabulary"):
        from tokenizers import Tokenizer

        try:
            self.tokenizer = Tokenizer.from_str(tokenizer_json)
        except Exception as err:  # noqa: BLE001 — the library's own error, named
            raise CodeQAError(f"{source}: not a BPE tokenizer ({err})") from None
        self.tokenizer_json = tokenizer_json
        super().__init__(self.tokenizer.id_to_token(i) for i in range(self.tokenizer.get_vocab_size()))

    @classmethod
    def build(cls, examples: Iterable[Example], min_freq: int = 2, max_size: int | None = None) -> SubwordVocab:
        """BPE merges learnt from the examples' words, up to ``max_size`` pieces, specials first."""
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.BPE(unk_token=UNK, continuing_subword_prefix=CONTINUATION))
        tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        trainer = trainers.BpeTrainer(vocab_size=max_size or 30000, min_frequency=min_freq,
                                      special_tokens=list(SPECIALS), continuing_subword_prefix=CONTINUATION,
                                      show_progress=False)
        tokenizer.train_from_iterator((" ".join(example_tokens(e)) for e in examples), trainer)
        return cls(tokenizer.to_str())

    def pieces(self, texts: list[list[str]]) -> list[list[str]]:
        return [encoding.tokens for encoding in self.tokenizer.encode_batch(texts, is_pretokenized=True,
                                                                            add_special_tokens=False)]

    def words(self, tokens: list[str]) -> list[str]:
        out: list[str] = []
        for token in tokens:
            if token.startswith(CONTINUATION) and out:
                out[-1] += token[len(CONTINUATION):]
            else:
                out.append(token)
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SubwordVocab) and self.tokenizer_json == other.tokenizer_json

    def fingerprint(self) -> str:
        return hashlib.sha256(self.tokenizer_json.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {**super().to_dict(), "tokenizer": self.tokenizer_json}

    def to_state(self) -> dict:
        return self.to_dict()


def build_vocab(examples: Iterable[Example], kind: str = "word", min_freq: int = 1,
                max_size: int | None = None) -> Vocab:
    """The vocabulary of ``kind`` (:data:`KINDS`) over ``examples``."""
    if kind == "bpe":
        return SubwordVocab.build(examples, min_freq=min_freq, max_size=max_size)
    return Vocab.build(examples, min_freq=min_freq, max_size=max_size)
