"""The optimizer and the learning-rate schedule a config asks for."""

from __future__ import annotations

import torch

from codeqa.config import TrainConfig


def make_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """Adagrad (the original LSTM's), or AdamW without weight decay on biases, norms and embeddings."""
    trained = [p for p in model.parameters() if p.requires_grad]  # not those `freeze` keeps
    if config.optimizer == "adagrad":
        return torch.optim.Adagrad(trained, lr=config.lr, initial_accumulator_value=config.adagrad_init_acc)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decayed = [p for n, p in named if p.dim() >= 2 and "embed" not in n]
    kept = [p for n, p in named if not (p.dim() >= 2 and "embed" not in n)]
    on_gpu = trained[0].is_cuda
    return torch.optim.AdamW([{"params": decayed, "weight_decay": config.weight_decay},
                              {"params": kept, "weight_decay": 0.0}], lr=config.lr, betas=(0.9, 0.98),
                             fused=on_gpu)  # one kernel for the whole update on a GPU


def make_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer,
                   total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_steps``, then constant or a linear decay to a tenth by the last step."""
    warmup = max(0, config.warmup_steps)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if config.lr_schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        return max(0.1, 1.0 - 0.9 * progress)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def set_base_lr(optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LambdaLR,
                lr: float) -> None:
    """Make a new ``lr`` take effect from the scheduler's current step (``--set lr=...`` on resume)."""
    scheduler.base_lrs = [lr] * len(optimizer.param_groups)
    for group, factor in zip(optimizer.param_groups, scheduler.lr_lambdas):
        group["initial_lr"], group["lr"] = lr, lr * factor(scheduler.last_epoch)
