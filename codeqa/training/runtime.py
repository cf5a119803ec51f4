"""Where and how training runs: the device, the precision, the processes of DistributedDataParallel, the
seeds and random-number states, and whether ``torch.compile`` applies."""

from __future__ import annotations

import logging
import os
import random
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger("codeqa.train")


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1
    precision: str = "fp32"

    @property
    def main(self) -> bool:
        """Only the main process logs, validates and saves."""
        return self.rank == 0

    def autocast(self):
        if self.precision == "fp32":
            return nullcontext()
        dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def default_device(device: str | None = None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def resolve_precision(requested: str, device: torch.device) -> str:
    """fp16 with loss scaling on GPUs without fast bf16 (T4), bf16 where supported, fp32 on CPU."""
    if device.type != "cuda":
        if requested in ("fp16", "bf16"):
            log.warning("precision %s asked for, but there is no GPU: training in fp32", requested)
        return "fp32"
    fast_bf16 = torch.cuda.get_device_capability(device)[0] >= 8
    if requested == "auto":
        return "bf16" if fast_bf16 else "fp16"
    if requested == "bf16_or_fp32":
        return "bf16" if fast_bf16 else "fp32"
    return requested


def setup_runtime(precision: str) -> Runtime:
    """One process, or one of ``WORLD_SIZE`` under torchrun (NCCL on GPUs, gloo on CPUs)."""
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
        device = default_device()
    return Runtime(device, rank, world, resolve_precision(precision, device))


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


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


def compile_unsupported(device: torch.device) -> str | None:
    """Why ``torch.compile`` should not run here, or None. Its GPU kernels come from Triton, which supports
    CUDA capability 8.0 and up since Triton 3.3: Kaggle's T4 and P100 train eagerly."""
    if device.type != "cuda":
        return None
    major, minor = torch.cuda.get_device_capability(device)
    if (major, minor) < (8, 0):
        return (f"Triton, which compiles for the GPU, supports CUDA capability 8.0 and up and this GPU has "
                f"{major}.{minor}")
    return None


def compiled(module: torch.nn.Module, compile_mode: str, device: torch.device) -> torch.nn.Module:
    """The module training steps run through: compiled when ``compile_mode`` asks (shapes vary by batch,
    so dynamic). Checkpoints, validation and decoding use the plain model, whose weights it shares."""
    if not compile_mode:
        return module
    reason = compile_unsupported(device)
    if reason:
        log.warning("compile_mode %s ignored: %s; training eagerly", compile_mode, reason)
        return module
    return torch.compile(module, mode=compile_mode, dynamic=True)
