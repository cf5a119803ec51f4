"""From examples to padded tensors: source = question + <sep> + code, target = answer + <eos>.

Copy attention needs an *extended* vocabulary per example: a source word missing from the vocabulary gets
the id ``len(vocab) + k`` (its k-th distinct out-of-vocabulary word), so the model can copy it and the
target can name it. ``src`` holds plain ids (OOV → <unk>) for the embeddings; ``src_ext`` the extended ids.

Batches are grouped by length so that little of each batch is padding (see :func:`padding_fraction`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

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


def source_tokens(question: str, code: str, max_src_len: int) -> list[str]:
    from codeqa.vocab import SEP

    return [*question.split(), SEP, *code.split()][:max_src_len]


def encode_example(example: Example, vocab: Vocab, max_src_len: int, max_tgt_len: int) -> Encoded:
    tokens = source_tokens(example.question, example.code, max_src_len)
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
    for tok in example.answer.split()[: max_tgt_len - 1]:
        idx = vocab.stoi.get(tok)
        if idx is None:
            idx = base + oov_index[tok] if tok in oov_index else vocab.unk_id
        tgt.append(idx)
    tgt.append(vocab.eos_id)
    return Encoded(src, src_ext, tgt, oovs)


def encode_all(examples: Sequence[Example], vocab: Vocab, max_src_len: int = DEFAULT_MAX_SRC_LEN,
               max_tgt_len: int = DEFAULT_MAX_TGT_LEN) -> list[Encoded]:
    return [encode_example(ex, vocab, max_src_len, max_tgt_len) for ex in examples]


@dataclass
class Batch:
    src: torch.Tensor  # (B, S) vocabulary ids, pad 0
    src_ext: torch.Tensor  # (B, S) extended ids
    tgt_in: torch.Tensor  # (B, T) <bos> + answer, OOV → <unk>
    tgt_out: torch.Tensor  # (B, T) answer + <eos>, extended ids, pad 0
    tgt_index: torch.Tensor  # (N,) flat positions in (B*T) of the real target tokens, then any padding entries
    tgt_weight: torch.Tensor  # (N,) 1.0 for a real target token, 0.0 for a padding entry
    n_targets: int  # real target tokens: the loss is a sum over them
    n_oov: int  # the widest per-example OOV list in the batch
    oovs: list[list[str]] = field(default_factory=list)

    TENSORS = ("src", "src_ext", "tgt_in", "tgt_out", "tgt_index", "tgt_weight")

    @property
    def size(self) -> int:
        return self.src.size(0)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        return replace(self, **{name: getattr(self, name).to(device, non_blocking=non_blocking)
                                for name in self.TENSORS})

    def pin_memory(self) -> Batch:
        return replace(self, **{name: getattr(self, name).pin_memory() for name in self.TENSORS})


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _pad(rows: list[list[int]], multiple: int = 1, value: int = 0) -> torch.Tensor:
    width = _round_up(max(len(r) for r in rows), multiple)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


@dataclass(frozen=True)
class Padding:
    """How far a batch's widths are rounded up: source and target positions, and target-token entries."""
    src: int = 1
    tgt: int = 1
    targets: int = 1


NO_PADDING = Padding()
GPU_PADDING = Padding(8, 8, 1)
# A CUDA graph replays one shape only: coarse widths leave a few dozen shapes to record, not one per batch
STATIC_PADDING = Padding(32, 16, 512)


class Collator:
    """Turns a list of :class:`Encoded` into a :class:`Batch` (picklable, for DataLoader workers)."""

    def __init__(self, vocab_size: int, unk_id: int, bos_id: int, padding: Padding = NO_PADDING):
        self.vocab_size, self.unk_id, self.bos_id = vocab_size, unk_id, bos_id
        self.padding = padding

    def __call__(self, items: list[Encoded]) -> Batch:
        tgt_out = _pad([it.tgt_ext for it in items], self.padding.tgt)
        tgt_in_rows = [[self.bos_id] + [t if t < self.vocab_size else self.unk_id for t in it.tgt_ext[:-1]]
                       for it in items]
        # computed here, on the host: a boolean mask applied on the GPU would wait for it (a sync a step)
        real = (tgt_out.reshape(-1) != 0).nonzero().squeeze(1)
        extra = _round_up(real.numel(), self.padding.targets) - real.numel()
        # padding entries point at position 0 (always a real token: every answer ends in <eos>), weight 0
        return Batch(
            src=_pad([it.src for it in items], self.padding.src),
            src_ext=_pad([it.src_ext for it in items], self.padding.src),
            tgt_in=_pad(tgt_in_rows, self.padding.tgt),
            tgt_out=tgt_out,
            tgt_index=torch.cat([real, real.new_zeros(extra)]),
            tgt_weight=torch.cat([torch.ones(real.numel()), torch.zeros(extra)]),
            n_targets=real.numel(),
            n_oov=max(len(it.oovs) for it in items),
            oovs=[it.oovs for it in items],
        )


def collator_for(vocab: Vocab, device: torch.device | str = "cpu", static_shapes: bool = False) -> Collator:
    """On a GPU, widths are padded to a multiple of 8: a few distinct batch shapes keep the allocator and
    the kernel choices warm, and suit the tensor cores. A CPU pays for every padded position, so none.
    ``static_shapes`` (training replayed as CUDA graphs) pads coarser still: :data:`STATIC_PADDING`."""
    if static_shapes:
        padding = STATIC_PADDING
    else:
        padding = GPU_PADDING if str(device).startswith("cuda") else NO_PADDING
    return Collator(len(vocab), vocab.unk_id, vocab.bos_id, padding)


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
