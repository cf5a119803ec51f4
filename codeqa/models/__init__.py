"""The models: ``transformer`` (the default) and ``pointer_lstm`` (the original baseline)."""

from __future__ import annotations

from codeqa.config import TrainConfig
from codeqa.models.base import CopyModel


def build_model(config: TrainConfig, vocab_size: int, pad_id: int = 0) -> CopyModel:
    if config.model == "transformer":
        from codeqa.models.transformer import TransformerCopy

        return TransformerCopy(vocab_size, pad_id, d_model=config.d_model, n_heads=config.n_heads,
                               enc_layers=config.enc_layers, dec_layers=config.dec_layers,
                               ff_dim=config.ff_dim, dropout=config.dropout,
                               max_len=max(config.max_src_len, config.max_tgt_len) + 1)
    from codeqa.models.pointer_lstm import PointerLSTM

    return PointerLSTM(vocab_size, pad_id, emb_dim=config.emb_dim, hidden=config.hidden, dropout=config.dropout)


__all__ = ["CopyModel", "build_model"]
