"""Training configuration: one dataclass, YAML files in ``codeqa/configs/``, ``key=value`` overrides.

Unknown keys are an error (a typo must never be silently ignored after hours of training).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from codeqa.errors import CodeQAError
from codeqa.rerank import RERANKS

CONFIG_DIR = Path(__file__).parent / "configs"

# Keys that define the network's shape: a checkpoint made with other values cannot be loaded.
MODEL_KEYS = ("model", "d_model", "n_heads", "enc_layers", "dec_layers", "ff_dim", "emb_dim", "hidden",
              "pretrained", "max_src_len", "max_tgt_len")


MODELS = ("transformer", "pointer_lstm", "hf_seq2seq")
PRECISIONS = ("auto", "bf16_or_fp32", "fp32", "fp16", "bf16")
COMPILE_MODES = ("", "default", "max-autotune-no-cudagraphs")
# Modes that replay CUDA graphs: a graph replays one shape, and codeqa's batches change shape every step.
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")


@dataclass
class TrainConfig:
    # model
    model: str = "transformer"  # transformer | pointer_lstm | hf_seq2seq
    d_model: int = 256  # transformer width
    n_heads: int = 4
    enc_layers: int = 3
    dec_layers: int = 3
    ff_dim: int = 1024
    dropout: float = 0.1
    emb_dim: int = 128  # pointer_lstm embedding size
    hidden: int = 256  # pointer_lstm hidden size
    pretrained: str = ""  # hf_seq2seq: a Hugging Face hub name or a save_pretrained folder
    # data
    lang: str = "python"
    code_field: str = "code"  # code | code.original
    train_split: str = "train"
    valid_split: str = "dev"
    max_src_len: int = 256
    max_tgt_len: int = 30
    vocab_type: str = "word"  # word | bpe (subword pieces, codeqa.vocab.SubwordVocab)
    min_freq: int = 2
    max_vocab: int = 50000
    max_train_examples: int = 0  # 0 = all; a cap for quick runs
    max_valid_examples: int = 0
    init_from: str = ""  # a checkpoint whose weights (and vocabulary) start the training: fine-tuning
    # "embeddings": fine-tuning (from init_from, or stage 2 after pre-training) keeps the loaded word
    # embeddings as they are (the transformer's output layer too); "": it trains every weight
    freeze: str = ""
    # two stages: `pretrain_epochs` on the data's `pretrain_split` (generated pairs, `codeqa make-dataset
    # --pretrain-for`), then fine-tuning on `train_split`; "" or 0: one stage
    pretrain_split: str = ""
    pretrain_epochs: int = 0
    # optimisation
    optimizer: str = "adamw"  # adamw | adagrad
    lr: float = 5e-4
    weight_decay: float = 0.01
    adagrad_init_acc: float = 0.1
    warmup_steps: int = 200
    lr_schedule: str = "linear"  # linear (warm-up, then linear decay to 10%) | constant (after warm-up)
    label_smoothing: float = 0.1
    grad_clip: float = 1.0
    batch_size: int = 64  # examples per optimizer step; under torchrun each of N processes takes batch_size / N
    epochs: int = 20
    # auto: bf16 on GPUs with fast bf16, else fp16 with loss scaling; bf16_or_fp32: never fp16 (T5 overflows)
    precision: str = "auto"
    # torch.compile the training step with this mode: "" (eager) | default | max-autotune-no-cudagraphs:
    # fewer, fused kernels for a GPU whose steps are bound by their launches; skipped, with a warning, on
    # GPUs Triton does not support (training.runtime.compile_unsupported)
    compile_mode: str = ""
    seed: int = 1234
    num_workers: int = 0
    # validation, selection, saving
    select_metric: str = "val_loss"  # val_loss | f1 | rouge_l
    patience: int = 5  # epochs without improvement before stopping; 0 never stops early
    eval_every: int = 1  # decode the validation split every N epochs (0: never; loss is computed always)
    beam_size: int = 4
    length_penalty: float = 1.0
    rerank: str = "score"  # which beam hypothesis answers: score (the beam's best) | mbr (codeqa.rerank)
    # n > 0: decoding never repeats n tokens in a row within an answer (1: no word twice); 0: no limit
    no_repeat_ngram_size: int = 0
    # examples decoded at once (validation, tuning, evaluate, bench); 0 = by device (decode.DecodeConfig)
    decode_batch_size: int = 0
    # after training, try these beam sizes x length penalties x reranks on the validation split and keep
    # the best by F1 in the best checkpoint's config (e.g. "1,4,16", "0.5,1.0,1.5,2.0", "score,mbr");
    # "" = no tuning
    tune_beam_sizes: str = ""
    tune_length_penalties: str = "1.0"
    tune_reranks: str = "score"
    save_every: int = 10
    max_time: str = ""  # e.g. "11h30m": stop cleanly (after a save) before this much wall time
    log_every: int = 50

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def model_settings(self) -> dict:
        """What :func:`codeqa.models.build_model` needs: the shape keys and the dropout."""
        return {**{k: getattr(self, k) for k in MODEL_KEYS}, "dropout": self.dropout}

    def validate(self, where: Callable[[str], str] | None = None) -> TrainConfig:
        """Every setting within its range (:data:`RULES`), and the settings that depend on each other
        consistent; the error names where the value came from: ``where(key)``, e.g. ``--set lr``."""
        where = where or (lambda key: "config")
        for key, (ok, expected) in RULES.items():
            value = getattr(self, key)
            if not ok(value):
                raise CodeQAError(f"{where(key)}: {key} must be {expected}, got {value!r}")
        if self.compile_mode in CUDA_GRAPH_MODES:
            raise CodeQAError(f"{where('compile_mode')}: compile_mode {self.compile_mode!r} replays CUDA graphs, "
                              "which need one batch shape, and codeqa's batches vary: use 'default' or "
                              "'max-autotune-no-cudagraphs'")
        pairs = [
            (self.model != "hf_seq2seq" or bool(self.pretrained), ("pretrained", "model"),
             "model hf_seq2seq needs pretrained: a Hugging Face hub name or a save_pretrained folder"),
            (self.model != "hf_seq2seq" or not self.freeze, ("freeze", "model"),
             "freeze applies to codeqa's own models (transformer, pointer_lstm), not to hf_seq2seq"),
            (self.model != "transformer" or self.d_model % self.n_heads == 0, ("n_heads", "d_model"),
             f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"),
            (self.pretrain_split not in (self.train_split, self.valid_split), ("pretrain_split", "train_split"),
             "pretrain_split must differ from train_split and valid_split"),
            (self.select_metric == "val_loss" or self.eval_every >= 1, ("eval_every", "select_metric"),
             f"select_metric {self.select_metric} needs eval_every >= 1 (the answers are decoded to score them)"),
        ]
        for ok, keys, message in pairs:
            if not ok:  # named after the key given on the command line, if one was
                places = [where(k) for k in keys]
                raise CodeQAError(f"{next((p for p in places if p.startswith('--set')), places[0])}: {message}")
        key = "max_time"
        try:
            parse_duration(self.max_time)
            if self.tune_beam_sizes:  # the decoding grid
                for key, kind in (("tune_beam_sizes", int), ("tune_length_penalties", float)):
                    parse_list(getattr(self, key), kind, key)
                key = "tune_reranks"
                parse_reranks(self.tune_reranks)
        except CodeQAError as err:
            raise CodeQAError(f"{where(key)}: {err}") from None
        return self


def _at_least(low, strict: bool = False):
    return (lambda v: v > low) if strict else (lambda v: v >= low)


def _one_of(*choices):
    return lambda v: v in choices


def _choices(*choices) -> str:
    return "one of " + ", ".join(repr(c) for c in choices)


# What each setting allows: (check, what is expected), in the order of the dataclass.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "model": (_one_of(*MODELS), _choices(*MODELS)),
    **{k: (_at_least(1), ">= 1") for k in ("d_model", "n_heads", "enc_layers", "dec_layers", "ff_dim", "emb_dim",
                                            "hidden")},
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "code_field": (_one_of("code", "code.original"), _choices("code", "code.original")),
    "max_src_len": (_at_least(2), ">= 2"),
    "max_tgt_len": (_at_least(2), ">= 2"),
    "vocab_type": (_one_of("word", "bpe"), _choices("word", "bpe")),
    "min_freq": (_at_least(1), ">= 1"),
    "max_vocab": (_at_least(5), ">= 5 (the special tokens)"),
    "max_train_examples": (_at_least(0), ">= 0 (0: all)"),
    "max_valid_examples": (_at_least(0), ">= 0 (0: all)"),
    "freeze": (_one_of("", "embeddings"), "'' (train every weight) or 'embeddings'"),
    "pretrain_epochs": (_at_least(0), ">= 0 (0: no pre-training)"),
    "optimizer": (_one_of("adamw", "adagrad"), _choices("adamw", "adagrad")),
    "lr": (_at_least(0, strict=True), "> 0"),
    "weight_decay": (_at_least(0), ">= 0"),
    "adagrad_init_acc": (_at_least(0), ">= 0"),
    "warmup_steps": (_at_least(0), ">= 0"),
    "lr_schedule": (_one_of("linear", "constant"), _choices("linear", "constant")),
    "label_smoothing": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "grad_clip": (_at_least(0), ">= 0 (0: no clipping)"),
    "batch_size": (_at_least(1), ">= 1"),
    "epochs": (_at_least(1), ">= 1"),
    "precision": (_one_of(*PRECISIONS), _choices(*PRECISIONS)),
    "compile_mode": (_one_of(*COMPILE_MODES, *CUDA_GRAPH_MODES), _choices(*COMPILE_MODES)),
    "seed": (_at_least(0), ">= 0"),
    "num_workers": (_at_least(0), ">= 0 (0: batches made in the training process)"),
    "select_metric": (_one_of("val_loss", "f1", "rouge_l"), _choices("val_loss", "f1", "rouge_l")),
    "patience": (_at_least(0), ">= 0 (0: never stop early)"),
    "eval_every": (_at_least(0), ">= 0 (0: never decode)"),
    "beam_size": (_at_least(1), ">= 1"),
    "length_penalty": (_at_least(0), ">= 0"),
    "rerank": (_one_of(*RERANKS), _choices(*RERANKS)),
    "no_repeat_ngram_size": (_at_least(0), ">= 0 (0: no limit)"),
    "decode_batch_size": (_at_least(0), ">= 0 (0: by device)"),
    "save_every": (_at_least(0), ">= 0 (0: no numbered checkpoints)"),
    "log_every": (_at_least(1), ">= 1"),
}


def parse_list(text: str, kind: type, key: str) -> list:
    """``"1,4,8"`` → ``[1, 4, 8]`` (beam sizes >= 1 or numbers >= 0); a clear error for anything else."""
    try:
        values = [kind(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(v < (1 if kind is int else 0) for v in values):
        raise CodeQAError(f"{key} must be a comma-separated list of "
                          f"{'beam sizes >= 1' if kind is int else 'numbers >= 0'}, got {text!r}")
    return values


def parse_reranks(text: str) -> list[str]:
    """``"score,mbr"`` → ``["score", "mbr"]`` (each once); a clear error for an unknown method."""
    values = list(dict.fromkeys(part.strip() for part in str(text).split(",") if part.strip()))
    if not values or any(v not in RERANKS for v in values):
        raise CodeQAError(f"tune_reranks must be a comma-separated list of {', '.join(RERANKS)}, "
                          f"got {text!r}")
    return values


def parse_duration(text: str) -> float:
    """'11h30m', '90m', '45s', '2h' → seconds; '' → 0 (no limit)."""
    if not text:
        return 0.0
    match = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*", str(text))
    if not match or not any(match.groups()):
        raise CodeQAError(f"max_time {text!r} is not a duration like 11h30m, 90m or 45s")
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    return h * 3600 + m * 60 + s


def config_names() -> list[str]:
    """The bundled configs, by name."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def config_path(name_or_file: str) -> Path:
    """A bundled config by name (``quick``) or a YAML file path."""
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise CodeQAError(f"{path}: config file not found")
        return path
    bundled = CONFIG_DIR / f"{name_or_file}.yaml"
    if not bundled.is_file():
        names = ", ".join(config_names())
        raise CodeQAError(f"config {name_or_file!r} not found: give a YAML file or one of {names}")
    return bundled


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """``values`` with each ``key=value`` of ``overrides`` (YAML-typed) set."""
    known = set(TrainConfig.keys())
    for item in overrides:
        if "=" not in item:
            raise CodeQAError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if key not in known:
            raise CodeQAError(f"--set {key}: unknown config key (known: {', '.join(sorted(known))})")
        values[key] = yaml.safe_load(raw) if raw.strip() else ""
    return values


def from_dict(values: dict, source: str, overridden: set[str] | frozenset[str] = frozenset()) -> TrainConfig:
    """A validated config from ``values`` read from ``source``; the keys in ``overridden`` came from
    ``--set``, and an error about one of them names ``--set KEY``."""

    def where(key: str) -> str:
        return f"--set {key}" if key in overridden else source

    known = {f.name: f for f in fields(TrainConfig)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise CodeQAError(f"{source}: unknown config key(s) {', '.join(unknown)}")
    typed = {}
    for key, value in values.items():
        kind = known[key].type
        try:
            if kind in ("int", "float") and isinstance(value, str):
                value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string
            if kind == "int" and isinstance(value, (int, float)) and not isinstance(value, bool):
                if float(value) != int(value):
                    raise ValueError
                value = int(value)
            elif kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = float(value)
            elif kind == "str":
                value = "" if value is None else str(value)
            expected = {"int": int, "float": float, "str": str}[kind]
            ok = isinstance(value, expected) and not isinstance(value, bool)
        except ValueError:
            ok = False
        if not ok:
            raise CodeQAError(f"{where(key)}: {key} must be of type {kind}, got {value!r}") from None
        typed[key] = value
    return TrainConfig(**typed).validate(where)


def load_config(name_or_file: str, overrides: list[str] | None = None) -> TrainConfig:
    path = config_path(name_or_file)
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise CodeQAError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(values, dict):
        raise CodeQAError(f"{path}: expected a mapping of config keys to values")
    overrides = overrides or []
    values = apply_overrides(values, overrides)
    return from_dict(values, str(path), {item.split("=", 1)[0].strip() for item in overrides})
