"""The default model: a pre-LayerNorm Transformer encoder-decoder with copy attention over the source.

Source and target share one embedding matrix, which is also the output projection. Attention runs
through ``torch.nn.functional.scaled_dot_product_attention`` (flash / memory-efficient kernels on GPU).
The copy distribution is a separate single-head attention of the final decoder state over the encoder
output; ``p_gen`` comes from the decoder state and the copied context.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from codeqa.models.base import CopyModel, Memory
from codeqa.vocab import Vocab


class Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float, cross: bool):
        super().__init__()
        self.n_heads, self.dropout, self.cross = n_heads, dropout, cross
        if cross:
            self.q = nn.Linear(d_model, d_model)
            self.kv = nn.Linear(d_model, 2 * d_model)
        else:
            self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                causal: bool = False) -> torch.Tensor:
        if self.cross:
            q = self.q(x)
            k, v = self.kv(memory).chunk(2, dim=-1)
        else:
            q, k, v = self.qkv(x).chunk(3, dim=-1)
        y = F.scaled_dot_product_attention(self._heads(q), self._heads(k), self._heads(v), attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0, is_causal=causal)
        b, _, t, _ = y.shape
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Sequential):
    def __init__(self, d_model: int, ff_dim: int, dropout: float):
        super().__init__(nn.Linear(d_model, ff_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_dim, d_model))


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, ff_dim: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_heads, dropout, cross=False)
        self.ff = FeedForward(d_model, ff_dim, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), mask=mask))
        return x + self.drop(self.ff(self.norm2(x)))


class DecoderLayer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, ff_dim: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.self_attn = Attention(d_model, n_heads, dropout, cross=False)
        self.cross_attn = Attention(d_model, n_heads, dropout, cross=True)
        self.ff = FeedForward(d_model, ff_dim, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.self_attn(self.norm1(x), causal=x.size(1) > 1))
        x = x + self.drop(self.cross_attn(self.norm2(x), memory=memory, mask=memory_mask))
        return x + self.drop(self.ff(self.norm3(x)))


class TransformerCopy(CopyModel):
    def __init__(self, vocab_size: int, pad_id: int, d_model: int = 256, n_heads: int = 4, enc_layers: int = 3,
                 dec_layers: int = 3, ff_dim: int = 1024, dropout: float = 0.1, max_len: int = 512):
        super().__init__(vocab_size, pad_id)
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.src_pos = nn.Embedding(max_len, d_model)
        self.tgt_pos = nn.Embedding(max_len, d_model)
        self.segment = nn.Embedding(2, d_model)  # question vs code, split at the first <sep>
        self.encoder = nn.ModuleList(EncoderLayer(d_model, n_heads, ff_dim, dropout) for _ in range(enc_layers))
        self.decoder = nn.ModuleList(DecoderLayer(d_model, n_heads, ff_dim, dropout) for _ in range(dec_layers))
        self.enc_norm, self.dec_norm = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.copy_query = nn.Linear(d_model, d_model)
        self.copy_key = nn.Linear(d_model, d_model)
        self.gate = nn.Linear(2 * d_model, 1)
        self.drop = nn.Dropout(dropout)
        self.sep_id = Vocab.sep_id
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def encode(self, src: torch.Tensor) -> Memory:
        positions = torch.arange(src.size(1), device=src.device)
        segment = ((src == self.sep_id).cumsum(1) > 0).long()
        x = self.embed(src) * math.sqrt(self.d_model) + self.src_pos(positions) + self.segment(segment)
        x = self.drop(x)
        keep = src != self.pad_id
        mask = keep[:, None, None, :]  # (B, 1, 1, S): True = attend
        for layer in self.encoder:
            x = layer(x, mask)
        out = self.enc_norm(x)
        return {"out": out, "keys": self.copy_key(out), "mask": mask, "keep": keep}

    def decode(self, memory: Memory, tgt_in: torch.Tensor, cache: torch.Tensor | None = None):
        # The cache is the token prefix: each step re-runs the (short) answer prefix. Answers are at
        # most ~30 tokens, so this costs little and keeps one code path for training and decoding.
        tokens = tgt_in if cache is None else torch.cat([cache, tgt_in], dim=1)
        t = tokens.size(1)
        x = self.embed(tokens) * math.sqrt(self.d_model) + self.tgt_pos(torch.arange(t, device=tokens.device))
        x = self.drop(x)
        for layer in self.decoder:
            x = layer(x, memory["out"], memory["mask"])
        hidden = self.dec_norm(x)[:, t - tgt_in.size(1):]
        scores = self.copy_query(hidden) @ memory["keys"].transpose(1, 2) / math.sqrt(self.d_model)
        scores = scores.float().masked_fill(~memory["keep"][:, None, :], float("-inf"))
        attn = scores.softmax(-1)
        context = attn.to(memory["out"].dtype) @ memory["out"]
        p_gen = torch.sigmoid(self.gate(torch.cat([hidden, context], dim=-1)))
        return hidden, attn, p_gen, tokens

    def generator(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(hidden, self.embed.weight)

    @staticmethod
    def reorder(memory: Memory, cache, index: torch.Tensor):
        memory = {k: v.index_select(0, index) for k, v in memory.items()}
        return memory, None if cache is None else cache.index_select(0, index)
