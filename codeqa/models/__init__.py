"""The models: ``transformer`` (the default), ``pointer_lstm`` (the original baseline) and ``hf_seq2seq`` (a
pretrained Hugging Face encoder-decoder, :mod:`codeqa.models.hf_seq2seq`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from codeqa.models.base import CopyModel


def build_model(settings: Mapping[str, Any], vocab_size: int, pad_id: int, sep_id: int,
                model_config: dict | None = None) -> nn.Module:
    """A model from its settings (``TrainConfig.model_settings()``) and the vocabulary's size and ids; for
    ``hf_seq2seq``, the pretrained weights, or with ``model_config`` (a checkpoint's) that network's shape."""
    if settings["model"] == "transformer":
        from codeqa.models.transformer import TransformerCopy

        return TransformerCopy(vocab_size, pad_id, sep_id, d_model=settings["d_model"], n_heads=settings["n_heads"],
                               enc_layers=settings["enc_layers"], dec_layers=settings["dec_layers"],
                               ff_dim=settings["ff_dim"], dropout=settings["dropout"],
                               max_len=max(settings["max_src_len"], settings["max_tgt_len"]) + 1)
    if settings["model"] == "hf_seq2seq":
        from codeqa.models.hf_seq2seq import HFSeq2Seq

        return HFSeq2Seq.build(settings["pretrained"], model_config)
    from codeqa.models.pointer_lstm import PointerLSTM

    return PointerLSTM(vocab_size, pad_id, emb_dim=settings["emb_dim"], hidden=settings["hidden"],
                       dropout=settings["dropout"])


__all__ = ["CopyModel", "build_model"]
