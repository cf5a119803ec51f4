"""From examples to padded tensors: source = question + <sep> + code, target = answer + <eos>, each as the
vocabulary's tokens (words, or BPE pieces).

Copy attention needs an *extended* vocabulary per example: a source word missing from the vocabulary gets
the id ``len(vocab) + k`` (its k-th distinct out-of-vocabulary word), so the model can copy it and the
target can name it. ``src`` holds plain ids (OOV → <unk>) for the embeddings; ``src_ext`` the extended ids.

Batches are grouped by length so that little of each batch is padding (see :func:`padding_fraction`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import torch

from codeqa.data import Example
from codeqa.vocab import Vocab

DEFAULT_MAX_SRC_LEN = 256  # covers every CodeQA Python example (question + code <= 256 tokens)
DEFAULT_MAX_TGT_LEN = 30


@dataclass
class Encoded:
    src: list[int]
    src_ext: list[int]
    tgt_ext: list[int]  # answer ids in the extended vocabulary, ending in <eos>
    oovs: list[str]


def encode_example(example: Example, vocab: Vocab, max_src_len: int, max_tgt_len: int,
                   pieces: tuple[list[str], list[str], list[str]] | None = None) -> Encoded:
    """The example's ids; ``pieces`` (its question, code and answer as the vocabulary's tokens,
    :meth:`Vocab.pieces`) when the caller has them already."""
    from codeqa.vocab import SEP

    question, code, answer = pieces or vocab.pieces([example.question.split(), example.code.split(),
                                                      example.answer.split()])
    tokens = [*question, SEP, *code][:max_src_len]
    src, src_ext, oovs = [], [], []
    oov_index: dict[str, int] = {}
    base = len(vocab)
    for tok in tokens:
        idx = vocab.stoi.get(tok)
        if idx is None:
            if tok not in oov_index:
                oov_index[tok] = len(oovs)
                oovs.append(tok)
            src.append(vocab.unk_id)
            src_ext.append(base + oov_index[tok])
        else:
            src.append(idx)
            src_ext.append(idx)
    tgt = []
    for tok in answer[: max_tgt_len - 1]:
        idx = vocab.stoi.get(tok)
        if idx is None:
            idx = base + oov_index[tok] if tok in oov_index else vocab.unk_id
        tgt.append(idx)
    tgt.append(vocab.eos_id)
    return Encoded(src, src_ext, tgt, oovs)


def encode_all(examples: Sequence[Example], vocab: Vocab, max_src_len: int = DEFAULT_MAX_SRC_LEN,
               max_tgt_len: int = DEFAULT_MAX_TGT_LEN) -> list[Encoded]:
    """Every example's ids; a subword vocabulary cuts all their words into pieces in one batch."""
    texts = [part.split() for ex in examples for part in (ex.question, ex.code, ex.answer)]
    pieces = vocab.pieces(texts)
    return [encode_example(ex, vocab, max_src_len, max_tgt_len, tuple(pieces[3 * i:3 * i + 3]))
            for i, ex in enumerate(examples)]


@dataclass
class Batch:
    src: torch.Tensor  # (B, S) vocabulary ids, pad 0
    src_ext: torch.Tensor  # (B, S) extended ids
    tgt_in: torch.Tensor  # (B, T) <bos> + answer, OOV → <unk>
    tgt_out: torch.Tensor  # (B, T) answer + <eos>, extended ids, pad 0
    tgt_index: torch.Tensor  # (N,) flat positions in (B*T) of the real (non-pad) target tokens
    n_oov: int  # the widest per-example OOV list in the batch
    oovs: list[list[str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.src.size(0)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        return Batch(
            self.src.to(device, non_blocking=non_blocking),
            self.src_ext.to(device, non_blocking=non_blocking),
            self.tgt_in.to(device, non_blocking=non_blocking),
            self.tgt_out.to(device, non_blocking=non_blocking),
            self.tgt_index.to(device, non_blocking=non_blocking),
            self.n_oov,
            self.oovs,
        )

    def pin_memory(self) -> Batch:
        return Batch(self.src.pin_memory(), self.src_ext.pin_memory(), self.tgt_in.pin_memory(),
                     self.tgt_out.pin_memory(), self.tgt_index.pin_memory(), self.n_oov, self.oovs)


def _pad(rows: list[list[int]], multiple: int = 1, value: int = 0) -> np.ndarray:
    """Rows of ids as one (len(rows), width) array. Through numpy, not ``torch.tensor`` of nested lists,
    which took most of a DataLoader worker's time: too slow to feed a compiled step on a fast GPU."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    width = -(-int(lengths.max()) // multiple) * multiple
    out = np.full((len(rows), width), value, dtype=np.int64)
    out[np.arange(width) < lengths[:, None]] = np.fromiter(chain.from_iterable(rows), dtype=np.int64,
                                                           count=int(lengths.sum()))
    return out


class Collator:
    """Turns a list of :class:`Encoded` into a :class:`Batch` (picklable, for DataLoader workers)."""

    def __init__(self, vocab_size: int, unk_id: int, bos_id: int, pad_to_multiple: int = 1):
        self.vocab_size, self.unk_id, self.bos_id = vocab_size, unk_id, bos_id
        self.multiple = pad_to_multiple

    def __call__(self, items: list[Encoded]) -> Batch:
        tgt_out = _pad([it.tgt_ext for it in items], self.multiple)
        # teacher forcing: <bos> + the answer without its <eos>, a copied OOV word fed back as <unk>
        tgt_in = np.concatenate([np.full((len(items), 1), self.bos_id, dtype=np.int64), tgt_out[:, :-1]], axis=1)
        tgt_in[np.arange(tgt_in.shape[1]) >= (tgt_out != 0).sum(1, keepdims=True)] = 0  # the shifted <eos>
        tgt_in[tgt_in >= self.vocab_size] = self.unk_id
        return Batch(
            src=torch.from_numpy(_pad([it.src for it in items], self.multiple)),
            src_ext=torch.from_numpy(_pad([it.src_ext for it in items], self.multiple)),
            tgt_in=torch.from_numpy(tgt_in),
            tgt_out=torch.from_numpy(tgt_out),
            # computed here, on the host: a boolean mask applied on the GPU would wait for it (a sync a step)
            tgt_index=torch.from_numpy(np.flatnonzero(tgt_out)),
            n_oov=max(len(it.oovs) for it in items),
            oovs=[it.oovs for it in items],
        )


def collator_for(vocab: Vocab, device: torch.device | str = "cpu") -> Collator:
    """On a GPU, widths are padded to a multiple of 8: a few distinct batch shapes keep the allocator and
    the kernel choices warm, and suit the tensor cores. A CPU pays for every padded position, so none."""
    return Collator(len(vocab), vocab.unk_id, vocab.bos_id, 8 if str(device).startswith("cuda") else 1)


class LengthGroupedSampler:
    """Yields lists of indices: batches of similar source length, in random order.

    Indices are shuffled, cut into pools of ``pool_batches`` batches, each pool sorted by length and cut
    into batches; the batches are then shuffled. With ``num_replicas`` > 1 (DistributedDataParallel) each
    rank takes every ``num_replicas``-th batch, and all ranks get the same number of batches.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0,
                 pool_batches: int = 50, num_replicas: int = 1, rank: int = 0, drop_last: bool = False):
        self.lengths = list(lengths)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.pool_batches, self.num_replicas, self.rank = pool_batches, num_replicas, rank
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _all_batches(self) -> list[list[int]]:
        order = list(range(len(self.lengths)))
        rng = random.Random(self.seed * 100_003 + self.epoch)
        if self.shuffle:
            rng.shuffle(order)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start:start + pool], key=lambda i: self.lengths[i])
            batches.extend(chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            rng.shuffle(batches)
        if self.num_replicas > 1:
            per_rank = len(batches) // self.num_replicas
            batches = batches[self.rank:per_rank * self.num_replicas:self.num_replicas]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._all_batches())

    def __len__(self) -> int:
        # computed, not by building the batches: the training loop asks for it often
        pool = self.batch_size * self.pool_batches
        full_pools, rest = divmod(len(self.lengths), pool)
        last = rest // self.batch_size if self.drop_last else -(-rest // self.batch_size)
        count = full_pools * self.pool_batches + last
        return count // self.num_replicas if self.num_replicas > 1 else count


def padding_fraction(batches: Sequence[Batch]) -> float:
    """The share of source positions that are padding, over all given batches."""
    padded = sum(b.src.numel() for b in batches)
    real = sum(int((b.src != 0).sum()) for b in batches)
    return 1.0 - real / padded if padded else 0.0
