"""What every codeqa model shares: the copy (pointer-generator) mixture, the loss and the decode API.

A model maps the source (question + <sep> + code) to, at each answer position, three things:
vocabulary logits, an attention distribution over source positions (the copy distribution) and
``p_gen``, the probability of generating from the vocabulary rather than copying. The final
distribution over the *extended* vocabulary (vocabulary + this example's out-of-vocabulary source
words) is ``p_gen * softmax(logits)`` plus ``(1 - p_gen) * attention`` scattered onto the source ids.

Subclasses implement :meth:`encode`, :meth:`decode` and :meth:`reorder`; training and beam search use
only this interface.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from codeqa.batching import Batch

Memory = dict[str, torch.Tensor]  # encoder outputs; every tensor is batch-first


class CopyModel(nn.Module):
    def __init__(self, vocab_size: int, pad_id: int):
        super().__init__()
        self.vocab_size, self.pad_id = vocab_size, pad_id

    # ---- to implement -------------------------------------------------------------------------
    def encode(self, src: torch.Tensor) -> Memory:
        raise NotImplementedError

    def decode(self, memory: Memory, tgt_in: torch.Tensor, cache: Any = None):
        """Run the decoder over ``tgt_in`` (B, T) → (hidden (B,T,D), copy_attn (B,T,S), p_gen (B,T,1), cache).

        With a ``cache`` from an earlier call, ``tgt_in`` holds only the new token(s) and the outputs
        cover only them: this is how beam search steps.
        """
        raise NotImplementedError

    def generator(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits for decoder states."""
        raise NotImplementedError

    @staticmethod
    def reorder(memory: Memory, cache: Any, index: torch.Tensor) -> tuple[Memory, Any]:
        """Select rows ``index`` of the memory and cache (beam search reorders hypotheses)."""
        raise NotImplementedError

    # ---- shared -------------------------------------------------------------------------------
    def forward(self, batch: Batch, label_smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
        """Training runs through ``forward`` so that DistributedDataParallel sees it: the loss."""
        return self.loss(batch, label_smoothing)

    def loss(self, batch: Batch, label_smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
        """Summed negative log-likelihood of the answer tokens under the copy mixture, and their count.

        Only real (non-pad) target positions reach the vocabulary projection, which is where the time
        and memory of a small seq2seq model go. Label smoothing spreads ``label_smoothing`` of the mass
        uniformly over the generator's vocabulary.
        """
        memory = self.encode(batch.src)
        hidden, attn, p_gen, _ = self.decode(memory, batch.tgt_in)
        rows_total, width = batch.tgt_out.shape
        index = batch.tgt_index  # flat (B*T) positions of the real target tokens, made on the host
        target = batch.tgt_out.reshape(-1).index_select(0, index)
        logits = self.generator(hidden.reshape(rows_total * width, -1).index_select(0, index)).float()
        log_probs = F.log_softmax(logits, dim=-1)
        in_vocab = target < self.vocab_size
        p_vocab = log_probs.gather(1, target.clamp(max=self.vocab_size - 1).unsqueeze(1)).squeeze(1).exp()
        p_vocab = p_vocab * in_vocab
        src_ext = batch.src_ext.index_select(0, torch.div(index, width, rounding_mode="floor"))  # (N, S)
        copy_attn = attn.reshape(rows_total * width, -1).index_select(0, index).float()
        p_copy = (copy_attn * (src_ext == target.unsqueeze(1))).sum(-1)
        gen = p_gen.reshape(-1).index_select(0, index).float()
        prob = gen * p_vocab + (1.0 - gen) * p_copy
        nll = -torch.log(prob.clamp_min(1e-12))
        if label_smoothing > 0:
            nll = (1.0 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
        return nll.sum(), index.numel()

    def final_log_probs(self, hidden: torch.Tensor, attn: torch.Tensor, p_gen: torch.Tensor,
                        src_ext: torch.Tensor, n_oov: int) -> torch.Tensor:
        """Log-probabilities over the extended vocabulary for one step: (N, D), (N, S), (N, 1) → (N, V+n_oov)."""
        probs = F.softmax(self.generator(hidden).float(), dim=-1) * p_gen.float()
        if n_oov:
            probs = torch.cat([probs, probs.new_zeros(probs.size(0), n_oov)], dim=1)
        probs = probs.scatter_add(1, src_ext, attn.float() * (1.0 - p_gen.float()))
        return torch.log(probs.clamp_min(1e-20))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
