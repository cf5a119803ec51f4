"""One stage of training: the :class:`Trainer` owns the model, its optimizer, scheduler and loss scaler, the
metric history and the best epoch so far, and runs epochs, validation and saves.

Only the main process validates and saves; under DistributedDataParallel every process steps the same
number of batches, and the main one tells the others when to stop.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from codeqa import checkpoint, runfiles
from codeqa.batching import LengthGroupedSampler
from codeqa.config import TrainConfig
from codeqa.data import Example
from codeqa.decode import DecodeConfig, predict
from codeqa.errors import CodeQAError
from codeqa.metrics import compute_metrics
from codeqa.models import build_model
from codeqa.training.optim import make_optimizer, make_scheduler, set_base_lr
from codeqa.training.outputs import plot_curves, write_history
from codeqa.training.runtime import Runtime, compiled, rng_state, set_rng_state
from codeqa.vocab import Vocab

log = logging.getLogger("codeqa.train")

DIVERGED_HINT = "lower lr or set precision=fp32"


class Trainer:
    def __init__(self, config: TrainConfig, runtime: Runtime, vocab: Vocab, train_examples: list[Example],
                 valid_examples: list[Example], out_dir: Path | None = None, model_config: dict | None = None):
        self.config, self.runtime, self.vocab, self.out_dir = config, runtime, vocab, out_dir
        device = runtime.device
        self.valid_examples = valid_examples
        self.train_encoded = vocab.encode_all(train_examples, config.max_src_len, config.max_tgt_len)
        self.valid_encoded = vocab.encode_all(valid_examples, config.max_src_len, config.max_tgt_len)
        self.collate = vocab.collator(device)
        # batch_size is per optimizer step, whatever the number of processes: a config trains the same way
        # on one GPU as on Kaggle's two
        self.per_process = config.batch_size // runtime.world
        self.sampler = LengthGroupedSampler([len(e.src) for e in self.train_encoded], self.per_process,
                                            seed=config.seed, num_replicas=runtime.world, rank=runtime.rank)
        self.loader = torch.utils.data.DataLoader(
            self.train_encoded, batch_sampler=self.sampler, collate_fn=self.collate,
            num_workers=config.num_workers, persistent_workers=config.num_workers > 0,
            # a generator of its own: drawing worker seeds from the global one would change dropout on resume
            generator=torch.Generator().manual_seed(config.seed), pin_memory=device.type == "cuda")
        self.model = build_model(config.model_settings(), len(vocab), vocab.pad_id, vocab.sep_id,
                                 model_config).to(device)
        if config.freeze == "embeddings":
            if config.init_from:  # the optimizer then never holds them
                self.model.embed.weight.requires_grad_(False)
            else:
                log.info("freeze: embeddings applies when fine-tuning (init_from, or a pretrain split); "
                         "training from scratch learns them")
        self.optimizer = make_optimizer(config, self.model)
        self.scheduler = make_scheduler(config, self.optimizer, config.epochs * len(self.sampler))
        self.scaler = torch.amp.GradScaler(device.type, enabled=runtime.precision == "fp16")
        self.decoding = DecodeConfig.from_config(config)
        self.step_model: torch.nn.Module = self.model  # what training steps run through (see prepare_steps)
        self.history: list[dict] = []
        self.best: dict = {"metric": config.select_metric, "value": None, "epoch": None}
        self.epoch = self.step = 0
        self.elapsed_before = 0.0  # seconds the run had trained before it was resumed

    # ---------------------------------------------------------------- checkpoints
    def restore(self, state: dict, path: Path) -> None:
        """Continue exactly where the checkpoint ``state`` (made by :meth:`save`) stopped."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state["config"].get("lr") != self.config.lr:
            set_base_lr(self.optimizer, self.scheduler, self.config.lr)
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.history, self.best = state["history"], state["best"]
        self.epoch, self.step = state["epoch"], state["step"]
        self.elapsed_before = state.get("elapsed", 0.0)
        log.info("resumed from %s (epoch %d, step %d)", path, self.epoch, self.step)

    def init_weights(self, state: dict, path: Path | str) -> None:
        """Start from another run's weights (fine-tuning a pre-trained model)."""
        self.model.load_state_dict(state["model"])
        log.info("initialised from %s (trained %d epochs)", path, state["epoch"])

    def checkpoint_state(self, full: bool, elapsed: float) -> dict:
        """The model with what answering needs; with ``full``, also what resuming exactly needs."""
        state = {"model": self.model.state_dict(), "config": self.config.to_dict(), "vocab": self.vocab.to_state(),
                 "epoch": self.epoch, "step": self.step, "history": self.history, "best": self.best}
        if hasattr(self.model, "model_config"):  # a pretrained network's shape, to rebuild it offline
            state["model_config"] = self.model.model_config()
        if full:
            state.update(optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                         scaler=self.scaler.state_dict() if self.scaler.is_enabled() else {}, rng=rng_state(),
                         elapsed=elapsed)
        return state

    def save(self, improved: bool, elapsed: float) -> None:
        """``last.pt`` every epoch, the best model when it improved, a numbered one every ``save_every``."""
        out, config = self.out_dir, self.config
        if improved:
            checkpoint.save(out / runfiles.best_model(config.lang), self.checkpoint_state(False, elapsed))
        full = self.checkpoint_state(True, elapsed)
        checkpoint.save(out / runfiles.LAST, full)
        if config.save_every and self.epoch % config.save_every == 0:
            checkpoint.save(out / runfiles.epoch_checkpoint(self.epoch), full)
        write_history(out, self.history)
        plot_curves(out, self.history)

    # ---------------------------------------------------------------- steps and epochs
    def prepare_steps(self) -> None:
        """Wrap the model for the training steps: DistributedDataParallel, then ``torch.compile``."""
        wrapped = DistributedDataParallel(self.model) if self.runtime.world > 1 else self.model
        self.step_model = compiled(wrapped, self.config.compile_mode, self.runtime.device)

    def train_step(self, batch) -> tuple[torch.Tensor, int]:
        """One optimizer step (forward under autocast, scaled backward, clipping): the summed loss and the
        number of answer tokens it covers."""
        config = self.config
        with self.runtime.autocast():
            loss_sum, n = self.step_model(batch, config.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss_sum / max(1, n)).backward()
        if config.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss_sum, n

    def run_epoch(self, epoch: int) -> dict:
        """One pass over the training split: its metrics row (loss, lr, seconds, throughput)."""
        from tqdm import tqdm

        runtime, config = self.runtime, self.config
        self.sampler.set_epoch(epoch)
        self.model.train()
        started = time.monotonic()
        total = torch.zeros((), device=runtime.device)
        token_count = examples = tokens = 0
        bar = tqdm(self.loader, desc=f"epoch {epoch}", unit="batch", disable=not runtime.main, leave=False,
                   mininterval=1.0 if sys.stderr.isatty() else 30.0, file=sys.stderr)
        window_start, window_examples = time.monotonic(), 0
        n_batches = len(self.loader)
        for i, batch in enumerate(bar):
            batch = batch.to(runtime.device, non_blocking=True)
            loss_sum, n = self.train_step(batch)
            self.scheduler.step()
            self.step += 1
            total += loss_sum.detach().float()  # summed on the device: reading it would wait for the GPU
            token_count += n
            examples += batch.size
            tokens += int(batch.src.numel() + batch.tgt_out.numel())
            window_examples += batch.size
            if (i + 1) % config.log_every == 0 or i + 1 == n_batches:
                running = float(total) / max(1, token_count)
                if not math.isfinite(running):
                    raise self.diverged(f"the training loss became {running} at epoch {epoch}, step {self.step}")
                now = time.monotonic()
                bar.set_postfix(loss=f"{running:.3f}",
                                ex_s=f"{window_examples * runtime.world / max(1e-9, now - window_start):.0f}")
                window_start, window_examples = now, 0
        seconds = time.monotonic() - started
        return {"epoch": epoch, "step": self.step, "train_loss": float(total) / max(1, token_count),
                "lr": self.scheduler.get_last_lr()[0], "seconds": round(seconds, 3),
                "examples_per_s": round(examples * runtime.world / seconds, 1),
                "tokens_per_s": round(tokens * runtime.world / seconds, 1)}

    @torch.no_grad()
    def validation_loss(self) -> float:
        self.model.eval()
        total, count = 0.0, 0
        encoded = self.valid_encoded
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].src))
        size = self.config.batch_size
        for start in range(0, len(order), size):
            batch = self.collate([encoded[i] for i in order[start:start + size]]).to(self.runtime.device)
            with self.runtime.autocast():
                loss, n = self.model.loss(batch)
            total += float(loss)
            count += n
        self.model.train()
        return total / max(1, count)

    def validate(self, epoch: int) -> dict:
        """Validation loss, and on the epochs ``eval_every`` asks for, the decoded answers' scores."""
        config = self.config
        row: dict = {"val_loss": self.validation_loss()}
        if not math.isfinite(row["val_loss"]):
            raise self.diverged(f"the validation loss became {row['val_loss']} at epoch {epoch}")
        if config.eval_every and (epoch % config.eval_every == 0 or epoch == config.epochs):
            decode_start = time.monotonic()
            with self.runtime.autocast():
                outputs = predict(self.model, self.valid_examples, self.vocab, self.decoding, self.runtime.device)
            row["decode_seconds"] = round(time.monotonic() - decode_start, 3)
            scores = compute_metrics([o[0][0] if o else "" for o in outputs], [e.answer for e in self.valid_examples])
            row.update({f"val_{k}": v for k, v in scores.items() if k != "count"})
        return row

    def diverged(self, what: str) -> CodeQAError:
        kept = ("the last checkpoint was kept as it was" if self.out_dir and checkpoint.newest(self.out_dir)
                else "no checkpoint had been saved yet")
        return CodeQAError(f"training diverged: {what}; {kept}. To go on, {DIVERGED_HINT}")

    # ---------------------------------------------------------------- the loop
    def epochs_since_best(self) -> int:
        if self.best.get("epoch") is None:
            return 0
        return sum(1 for row in self.history if row["epoch"] > self.best["epoch"])

    def improves(self, value: float | None) -> bool:
        best = self.best["value"]
        if value is None:
            return False
        if best is None:
            return True
        return value < best if self.config.select_metric == "val_loss" else value > best

    def epoch_seconds(self) -> float:
        """The longest epoch so far, its validation and saves included: what the next one is expected to take."""
        return max((row["seconds"] + row.get("validation_seconds", 0.0) + row.get("save_seconds", 0.0)
                    for row in self.history), default=0.0)

    def fit(self, deadline: float | None = None) -> str:
        """Run the remaining epochs; returns why it stopped. ``deadline`` (``time.monotonic()``) stops it
        before an epoch that the longest so far says would pass it; the first always runs."""
        config, runtime = self.config, self.runtime
        started = time.monotonic()
        self.prepare_steps()
        total = self.model.num_parameters()
        trained = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        frozen = "" if trained == total else f", {trained:,} of them trained (freeze: {config.freeze})"
        log.info("model %s: %.2fM parameters%s; vocabulary %d; %d train / %d validation examples; device %s x%d, "
                 "%s; batch %d (%d per process)", config.model, total / 1e6, frozen, len(self.vocab),
                 len(self.train_encoded), len(self.valid_encoded), runtime.device.type, runtime.world,
                 runtime.precision, config.batch_size, self.per_process)
        since_best = self.epochs_since_best()
        for epoch in range(self.epoch + 1, config.epochs + 1):
            if deadline is not None and self.history and time.monotonic() + self.epoch_seconds() > deadline:
                return f"max_time {config.max_time} would be passed during the next epoch"
            row = self.run_epoch(epoch)
            self.epoch = epoch
            stop = torch.zeros(1, device=runtime.device)
            if runtime.main:
                validation_start = time.monotonic()
                row.update(self.validate(epoch))
                row["validation_seconds"] = round(time.monotonic() - validation_start, 3)
                self.history.append(row)
                value = row.get(config.select_metric if config.select_metric == "val_loss"
                                else f"val_{config.select_metric}")
                improved = self.improves(value)
                if improved:
                    self.best = {"metric": config.select_metric, "value": value, "epoch": epoch}
                    since_best = 0
                elif value is not None:
                    since_best += 1
                row["best_epoch"] = self.best["epoch"]
                save_start = time.monotonic()
                self.save(improved, self.elapsed_before + save_start - started)
                row["save_seconds"] = round(time.monotonic() - save_start, 3)
                log.info("epoch %d/%d: train loss %.4f, val loss %.4f%s, %.0f examples/s, %.1fs%s", epoch,
                         config.epochs, row["train_loss"], row["val_loss"],
                         "".join(f", val {k} {row['val_' + k]:.2f}" for k in ("f1", "rouge_l", "exact_match", "bleu")
                                 if row.get("val_" + k) is not None),
                         row["examples_per_s"], row["seconds"], " (best so far)" if improved else "")
                if config.patience and since_best >= config.patience:
                    stop.fill_(1)
            if runtime.world > 1:
                dist.broadcast(stop, 0)
            if bool(stop.item()):
                return f"early stopping: no better {config.select_metric} for {config.patience} epochs"
        return "completed all epochs"
