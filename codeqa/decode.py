"""Batched greedy and beam search over the extended (copy) vocabulary.

The whole batch x beams is one tensor: each step scores all ``B*K`` hypotheses at once, takes the top
``2K`` continuations per example, files those that end in <eos> as finished (score divided by
``length ** length_penalty``) and keeps the best ``K`` others alive. An example is done when it has ``K``
finished hypotheses; the loop ends when every example is done or ``max_len`` is reached.
A copied out-of-vocabulary token (id >= len(vocab)) is fed back to the decoder as <unk> and comes back
to the user as its source word.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass

import torch

from codeqa.batching import Batch, collator_for, encode_all
from codeqa.data import Example
from codeqa.errors import CodeQAError
from codeqa.models.base import CopyModel
from codeqa.rerank import RERANKS, rank
from codeqa.vocab import Vocab

CPU_DECODE_BATCH = 64  # on a CPU a larger batch waits longer for its slowest answer


def gpu_decode_rows(device) -> int:
    """Hypotheses decoded at once on this GPU: a decoding step pays its launch overhead once for the
    whole batch, so as many as memory allows (fewer on GPUs under 32 GB, such as a T4; docs/speed.md)."""
    total = torch.cuda.get_device_properties(torch.device(device)).total_memory
    return 8192 if total >= 32 * 2**30 else 4096


@dataclass(frozen=True)
class DecodeConfig:
    """How answers are decoded: built once, from a training config (:meth:`from_config`) with the
    command line's choices over it, and handed to :func:`predict`."""

    beam_size: int = 4  # 1: greedy
    length_penalty: float = 1.0  # a finished hypothesis scores log-probability / length ** this
    rerank: str = "score"  # which hypothesis of the beam answers (codeqa.rerank)
    max_src_len: int = 256  # source tokens kept, as in training
    max_len: int = 30  # answer tokens, <eos> included
    batch_size: int = 0  # examples decoded at once; 0: by device (batch_for)
    no_repeat_ngram_size: int = 0  # n > 0: no answer holds the same n tokens in a row twice; 0: no limit

    @classmethod
    def from_config(cls, config, **choices) -> DecodeConfig:
        """The config's decoding; each of ``choices`` that is not None replaces the config's value."""
        values = {"beam_size": config.beam_size, "length_penalty": config.length_penalty,
                  "rerank": config.rerank, "max_src_len": config.max_src_len, "max_len": config.max_tgt_len,
                  "batch_size": config.decode_batch_size, "no_repeat_ngram_size": config.no_repeat_ngram_size}
        values.update({k: v for k, v in choices.items() if v is not None})
        return cls(**values).validate()

    def replace(self, **changes) -> DecodeConfig:
        return dataclasses.replace(self, **changes).validate()

    def validate(self) -> DecodeConfig:
        checks = [(self.beam_size >= 1, f"beam size must be >= 1, got {self.beam_size}"),
                  (self.length_penalty >= 0, f"length penalty must be >= 0, got {self.length_penalty}"),
                  (self.no_repeat_ngram_size >= 0,
                   f"no_repeat_ngram_size must be >= 0 (0: no limit), got {self.no_repeat_ngram_size}"),
                  (self.rerank in RERANKS, f"rerank must be one of {', '.join(RERANKS)}, got {self.rerank!r}"),
                  (self.batch_size >= 0, f"decoding batch size must be >= 0 (0: by device), got {self.batch_size}"),
                  (self.max_src_len >= 2 and self.max_len >= 2, "max_src_len and max_tgt_len must be >= 2")]
        for ok, message in checks:
            if not ok:
                raise CodeQAError(message)
        return self

    def batch_for(self, device) -> int:
        """``batch_size``, or when it is 0 the device's: on a GPU as many examples as keep
        :func:`gpu_decode_rows` hypotheses in flight, on a CPU :data:`CPU_DECODE_BATCH`."""
        if self.batch_size:
            return self.batch_size
        if str(device).startswith("cuda"):
            return max(1, gpu_decode_rows(device) // self.beam_size)
        return CPU_DECODE_BATCH


@dataclass
class Hypothesis:
    tokens: list[int]  # extended ids, without <bos>/<eos>
    score: float  # length-normalised log-probability


def _banned_mask(vocab: Vocab, batch: Batch, rows: torch.Tensor) -> torch.Tensor:
    """(rows, V + n_oov) True where a token may never be produced: specials other than <eos>, unused OOV slots."""
    size = len(vocab)
    banned = torch.zeros(rows.numel(), size + batch.n_oov, dtype=torch.bool, device=rows.device)
    banned[:, [vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.sep_id]] = True
    if batch.n_oov:
        n_oov = torch.tensor([len(o) for o in batch.oovs], device=rows.device).index_select(0, rows)
        slots = torch.arange(batch.n_oov, device=rows.device)
        banned[:, size:] = slots[None, :] >= n_oov[:, None]
    return banned


def _ban_repeats(logp: torch.Tensor, answered: torch.Tensor, n: int) -> torch.Tensor:
    """``logp``, changed in place, with -inf for every token that would complete an n-gram ``answered`` (rows,
    steps) already holds: for n = 1, every token it holds."""
    if n < 1 or answered.size(1) < n:
        return logp
    if n == 1:
        repeats = answered
    else:  # the tokens that followed an earlier occurrence of the last n - 1 tokens
        earlier = answered[:, :-1].unfold(1, n - 1, 1)  # (rows, steps - n + 1, n - 1)
        same = (earlier == answered[:, None, -(n - 1):]).all(-1)
        repeats = answered[:, n - 1:].masked_fill(~same, 0)  # id 0 (<pad>) is banned anyway
    return logp.scatter_(1, repeats, float("-inf"))  # in place: a (rows, vocabulary) mask costs GPU memory


def _feed(tokens: torch.Tensor, vocab: Vocab) -> torch.Tensor:
    return tokens.masked_fill(tokens >= len(vocab), vocab.unk_id)


@torch.no_grad()
def greedy_search(model: CopyModel, batch: Batch, vocab: Vocab, max_len: int,
                  no_repeat_ngram_size: int = 0) -> list[Hypothesis]:
    b = batch.size
    device = batch.src.device
    memory = model.encode(batch.src)
    banned = _banned_mask(vocab, batch, torch.arange(b, device=device))
    prev = torch.full((b, 1), vocab.bos_id, dtype=torch.long, device=device)
    out = torch.zeros(b, 0, dtype=torch.long, device=device)
    score = torch.zeros(b, device=device)
    done = torch.zeros(b, dtype=torch.bool, device=device)
    lengths = torch.full((b,), max_len, dtype=torch.long, device=device)
    cache = None
    for step in range(max_len):
        hidden, attn, p_gen, cache = model.decode(memory, _feed(prev, vocab), cache)
        logp = model.final_log_probs(hidden[:, -1], attn[:, -1], p_gen[:, -1], batch.src_ext, batch.n_oov)
        logp = _ban_repeats(logp.masked_fill(banned, float("-inf")), out, no_repeat_ngram_size)
        best, token = logp.max(-1)
        score += torch.where(done, torch.zeros_like(best), best)
        token = token.masked_fill(done, vocab.pad_id)
        newly = (token == vocab.eos_id) & ~done
        lengths = torch.where(newly, step, lengths)  # a boolean-mask assignment would wait on the GPU
        done |= newly
        out = torch.cat([out, token[:, None]], dim=1)
        prev = token[:, None]
        if bool(done.all()):
            break
    results = []
    for row, length, s in zip(out.tolist(), lengths.tolist(), score.tolist()):
        results.append(Hypothesis(row[:length], s))
    return results


@torch.no_grad()
def beam_search(model: CopyModel, batch: Batch, vocab: Vocab, beam_size: int, max_len: int,
                length_penalty: float = 1.0, no_repeat_ngram_size: int = 0) -> list[list[Hypothesis]]:
    """Up to ``beam_size`` hypotheses per example, best first."""
    b, k = batch.size, beam_size
    device = batch.src.device
    rows = torch.arange(b, device=device).repeat_interleave(k)
    memory, _ = model.reorder(model.encode(batch.src), None, rows)
    src_ext = batch.src_ext.index_select(0, rows)
    banned = _banned_mask(vocab, batch, rows)
    width = banned.size(1)
    scores = torch.full((b, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: only the first may expand
    tokens = torch.full((b * k, 1), vocab.bos_id, dtype=torch.long, device=device)
    finished: list[list[Hypothesis]] = [[] for _ in range(b)]
    done = [False] * b
    cache = None
    base = (torch.arange(b, device=device) * k)[:, None]
    for step in range(max_len):
        hidden, attn, p_gen, cache = model.decode(memory, _feed(tokens[:, -1:], vocab), cache)
        logp = model.final_log_probs(hidden[:, -1], attn[:, -1], p_gen[:, -1], src_ext, batch.n_oov)
        logp = _ban_repeats(logp.masked_fill(banned, float("-inf")), tokens[:, 1:], no_repeat_ngram_size)
        candidates = (scores.view(-1, 1) + logp).view(b, k * width)
        top_scores, top_index = candidates.topk(2 * k, dim=1)
        top_beam, top_token = top_index // width, top_index % width
        is_eos = top_token == vocab.eos_id
        # finished: <eos> candidates ranked within the top k of their example
        eos_rank = is_eos & (torch.arange(2 * k, device=device)[None, :] < k) & torch.isfinite(top_scores)
        if bool(eos_rank.any()):
            # everything about this step's finished hypotheses crosses to the host in three copies
            where = eos_rank.nonzero()
            example, slot = where[:, 0], where[:, 1]
            rows_of = example * k + top_beam[example, slot]
            found = zip(example.tolist(), tokens.index_select(0, rows_of)[:, 1:].tolist(),
                        top_scores[example, slot].tolist())
            norm = float(step + 1) ** length_penalty
            for i, seq, score in found:
                if not done[i] and len(finished[i]) < k:
                    finished[i].append(Hypothesis(seq, score / norm))
        for i in range(b):
            if not done[i] and len(finished[i]) >= k:
                done[i] = True
        if all(done):
            break
        # alive: the best k candidates that are not <eos>
        alive_scores = top_scores.masked_fill(is_eos, float("-inf"))
        alive_scores, order = alive_scores.topk(k, dim=1)
        beam_index = (top_beam.gather(1, order) + base).view(-1)
        next_token = top_token.gather(1, order).view(-1, 1)
        tokens = torch.cat([tokens.index_select(0, beam_index), next_token], dim=1)
        memory, cache = model.reorder(memory, cache, beam_index)
        done_mask = torch.tensor(done, device=device)[:, None]
        scores = alive_scores.masked_fill(done_mask, float("-inf"))
    # examples that ran out of length keep their best alive hypotheses
    final_norm = float(tokens.size(1) - 1) ** length_penalty if tokens.size(1) > 1 else 1.0
    short = [i for i in range(b) if len(finished[i]) < k]
    if short:
        alive_scores, alive_tokens = scores.tolist(), tokens[:, 1:].tolist()
        for i in short:
            for j in range(k):
                s = alive_scores[i][j]
                if s != float("-inf") and len(finished[i]) < k:
                    finished[i].append(Hypothesis(alive_tokens[i * k + j], s / final_norm))
    for hyps in finished:
        hyps.sort(key=lambda h: h.score, reverse=True)
    return finished


def to_words(hyp: Hypothesis, vocab: Vocab, oovs: list[str]) -> list[str]:
    """The hypothesis's words: its tokens up to <eos>, copied ones from the source, pieces joined."""
    size = len(vocab)
    tokens = []
    for t in hyp.tokens:
        if t == vocab.eos_id:
            break
        tokens.append(vocab.itos[t] if t < size else oovs[t - size])
    return vocab.words(tokens)


def length_sorted_batches(encoded: list, collate, batch_size: int, device, progress: bool = False):
    """(indices, batch on ``device``) of encoded examples in order of source length: little padding. With
    ``progress``, a progress bar on stderr."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].src))
    starts = range(0, len(order), batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="decode", unit="batch", leave=False, file=sys.stderr,
                      mininterval=1.0 if sys.stderr.isatty() else 30.0)
    for start in starts:
        index = order[start:start + batch_size]
        yield index, collate([encoded[i] for i in index]).to(device)


@torch.no_grad()
def predict(model: CopyModel, examples: list[Example], vocab: Vocab, decoding: DecodeConfig,
            device: torch.device | str = "cpu", *, top_k: int = 1,
            progress: bool = False) -> list[list[tuple[str, float]]]:
    """For each example, up to ``top_k`` (answer, score) pairs, best first by ``decoding.rerank`` over all
    the beam's hypotheses, in the input order. Examples are decoded in length-sorted batches (little
    padding) and put back in order."""
    if not isinstance(model, CopyModel):  # a pretrained model decodes through its own generate
        return model.predict(examples, vocab, decoding, device, top_k=top_k, progress=progress)
    was_training = model.training
    model.eval()
    encoded = encode_all(examples, vocab, decoding.max_src_len, decoding.max_len)
    results: list[list[tuple[str, float]]] = [[] for _ in examples]
    batches = length_sorted_batches(encoded, collator_for(vocab, device), decoding.batch_for(device), device, progress)
    for index, batch in batches:
        if decoding.beam_size == 1:
            hyps = [[h] for h in greedy_search(model, batch, vocab, decoding.max_len, decoding.no_repeat_ngram_size)]
        else:
            hyps = beam_search(model, batch, vocab, decoding.beam_size, decoding.max_len, decoding.length_penalty,
                               decoding.no_repeat_ngram_size)
        for i, options in zip(index, hyps):
            pool = options if decoding.rerank != "score" else options[:top_k]  # the beam's order needs no others
            answers = [(" ".join(to_words(h, vocab, encoded[i].oovs)), h.score) for h in pool]
            results[i] = rank(answers, decoding.rerank)[:top_k]
    model.train(was_training)
    return results
