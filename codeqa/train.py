"""The training loop: mixed precision, DistributedDataParallel, validation, checkpoints, resume.

One process per GPU under ``torchrun`` (or a single process); only rank 0 logs, evaluates and saves.
Every epoch ends with ``last.pt`` (everything needed to resume exactly), the metrics history in
``metrics.jsonl`` and ``training_curves.png``; ``best_model_<lang>.pt`` follows the selection metric and
``checkpoint_epoch<N>.pt`` is kept every ``save_every`` epochs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from codeqa import checkpoint
from codeqa.batching import LengthGroupedSampler, collator_for, encode_all
from codeqa.config import TrainConfig, parse_duration
from codeqa.data import Example, available_splits, read_split
from codeqa.errors import CodeQAError
from codeqa.fileio import write_text
from codeqa.models import CopyModel, build_model
from codeqa.vocab import Vocab

log = logging.getLogger("codeqa.train")


# ---------------------------------------------------------------------------------------- runtime
@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1
    precision: str = "fp32"

    @property
    def main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        if self.precision == "fp32":
            return nullcontext()
        dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
        return torch.autocast(device_type=self.device.type, dtype=dtype)


def resolve_precision(requested: str, device: torch.device) -> str:
    """fp16 with loss scaling on GPUs without fast bf16 (T4), bf16 where supported, fp32 on CPU."""
    if device.type != "cuda":
        if requested in ("fp16", "bf16"):
            log.warning("precision %s asked for, but there is no GPU: training in fp32", requested)
        return "fp32"
    if requested != "auto":
        return requested
    return "bf16" if torch.cuda.get_device_capability(device)[0] >= 8 else "fp16"


def setup_runtime(precision: str) -> Runtime:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local)
            device = torch.device("cuda", local)
            dist.init_process_group("nccl")
        else:
            device = torch.device("cpu")
            dist.init_process_group("gloo")
    else:
        rank = 0
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return Runtime(device, rank, world, resolve_precision(precision, device))


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------------------- pieces
def load_examples(config: TrainConfig, data_dir: str | Path) -> tuple[list[Example], list[Example]]:
    train = read_split(data_dir, config.lang, config.train_split, config.code_field)
    valid = read_split(data_dir, config.lang, config.valid_split, config.code_field)
    if config.max_train_examples:
        train = train[: config.max_train_examples]
    if config.max_valid_examples:
        valid = valid[: config.max_valid_examples]
    return train, valid


def make_optimizer(config: TrainConfig, model: CopyModel) -> torch.optim.Optimizer:
    if config.optimizer == "adagrad":
        return torch.optim.Adagrad(model.parameters(), lr=config.lr,
                                   initial_accumulator_value=config.adagrad_init_acc)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    on_gpu = next(model.parameters()).is_cuda
    return torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, betas=(0.9, 0.98),
                             fused=on_gpu)  # one kernel for the whole update on GPU


def make_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer, total_steps: int):
    warmup = max(0, config.warmup_steps)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if config.lr_schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        return max(0.1, 1.0 - 0.9 * progress)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@torch.no_grad()
def validation_loss(model: CopyModel, encoded, collate, runtime: Runtime, batch_size: int) -> float:
    model.eval()
    total, count = 0.0, 0
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].src))
    for start in range(0, len(order), batch_size):
        batch = collate([encoded[i] for i in order[start:start + batch_size]]).to(runtime.device)
        with runtime.autocast():
            loss, n = model.loss(batch)
        total += float(loss)
        count += n
    model.train()
    return total / max(1, count)


def is_better(metric: str, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value < best if metric == "val_loss" else value > best


# ---------------------------------------------------------------------------------------- outputs
def write_history(out_dir: Path, history: list[dict]) -> None:
    write_text(out_dir / "metrics.jsonl", "".join(json.dumps(row, sort_keys=True) + "\n" for row in history))


def plot_curves(out_dir: Path, history: list[dict]) -> None:
    """Loss and validation-metric curves, headless; a plotting problem is logged, never fatal."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from codeqa.fileio import atomic_open

        epochs = [row["epoch"] for row in history]
        fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 4))
        ax_loss.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train")
        ax_loss.plot(epochs, [row["val_loss"] for row in history], marker="o", label="validation")
        ax_loss.set(xlabel="epoch", ylabel="loss per answer token", title="Loss")
        ax_loss.legend()
        for key, label in (("val_f1", "F1"), ("val_rouge_l", "ROUGE-L"), ("val_exact_match", "exact match"),
                           ("val_bleu", "official BLEU (rewards short answers)")):
            points = [(row["epoch"], row[key]) for row in history if row.get(key) is not None]
            if points:
                ax_metric.plot(*zip(*points), marker="o", label=label)
        ax_metric.set(xlabel="epoch", ylabel="score (0-100)", title="Validation answers")
        if ax_metric.lines:
            ax_metric.legend()
        fig.tight_layout()
        with atomic_open(out_dir / "training_curves.png", "wb") as handle:
            fig.savefig(handle, format="png", dpi=100)
        plt.close(fig)
    except Exception as err:  # noqa: BLE001 — curves are a convenience; training results matter more
        log.warning("could not draw training_curves.png: %s", err)


def setup_logging(out_dir: Path, main: bool) -> None:
    logger = logging.getLogger("codeqa")
    logger.setLevel(logging.INFO if main else logging.WARNING)
    for handler in list(logger.handlers):
        if getattr(handler, "_codeqa_run", False):
            logger.removeHandler(handler)
            handler.close()
    if main:
        file_handler = logging.FileHandler(out_dir / "logs.txt", encoding="utf-8")
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        file_handler._codeqa_run = True  # type: ignore[attr-defined]
        logger.addHandler(file_handler)
        if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
                   for h in logging.getLogger().handlers + logger.handlers):
            stream = logging.StreamHandler(sys.stdout)
            stream.setFormatter(logging.Formatter("%(message)s"))
            stream._codeqa_run = True  # type: ignore[attr-defined]
            logger.addHandler(stream)


# ---------------------------------------------------------------------------------------- the loop
def train(config: TrainConfig, data_dir: str | Path, out_dir: str | Path, vocab_path: str | Path | None = None,
          resume: str | None = None) -> dict:
    """Train; returns a summary (best epoch and metrics, epochs run, why it stopped)."""
    runtime = setup_runtime(config.precision)
    out_dir = Path(out_dir)
    if runtime.main:
        out_dir.mkdir(parents=True, exist_ok=True)
    if runtime.world > 1:
        dist.barrier()
    setup_logging(out_dir, runtime.main)
    try:
        if config.batch_size % runtime.world:
            raise CodeQAError(f"batch_size={config.batch_size} is the batch of one optimizer step, split evenly "
                              f"over the {runtime.world} processes: make it a multiple of {runtime.world}")
        if pretraining_wanted(config, data_dir):
            return _pretrain_then_finetune(config, data_dir, out_dir, vocab_path, resume, runtime)
        return _train(config, data_dir, out_dir, vocab_path, resume, runtime)
    except torch.cuda.OutOfMemoryError:
        raise CodeQAError(
            f"CUDA ran out of GPU memory with batch_size={config.batch_size} (max_src_len="
            f"{config.max_src_len}, d_model={config.d_model}): lower batch_size, e.g. --set batch_size="
            f"{max(1, config.batch_size // 2)}; the last checkpoint in {out_dir} is intact") from None
    finally:
        if runtime.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


# ---------------------------------------------------------------------------------------- two stages
PRETRAIN_DIR = "pretrain"  # stage 1's outputs, inside the out dir
PRETRAIN_FINISHED = "finished.json"  # written when stage 1 has run all its epochs, or its share of max_time
PRETRAIN_SHARE = 0.6  # of max_time, at most, for stage 1


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
                                 patience=0, save_every=0, tune_beam_sizes="")
    stage2 = dataclasses.replace(single, init_from=str(pretrained))
    return stage1, stage2


def _pretrain_then_finetune(config, data_dir, out_dir: Path, vocab_path, resume, runtime: Runtime) -> dict:
    """Pre-train on generated pairs (``<out>/pretrain/``), then fine-tune on the real ones (``<out>/``).

    One vocabulary covers both training splits. ``--resume auto`` continues whichever stage was running:
    stage 1 is done once ``pretrain/finished.json`` exists, stage 2 has begun once ``<out>`` has a checkpoint.
    """
    started = time.monotonic()
    pre_dir = out_dir / PRETRAIN_DIR
    stage1, stage2 = stage_configs(config, pre_dir / f"best_model_{config.lang}.pt")
    budget = parse_duration(config.max_time)
    if budget:  # so that a run capped by max_time still ends with a fine-tuned model
        stage1 = dataclasses.replace(stage1, max_time=f"{max(0.001, PRETRAIN_SHARE * budget):.3f}s")
    resume_path = _resolve_resume(resume, out_dir)
    resuming_stage2 = resume_path is not None and resume_path.parent.resolve() != pre_dir.resolve()
    summary1 = None
    if not resuming_stage2 and not (resume and (pre_dir / PRETRAIN_FINISHED).is_file()):
        if runtime.main:
            pre_dir.mkdir(parents=True, exist_ok=True)
        if runtime.world > 1:
            dist.barrier()
        if vocab_path is None and (not resume or checkpoint.newest(pre_dir) is None):
            vocab_path = out_dir / "vocab.json"
            if runtime.main:
                joint_vocab(config, data_dir).save(vocab_path)
            if runtime.world > 1:
                dist.barrier()
        log.info("stage 1 of 2: pre-training %d epoch(s) on the %s split", stage1.epochs, stage1.train_split)
        summary1 = _train(stage1, data_dir, pre_dir, vocab_path, resume, runtime)
        if summary1["stopped"] != "completed all epochs":  # only its share of max_time stops stage 1
            log.info("pre-training used its share of max_time after %d of %d epochs; fine-tuning from its "
                     "best model", summary1["epochs_run"], stage1.epochs)
        if runtime.main:
            write_text(pre_dir / PRETRAIN_FINISHED, json.dumps(summary1, indent=2, default=str) + "\n")
        resume = None  # stage 2 starts fresh from the pre-trained weights
    if budget:
        stage2 = dataclasses.replace(stage2, max_time=f"{max(1.0, budget - (time.monotonic() - started)):.0f}s")
    log.info("stage 2 of 2: fine-tuning on the %s split from %s", stage2.train_split, stage2.init_from)
    summary2 = _train(stage2, data_dir, out_dir, vocab_path, resume, runtime)
    return {**summary2, "stage": "finetune", "pretrain": summary1}


def joint_vocab(config: TrainConfig, data_dir) -> Vocab:
    """The vocabulary over both training splits, so that pre-trained embeddings carry over."""
    examples = [ex for split in (config.train_split, config.pretrain_split)
                for ex in read_split(data_dir, config.lang, split, config.code_field)]
    return Vocab.build(examples, min_freq=config.min_freq, max_size=config.max_vocab)


def _resolve_resume(resume: str | None, out_dir: Path) -> Path | None:
    if not resume:
        return None
    if resume == "auto":
        return checkpoint.newest(out_dir)
    return Path(resume)


def _train(config: TrainConfig, data_dir, out_dir: Path, vocab_path, resume, runtime: Runtime) -> dict:
    started = time.monotonic()
    set_seed(config.seed)
    resume_path = _resolve_resume(resume, out_dir)
    state = checkpoint.load(resume_path) if resume_path else None
    # init_from: start from another run's weights (pre-training on generated data, then fine-tuning)
    init_state = checkpoint.load(config.init_from) if config.init_from and state is None else None
    train_examples, valid_examples = load_examples(config, data_dir)
    if vocab_path:
        vocab = Vocab.load(vocab_path)
    elif state is not None or init_state is not None:
        vocab = Vocab((state or init_state)["vocab"])
    else:
        vocab = Vocab.build(train_examples, min_freq=config.min_freq, max_size=config.max_vocab)
    if state is not None:
        checkpoint.check_compatible(state, resume_path, config, vocab)
    if init_state is not None:
        checkpoint.check_compatible(init_state, config.init_from, config, vocab)
    if runtime.main:
        vocab.save(out_dir / "vocab.json")

    train_encoded = encode_all(train_examples, vocab, config.max_src_len, config.max_tgt_len)
    valid_encoded = encode_all(valid_examples, vocab, config.max_src_len, config.max_tgt_len)
    collate = collator_for(vocab, runtime.device)
    # batch_size is per optimizer step, whatever the number of processes: the same config trains the same way
    # on one GPU as on Kaggle's two
    per_process = config.batch_size // runtime.world
    sampler = LengthGroupedSampler([len(e.src) for e in train_encoded], per_process, seed=config.seed,
                                   num_replicas=runtime.world, rank=runtime.rank)
    loader = torch.utils.data.DataLoader(train_encoded, batch_sampler=sampler, collate_fn=collate,
                                         num_workers=config.num_workers,
                                         # kept between epochs: an epoch of 6,000 examples is 0.3 s of
                                         # compiled steps on an H200, and starting workers takes a share
                                         persistent_workers=config.num_workers > 0,
                                         # its own seed, not a draw from the global generator each time an
                                         # epoch starts workers: resuming would otherwise change dropout
                                         generator=torch.Generator().manual_seed(config.seed),
                                         pin_memory=runtime.device.type == "cuda")
    model = build_model(config, len(vocab), vocab.pad_id).to(runtime.device)
    optimizer = make_optimizer(config, model)
    steps_per_epoch = len(sampler)
    scheduler = make_scheduler(config, optimizer, config.epochs * steps_per_epoch)
    scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.precision == "fp16")

    history: list[dict] = []
    best: dict = {"metric": config.select_metric, "value": None, "epoch": None}
    start_epoch, step, elapsed_before = 1, 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state["config"].get("lr") != config.lr:  # an --set lr=... on resume takes effect from here on
            scheduler.base_lrs = [config.lr] * len(optimizer.param_groups)
            for group, factor in zip(optimizer.param_groups, scheduler.lr_lambdas):
                group["initial_lr"], group["lr"] = config.lr, config.lr * factor(scheduler.last_epoch)
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        history, best = state["history"], state["best"]
        start_epoch, step = state["epoch"] + 1, state["step"]
        elapsed_before = state.get("elapsed", 0.0)
        log.info("resumed from %s (epoch %d, step %d)", resume_path, state["epoch"], step)
    elif init_state is not None:
        model.load_state_dict(init_state["model"])
        log.info("initialised from %s (trained %d epochs)", config.init_from, init_state["epoch"])
    elif resume == "auto":
        log.info("no checkpoint in %s: starting from scratch", out_dir)
    del state, init_state

    ddp_model = compiled(DistributedDataParallel(model) if runtime.world > 1 else model, config, runtime.device)
    max_seconds = parse_duration(config.max_time)
    log.info("model %s: %.2fM parameters; vocabulary %d; %d train / %d validation examples; device %s x%d, %s; "
             "batch %d (%d per process)", config.model, model.num_parameters() / 1e6, len(vocab),
             len(train_encoded), len(valid_encoded), runtime.device.type, runtime.world, runtime.precision,
             config.batch_size, per_process)
    stop_reason = "completed all epochs"
    epochs_since_best = _epochs_since_best(history, best)
    for epoch in range(start_epoch, config.epochs + 1):
        epoch_times = [row["seconds"] for row in history]
        if max_seconds and epoch_times and (time.monotonic() - started + max(epoch_times)) > max_seconds:
            stop_reason = f"max_time {config.max_time} would be passed during the next epoch"
            break
        sampler.set_epoch(epoch)
        epoch_start = time.monotonic()
        train_loss, examples_seen, tokens_seen, step = _run_epoch(
            ddp_model, model, loader, optimizer, scheduler, scaler, config, runtime, epoch, step)
        seconds = time.monotonic() - epoch_start
        row = {"epoch": epoch, "step": step, "train_loss": train_loss, "lr": scheduler.get_last_lr()[0],
               "seconds": round(seconds, 3), "examples_per_s": round(examples_seen * runtime.world / seconds, 1),
               "tokens_per_s": round(tokens_seen * runtime.world / seconds, 1)}
        stop = torch.zeros(1, device=runtime.device)
        if runtime.main:
            row.update(_validate(model, valid_examples, valid_encoded, collate, vocab, config, runtime, epoch))
            history.append(row)
            value = row.get(config.select_metric if config.select_metric == "val_loss" else f"val_{config.select_metric}")
            improved = value is not None and is_better(config.select_metric, value, best["value"])
            if improved:
                best = {"metric": config.select_metric, "value": value, "epoch": epoch}
                epochs_since_best = 0
            elif value is not None:
                epochs_since_best += 1
            row["best_epoch"] = best["epoch"]
            elapsed = elapsed_before + time.monotonic() - started
            _save_epoch(out_dir, model, optimizer, scheduler, scaler, config, vocab, epoch, step, history, best,
                        elapsed, improved, runtime)
            log.info("epoch %d/%d: train loss %.4f, val loss %.4f%s, %.0f examples/s, %.1fs%s", epoch,
                     config.epochs, train_loss, row["val_loss"],
                     "".join(f", val {k} {row['val_' + k]:.2f}" for k in ("f1", "rouge_l", "exact_match", "bleu")
                             if row.get("val_" + k) is not None),
                     row["examples_per_s"], seconds, " (best so far)" if improved else "")
            if config.patience and epochs_since_best >= config.patience:
                stop_reason = f"early stopping: no better {config.select_metric} for {config.patience} epochs"
                stop.fill_(1)
        if runtime.world > 1:
            dist.broadcast(stop, 0)
        if bool(stop.item()):
            break
    summary = {"stopped": stop_reason, "epochs_run": history[-1]["epoch"] if history else 0, "best": best,
               "out_dir": str(out_dir)}
    if runtime.main:
        log.info("stopped: %s; best %s %s at epoch %s", stop_reason, best["metric"],
                 _fmt(best["value"]), best["epoch"])
        best_path = out_dir / f"best_model_{config.lang}.pt"
        if config.tune_beam_sizes and best["epoch"] is not None and best_path.is_file():
            summary["decoding"] = _tune_decoding(best_path, model, valid_examples, vocab, config, runtime)
    return summary


def _tune_decoding(best_path, model, valid_examples, vocab, config, runtime) -> dict | None:
    """Beam size and length penalty chosen on validation F1; a failure here is logged, never fatal (the
    trained model is already saved)."""
    from codeqa.tuning import tune_best_checkpoint

    try:
        return tune_best_checkpoint(best_path, model, valid_examples, vocab, config, runtime.device,
                                    runtime.autocast, config.valid_split)["chosen"]
    except Exception as err:  # noqa: BLE001 — never lose a finished run to its last step
        log.warning("could not tune the decoding settings (%s: %s); %s keeps beam %d, length penalty %.2f, "
                    "rerank %s", type(err).__name__, err, best_path.name, config.beam_size, config.length_penalty,
                    config.rerank)
        return None


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _epochs_since_best(history: list[dict], best: dict) -> int:
    if best.get("epoch") is None:
        return 0
    return sum(1 for row in history if row["epoch"] > best["epoch"])


def compile_unsupported(device: torch.device) -> str | None:
    """Why ``torch.compile`` should not run here, or None. Its GPU kernels come from Triton, which supports
    CUDA capability 8.0 and up since Triton 3.3 (torch 2.7): a T4 (7.5) and a P100 (6.0), Kaggle's GPUs, train
    eagerly, as they were measured to."""
    if device.type != "cuda":
        return None
    major, minor = torch.cuda.get_device_capability(device)
    if (major, minor) < (8, 0):
        return (f"Triton, which compiles for the GPU, supports CUDA capability 8.0 and up and this GPU has "
                f"{major}.{minor}")
    return None


def compiled(module: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.nn.Module:
    """The module training steps run through: compiled when ``compile_mode`` asks (shapes vary by batch,
    so dynamic). Checkpoints, validation and decoding keep using the plain model, whose weights it shares."""
    if not config.compile_mode:
        return module
    reason = compile_unsupported(device)
    if reason:
        log.warning("compile_mode %s ignored: %s; training eagerly", config.compile_mode, reason)
        return module
    return torch.compile(module, mode=config.compile_mode, dynamic=True)


def train_step(ddp_model, model: CopyModel, batch, optimizer, scaler, config: TrainConfig,
               runtime: Runtime) -> tuple[torch.Tensor, int]:
    """One optimizer step (forward under autocast, scaled backward, clipping); the same for `bench`."""
    with runtime.autocast():
        loss_sum, n = ddp_model(batch, config.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss_sum / max(1, n)).backward()
    if config.grad_clip > 0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return loss_sum, n


def _run_epoch(ddp_model, model, loader, optimizer, scheduler, scaler, config, runtime, epoch, step):
    from tqdm import tqdm

    model.train()
    total = torch.zeros((), device=runtime.device)
    examples = tokens = 0
    token_count = 0
    bar = tqdm(loader, desc=f"epoch {epoch}", unit="batch", disable=not runtime.main, leave=False,
               mininterval=1.0 if sys.stderr.isatty() else 30.0, file=sys.stderr)
    window_start, window_examples = time.monotonic(), 0
    n_batches = len(loader)
    for i, batch in enumerate(bar):
        batch = batch.to(runtime.device, non_blocking=True)
        loss_sum, n = train_step(ddp_model, model, batch, optimizer, scaler, config, runtime)
        scheduler.step()
        step += 1
        total += loss_sum.detach().float()
        token_count += n
        examples += batch.size
        tokens += int(batch.src.numel() + batch.tgt_out.numel())
        window_examples += batch.size
        if (i + 1) % config.log_every == 0 or i + 1 == n_batches:
            running = float(total) / max(1, token_count)
            if not math.isfinite(running):
                raise CodeQAError(f"training diverged: the loss became {running} at epoch {epoch}, step {step}; "
                                  "the last checkpoint was kept as it was. Lower lr or set precision=fp32")
            now = time.monotonic()
            rate = window_examples * runtime.world / max(1e-9, now - window_start)
            bar.set_postfix(loss=f"{running:.3f}", ex_s=f"{rate:.0f}")
            window_start, window_examples = now, 0
    return float(total) / max(1, token_count), examples, tokens, step


def _validate(model, valid_examples, valid_encoded, collate, vocab, config, runtime, epoch) -> dict:
    row: dict = {"val_loss": validation_loss(model, valid_encoded, collate, runtime, config.batch_size)}
    if not math.isfinite(row["val_loss"]):
        raise CodeQAError(f"training diverged: validation loss {row['val_loss']} at epoch {epoch}; the last "
                          "checkpoint was kept as it was. Lower lr or set precision=fp32")
    if config.eval_every and (epoch % config.eval_every == 0 or epoch == config.epochs):
        from codeqa.decode import predict
        from codeqa.metrics import compute_metrics

        with runtime.autocast():
            outputs = predict(model, valid_examples, vocab, beam_size=config.beam_size,
                              max_src_len=config.max_src_len, max_tgt_len=config.max_tgt_len,
                              length_penalty=config.length_penalty, rerank=config.rerank,
                              batch_size=config.decode_batch(runtime.device, config.beam_size),
                              device=runtime.device)
        scores = compute_metrics([o[0][0] if o else "" for o in outputs], [e.answer for e in valid_examples])
        row.update({f"val_{k}": v for k, v in scores.items() if k != "count"})
    return row


def _save_epoch(out_dir, model, optimizer, scheduler, scaler, config, vocab, epoch, step, history, best,
                elapsed, improved, runtime) -> None:
    base = {"model": model.state_dict(), "config": config.to_dict(), "vocab": vocab.itos, "epoch": epoch,
            "step": step, "history": history, "best": best}
    if improved:
        checkpoint.save(out_dir / f"best_model_{config.lang}.pt", base)
    full = {**base, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler.is_enabled() else {}, "rng": rng_state(), "elapsed": elapsed}
    checkpoint.save(out_dir / "last.pt", full)
    if config.save_every and epoch % config.save_every == 0:
        checkpoint.save(out_dir / f"checkpoint_epoch{epoch}.pt", full)
    write_history(out_dir, history)
    plot_curves(out_dir, history)
