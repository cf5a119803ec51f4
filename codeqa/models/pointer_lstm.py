"""The baseline: the pointer-generator LSTM that the original Code_QA_Project ran (See et al., 2017).

A bidirectional LSTM encodes question + <sep> + code; a one-layer LSTM decoder (initialised from the
encoder's final states) attends over it with additive (Bahdanau) attention; the attention doubles as the
copy distribution and ``p_gen`` mixes generating and copying. The decoder has no input feeding, so in
training the whole answer runs through cuDNN's LSTM at once and attention is computed for all steps
together, instead of a Python loop over target positions.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from codeqa.models.base import CopyModel, Memory


class PointerLSTM(CopyModel):
    def __init__(self, vocab_size: int, pad_id: int, emb_dim: int = 128, hidden: int = 256, dropout: float = 0.0):
        super().__init__(vocab_size, pad_id)
        self.hidden = hidden
        self.embed = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.encoder = nn.LSTM(emb_dim, hidden, batch_first=True, bidirectional=True)
        self.reduce_h = nn.Linear(2 * hidden, hidden)
        self.reduce_c = nn.Linear(2 * hidden, hidden)
        self.decoder = nn.LSTM(emb_dim, hidden, batch_first=True)
        self.enc_proj = nn.Linear(2 * hidden, hidden, bias=False)
        self.dec_proj = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, 1, bias=False)
        self.out1 = nn.Linear(3 * hidden, hidden)
        self.out2 = nn.Linear(hidden, vocab_size)
        self.gate = nn.Linear(2 * hidden + hidden + emb_dim, 1)
        self.drop = nn.Dropout(dropout)

    def encode(self, src: torch.Tensor) -> Memory:
        keep = src != self.pad_id
        lengths = keep.sum(1).clamp_min(1).cpu()
        packed = pack_padded_sequence(self.drop(self.embed(src)), lengths, batch_first=True, enforce_sorted=False)
        out, (h, c) = self.encoder(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        h0 = torch.relu(self.reduce_h(torch.cat([h[0], h[1]], dim=-1))).unsqueeze(0)
        c0 = torch.relu(self.reduce_c(torch.cat([c[0], c[1]], dim=-1))).unsqueeze(0)
        # h0/c0 are stored batch-first (B, 1, H) so that beam search can index every memory tensor on dim 0.
        return {"out": out, "keys": self.enc_proj(out), "keep": keep,
                "h0": h0.transpose(0, 1), "c0": c0.transpose(0, 1)}

    def decode(self, memory: Memory, tgt_in: torch.Tensor, cache=None):
        if cache is None:
            cache = (memory["h0"].transpose(0, 1).contiguous(), memory["c0"].transpose(0, 1).contiguous())
        emb = self.drop(self.embed(tgt_in))
        states, (h, c) = self.decoder(emb, cache)
        scores = self.v(torch.tanh(memory["keys"][:, None, :, :] + self.dec_proj(states)[:, :, None, :]))
        scores = scores.squeeze(-1).float().masked_fill(~memory["keep"][:, None, :], float("-inf"))
        attn = scores.softmax(-1)
        context = attn.to(memory["out"].dtype) @ memory["out"]  # (B, T, 2H)
        hidden = torch.cat([states, context], dim=-1)  # (B, T, 3H)
        p_gen = torch.sigmoid(self.gate(torch.cat([context, states, emb], dim=-1)))
        return hidden, attn, p_gen, (h, c)

    def generator(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.out2(self.out1(hidden))

    @staticmethod
    def reorder(memory: Memory, cache, index: torch.Tensor):
        memory = {k: v.index_select(0, index) for k, v in memory.items()}
        if cache is not None:
            cache = (cache[0].index_select(1, index), cache[1].index_select(1, index))
        return memory, cache
