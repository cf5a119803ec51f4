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


def _heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    b, t, d = x.shape
    return x.view(b, t, n_heads, d // n_heads).transpose(1, 2)


def _merge(y: torch.Tensor) -> torch.Tensor:
    b, _, t, _ = y.shape
    return y.transpose(1, 2).reshape(b, t, -1)


class SelfAttention(nn.Module):
    """Multi-head self-attention; with ``past`` (keys and values of earlier positions) it steps one token."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False,
                past: tuple[torch.Tensor, torch.Tensor] | None = None):
        q, k, v = (_heads(part, self.n_heads) for part in self.qkv(x).chunk(3, dim=-1))
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
            causal = causal and q.size(2) > 1
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(_merge(y)), (k, v)


class CrossAttention(nn.Module):
    """Attention over the encoder output; its keys and values are computed once per source (:meth:`memory`)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def memory(self, encoded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(encoded).chunk(2, dim=-1)
        return _heads(k, self.n_heads), _heads(v, self.n_heads)

    def forward(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = F.scaled_dot_product_attention(_heads(self.q(x), self.n_heads), k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(_merge(y))


class FeedForward(nn.Sequential):
    def __init__(self, d_model: int, ff_dim: int, dropout: float):
        super().__init__(nn.Linear(d_model, ff_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_dim, d_model))


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, ff_dim: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads, dropout)
        self.ff = FeedForward(d_model, ff_dim, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), mask=mask)[0])
        return x + self.drop(self.ff(self.norm2(x)))


class DecoderLayer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, ff_dim: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.self_attn = SelfAttention(d_model, n_heads, dropout)
        self.cross_attn = CrossAttention(d_model, n_heads, dropout)
        self.ff = FeedForward(d_model, ff_dim, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, cross_k, cross_v, memory_mask, past=None):
        attended, present = self.self_attn(self.norm1(x), causal=True, past=past)
        x = x + self.drop(attended)
        x = x + self.drop(self.cross_attn(self.norm2(x), cross_k, cross_v, memory_mask))
        return x + self.drop(self.ff(self.norm3(x))), present


class TransformerCopy(CopyModel):
    def __init__(self, vocab_size: int, pad_id: int, sep_id: int, d_model: int = 256, n_heads: int = 4,
                 enc_layers: int = 3, dec_layers: int = 3, ff_dim: int = 1024, dropout: float = 0.1,
                 max_len: int = 512):
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
        self.sep_id = sep_id
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
        memory = {"out": out, "keys": self.copy_key(out), "mask": mask, "keep": keep}
        for i, layer in enumerate(self.decoder):  # cross-attention keys/values: once per source, not per step
            memory[f"cross_k{i}"], memory[f"cross_v{i}"] = layer.cross_attn.memory(out)
        return memory

    def decode(self, memory: Memory, tgt_in: torch.Tensor, cache: dict | None = None):
        # The cache holds each decoder layer's self-attention keys and values of the positions so far.
        start = 0 if cache is None else cache["k0"].size(2)
        t = tgt_in.size(1)
        positions = torch.arange(start, start + t, device=tgt_in.device)
        x = self.drop(self.embed(tgt_in) * math.sqrt(self.d_model) + self.tgt_pos(positions))
        new_cache = {}
        for i, layer in enumerate(self.decoder):
            past = None if cache is None else (cache[f"k{i}"], cache[f"v{i}"])
            x, (new_cache[f"k{i}"], new_cache[f"v{i}"]) = layer(
                x, memory[f"cross_k{i}"], memory[f"cross_v{i}"], memory["mask"], past)
        hidden = self.dec_norm(x)
        scores = self.copy_query(hidden) @ memory["keys"].transpose(1, 2) / math.sqrt(self.d_model)
        scores = scores.float().masked_fill(~memory["keep"][:, None, :], float("-inf"))
        attn = scores.softmax(-1)
        context = attn.to(memory["out"].dtype) @ memory["out"]
        p_gen = torch.sigmoid(self.gate(torch.cat([hidden, context], dim=-1)))
        return hidden, attn, p_gen, new_cache

    def generator(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(hidden, self.embed.weight)

    @staticmethod
    def reorder(memory: Memory, cache: dict | None, index: torch.Tensor):
        memory = {k: v.index_select(0, index) for k, v in memory.items()}
        if cache is not None:
            cache = {k: v.index_select(0, index) for k, v in cache.items()}
        return memory, cache
