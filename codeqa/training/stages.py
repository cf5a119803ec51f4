"""``codeqa train``: one stage, or pre-training on generated pairs followed by fine-tuning on real ones.

Each stage is a :class:`~codeqa.training.trainer.Trainer` run in its own folder: ``<out>/pretrain/`` for
stage 1, ``<out>/`` for the fine-tuning. ``--resume auto`` continues whichever stage was running.
``max_time`` bounds all of it: epochs, validation, the decoding grid and the saves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from pathlib import Path

import torch

from codeqa import checkpoint, runfiles
from codeqa.config import TrainConfig, parse_duration
from codeqa.data import Example, available_splits, read_split
from codeqa.errors import CodeQAError
from codeqa.fileio import write_text
from codeqa.training.outputs import record_in_log, setup_logging
from codeqa.training.rundir import RunDir
from codeqa.training.runtime import Runtime, set_seed, setup_runtime
from codeqa.training.trainer import Trainer
from codeqa.vocab import Vocab, build_vocab

log = logging.getLogger("codeqa.train")

PRETRAIN_SHARE = 0.6  # of max_time, at most, for stage 1: a capped run still ends fine-tuned


def train(config: TrainConfig, data_dir: str | Path, out_dir: str | Path, vocab_path: str | Path | None = None,
          resume: str | None = None) -> dict:
    """Train; returns a summary (best epoch and metrics, epochs run, why it stopped)."""
    started = time.monotonic()
    budget = parse_duration(config.max_time)
    deadline = started + budget if budget else None
    runtime = setup_runtime(config.precision)
    out_dir = Path(out_dir)
    try:
        with RunDir(out_dir, runtime.main) as run:
            runtime.barrier()
            setup_logging(out_dir, runtime.main)
            if run.removed:
                log.info("removed %d temporary file(s) of an interrupted save: %s", len(run.removed),
                         ", ".join(run.removed))
            if config.batch_size % runtime.world:
                raise CodeQAError(f"batch_size={config.batch_size} is the batch of one optimizer step, split "
                                  f"evenly over the {runtime.world} processes: make it a multiple of {runtime.world}")
            if pretraining_wanted(config, data_dir):
                return pretrain_then_finetune(config, data_dir, out_dir, vocab_path, resume, runtime, run, deadline)
            return run_stage(config, data_dir, out_dir, vocab_path, resume, runtime, run, deadline)
    except torch.cuda.OutOfMemoryError:
        raise CodeQAError(
            f"CUDA ran out of GPU memory with batch_size={config.batch_size} (max_src_len="
            f"{config.max_src_len}, d_model={config.d_model}): lower batch_size, e.g. --set batch_size="
            f"{max(1, config.batch_size // 2)}; the last checkpoint in {out_dir} is intact") from None
    except CodeQAError as err:
        record_in_log(f"stopped: {err}")  # logs.txt says why the run stopped, when it is kept
        raise
    finally:
        runtime.close()


# ---------------------------------------------------------------------------------------- one stage
def load_examples(config: TrainConfig, data_dir: str | Path) -> tuple[list[Example], list[Example]]:
    train = read_split(data_dir, config.lang, config.train_split, config.code_field)
    valid = read_split(data_dir, config.lang, config.valid_split, config.code_field)
    if config.max_train_examples:
        train = train[: config.max_train_examples]
    if config.max_valid_examples:
        valid = valid[: config.max_valid_examples]
    return train, valid


def resume_state(resume: str | None, out_dir: Path) -> tuple[Path, dict] | None:
    """The checkpoint ``--resume`` names and its state: ``auto``, the newest readable one in ``out_dir``."""
    if not resume:
        return None
    if resume == "auto":
        return checkpoint.newest_readable(out_dir)
    return Path(resume), checkpoint.load_resumable(resume)


def run_stage(config: TrainConfig, data_dir, out_dir: Path, vocab_path, resume, runtime: Runtime, run: RunDir,
              deadline: float | None) -> dict:
    """Train one stage into ``out_dir``, then choose the decoding on validation when the config asks, all
    before ``deadline`` (``time.monotonic()``; None: no limit)."""
    set_seed(config.seed)
    found = resume_state(resume, out_dir)
    path, state = found if found else (None, None)
    init_state = checkpoint.load(config.init_from) if config.init_from and state is None else None
    train_examples, valid_examples = load_examples(config, data_dir)
    if vocab_path:
        vocab = Vocab.load(vocab_path)
    elif state is not None or init_state is not None:
        vocab = Vocab.from_state((state or init_state)["vocab"])
    else:
        vocab = make_vocab(config, train_examples)
    if state is not None:
        checkpoint.check_compatible(state, path, config, vocab)
    if init_state is not None:
        checkpoint.check_compatible(init_state, config.init_from, config, vocab)
    if runtime.main:
        vocab.save(out_dir / runfiles.VOCAB)

    model_config = (state or init_state or {}).get("model_config")
    trainer = Trainer(config, runtime, vocab, train_examples, valid_examples, out_dir, model_config)
    if state is not None:
        trainer.restore(state, path)
    elif init_state is not None:
        trainer.init_weights(init_state, config.init_from)
    elif resume == "auto":
        log.info("no checkpoint in %s: starting from scratch", out_dir)
    del state, init_state
    run.training_began()
    stopped = trainer.fit(deadline)
    best = trainer.best
    summary = {"stopped": stopped, "epochs_run": trainer.history[-1]["epoch"] if trainer.history else 0,
               "best": best, "out_dir": str(out_dir)}
    if runtime.main:
        log.info("stopped: %s; best %s %s at epoch %s", stopped, best["metric"],
                 "n/a" if best["value"] is None else f"{best['value']:.4f}", best["epoch"])
        best_path = out_dir / runfiles.best_model(config.lang)
        if config.tune_beam_sizes and best["epoch"] is not None and best_path.is_file():
            summary["decoding"] = tune_decoding(best_path, trainer, deadline)
    return summary


def tune_decoding(best_path: Path, trainer: Trainer, deadline: float | None) -> dict | None:
    """Beam size, length penalty and rerank chosen on validation F1; a failure here is logged, never fatal
    (the trained model is already saved)."""
    from codeqa.tuning import tune_best_checkpoint

    try:
        return tune_best_checkpoint(best_path, trainer, deadline)["chosen"]
    except Exception as err:  # noqa: BLE001 — never lose a finished run to its last step
        decoding = trainer.decoding
        log.warning("could not tune the decoding settings (%s: %s); %s keeps beam %d, length penalty %.2f, "
                    "rerank %s", type(err).__name__, err, best_path.name, decoding.beam_size,
                    decoding.length_penalty, decoding.rerank)
        return None


# ---------------------------------------------------------------------------------------- two stages
def pretraining_wanted(config: TrainConfig, data_dir: str | Path) -> bool:
    if not (config.pretrain_split and config.pretrain_epochs):
        return False
    if config.pretrain_split in available_splits(data_dir, config.lang):
        return True
    log.warning("no %s split in %s: training on %s only, without pre-training (make one with `codeqa "
                "make-dataset --source stdlib --pretrain-for %s`)", config.pretrain_split,
                Path(data_dir) / config.lang, config.train_split, data_dir)
    return False


def stage_configs(config: TrainConfig, pretrained: Path) -> tuple[TrainConfig, TrainConfig]:
    """Stage 1 trains ``pretrain_epochs`` on the pretrain split (no early stop: generated data is
    plentiful), validating on the real validation split; stage 2 starts from stage 1's best model."""
    single = dataclasses.replace(config, pretrain_split="", pretrain_epochs=0)
    stage1 = dataclasses.replace(single, train_split=config.pretrain_split, epochs=config.pretrain_epochs,
                                 patience=0, save_every=0, tune_beam_sizes="", freeze="")
    stage2 = dataclasses.replace(single, init_from=str(pretrained))
    return stage1, stage2


def joint_vocab(config: TrainConfig, data_dir) -> Vocab:
    """The vocabulary over both training splits, so that pre-trained embeddings carry over."""
    examples = [ex for split in (config.train_split, config.pretrain_split)
                for ex in read_split(data_dir, config.lang, split, config.code_field)]
    return make_vocab(config, examples)


def make_vocab(config: TrainConfig, examples: list[Example]):
    """The vocabulary a fresh run builds: the config's kind over ``examples``, or a pretrained model's own
    tokenizer."""
    if config.model == "hf_seq2seq":
        from codeqa.models.hf_seq2seq import HFTokenizer

        return HFTokenizer.from_pretrained(config.pretrained)
    return build_vocab(examples, config.vocab_type, config.min_freq, config.max_vocab)


def pretrain_then_finetune(config, data_dir, out_dir: Path, vocab_path, resume, runtime: Runtime, run: RunDir,
                           deadline: float | None) -> dict:
    """Pre-train on generated pairs (``<out>/pretrain/``), then fine-tune on the real ones (``<out>/``).

    One vocabulary covers both training splits. Stage 1 is done once ``pretrain/finished.json`` exists;
    stage 2 has begun once ``<out>`` has a checkpoint. Stage 1 gets at most :data:`PRETRAIN_SHARE` of the
    time left; once it is done, only its best model is kept, which is what stage 2 starts from.
    """
    pre_dir = out_dir / runfiles.PRETRAIN_DIR
    stage1, stage2 = stage_configs(config, pre_dir / runfiles.best_model(config.lang))
    if resume == "auto":
        resuming_stage2 = checkpoint.newest(out_dir) is not None
    else:
        resuming_stage2 = bool(resume) and Path(resume).resolve().parent != pre_dir.resolve()
    summary1 = None
    if not resuming_stage2 and not (resume and (pre_dir / runfiles.PRETRAIN_FINISHED).is_file()):
        if runtime.main:
            pre_dir.mkdir(parents=True, exist_ok=True)
        runtime.barrier()
        if vocab_path is None and (not resume or checkpoint.newest(pre_dir) is None):
            vocab_path = out_dir / runfiles.VOCAB
            if runtime.main:
                joint_vocab(config, data_dir).save(vocab_path)
            runtime.barrier()
        log.info("stage 1 of 2: pre-training %d epoch(s) on the %s split", stage1.epochs, stage1.train_split)
        share = None if deadline is None else time.monotonic() + PRETRAIN_SHARE * (deadline - time.monotonic())
        summary1 = run_stage(stage1, data_dir, pre_dir, vocab_path, resume, runtime, run, share)
        if summary1["stopped"] != "completed all epochs":  # only its share of max_time stops stage 1
            log.info("pre-training used its share of max_time after %d of %d epochs; fine-tuning from its "
                     "best model", summary1["epochs_run"], stage1.epochs)
        if runtime.main:
            write_text(pre_dir / runfiles.PRETRAIN_FINISHED, json.dumps(summary1, indent=2, default=str) + "\n")
            for done in checkpoint.candidates(pre_dir):  # resume files of a finished stage: no longer needed
                with contextlib.suppress(OSError):
                    done.unlink()
        resume = None  # stage 2 starts fresh from the pre-trained weights
    log.info("stage 2 of 2: fine-tuning on the %s split from %s", stage2.train_split, stage2.init_from)
    summary2 = run_stage(stage2, data_dir, out_dir, vocab_path, resume, runtime, run, deadline)
    return {**summary2, "stage": "finetune", "pretrain": summary1}
