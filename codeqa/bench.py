"""`codeqa bench`: training and decoding throughput of a config on this machine, as one JSON line.

Training: ``steps`` optimizer steps after ``warmup`` untimed ones, on length-grouped batches of the
training split, with the config's precision. Decoding: greedy and beam search over validation examples,
with a trained model when ``--checkpoint`` is given, else with the benchmark's own barely-trained model
(search speed depends on how soon hypotheses end: ``max_tgt_len`` steps is the worst case).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from codeqa.config import TrainConfig
from codeqa.decode import DecodeConfig, predict
from codeqa.fileio import write_text
from codeqa.training.runtime import Runtime, default_device, resolve_precision, set_seed
from codeqa.training.stages import joint_vocab, load_examples, make_vocab, pretraining_wanted
from codeqa.training.trainer import Trainer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_gb(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None


def _profile_steps(one_step, batches, device: torch.device, path: str | Path, steps: int = 20) -> None:
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for i in range(steps):
            one_step(batches[i % len(batches)])
        _sync(device)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=40)
    write_text(path, f"{steps} training steps on {device}, operators by host time\n{table}\n")


def run_bench(config: TrainConfig, data_dir: str | Path, steps: int = 50, warmup: int | None = None,
              decode_examples: int | None = None, device: str | None = None,
              checkpoint: str | Path | None = None, profile: str | Path | None = None) -> dict:
    """With ``checkpoint``, decoding is timed with that trained model (answers of realistic length).
    With ``profile``, 20 more training steps run under torch.profiler and its table goes to that file.
    ``decode_examples=0`` times training alone. ``warmup`` defaults to 10 steps, 40 with ``compile_mode``:
    enough to compile every graph, so that compiling stays out of the timed steps."""
    if warmup is None:
        warmup = 40 if config.compile_mode else 10
    set_seed(config.seed)
    dev = default_device(device)
    runtime = Runtime(dev, precision=resolve_precision(config.precision, dev))
    train, valid = load_examples(config, data_dir)
    # the vocabulary `codeqa train` would build: its size sets the cost of the output layer
    vocab = (joint_vocab(config, data_dir) if pretraining_wanted(config, data_dir)
             else make_vocab(config, train))
    trainer = Trainer(config, runtime, vocab, train, valid)
    result = _time_training(trainer, dev, steps, warmup, profile)
    if decode_examples is None:  # several batches of every setting: one batch would time its warm-up
        decode_examples = 16384 if dev.type == "cuda" else 512
    if decode_examples <= 0:
        return result
    model = trainer.model
    if checkpoint:
        from codeqa.checkpoint import load_model

        model, vocab, config = load_model(checkpoint, dev)  # decode with its lengths too
    sample = (valid * (decode_examples // max(1, len(valid)) + 1))[:decode_examples]
    return {
        **result,
        **_time_decoding(model, vocab, config, sample, runtime),
        "decode_examples": len(sample),
        "decode_model": str(checkpoint) if checkpoint else "the benchmark's own (barely trained)",
        "decode_peak_memory_gb": _peak_gb(dev),
    }


def _time_training(trainer: Trainer, dev: torch.device, steps: int, warmup: int,
                   profile: str | Path | None) -> dict:
    """Examples and tokens per second over ``steps`` optimizer steps after ``warmup`` untimed ones."""
    config, model = trainer.config, trainer.model
    batches = [trainer.collate([trainer.train_encoded[i] for i in b]) for b in trainer.sampler]
    if dev.type == "cuda":  # as training's DataLoader does: a copy from pageable memory would wait on the GPU
        batches = [b.pin_memory() for b in batches]
        torch.cuda.reset_peak_memory_stats(dev)
    trainer.prepare_steps()

    def one_step(batch) -> None:
        trainer.train_step(batch.to(dev, non_blocking=True))

    model.train()
    warmup_start = time.perf_counter()
    for i in range(warmup):
        one_step(batches[i % len(batches)])
    _sync(dev)
    warmup_seconds = time.perf_counter() - warmup_start  # compiling, with compile_mode, lands here
    start = time.perf_counter()
    examples = tokens = 0
    for i in range(steps):
        batch = batches[(warmup + i) % len(batches)]
        one_step(batch)
        examples += batch.size
        tokens += int(batch.src.numel() + batch.tgt_out.numel())
    _sync(dev)
    train_seconds = time.perf_counter() - start
    result = {
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "dtype": trainer.runtime.precision,
        "model": config.model,
        "parameters_m": round(model.num_parameters() / 1e6, 2),
        "batch_size": config.batch_size,
        "compile_mode": config.compile_mode or "eager",
        "steps": steps,
        "warmup_steps": warmup,
        "warmup_seconds": round(warmup_seconds, 1),
        "train_examples_per_s": round(examples / train_seconds, 1),
        "train_tokens_per_s": round(tokens / train_seconds, 1),
        # training and decoding peak apart: decoding's batches are sized separately (decode_batch_size)
        "train_peak_memory_gb": _peak_gb(dev),
    }
    if config.compile_mode:  # a graph compiled again inside the timed steps would slow them: say how many
        from torch._dynamo.utils import counters

        result["compiled_graphs"] = int(counters["stats"]["unique_graphs"])
    if profile:
        _profile_steps(one_step, batches, dev, profile)
    return result


def _time_decoding(model, vocab, config: TrainConfig, sample: list, runtime: Runtime) -> dict:
    """Examples per second of greedy, beam 4 and the config's own decoding over ``sample``, with the
    batch size each one used."""
    dev = runtime.device
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    decode, batch_sizes = {}, {}
    # greedy and beam 4 are the published targets; the config's own decoding, reranking included, is what
    # validation, `evaluate` and `answer` pay for
    settings = [(beam, "score") for beam in sorted({1, 4, config.beam_size})]
    if config.rerank != "score" and config.beam_size > 1:
        settings.append((config.beam_size, config.rerank))
    base = DecodeConfig.from_config(config)
    for beam, method in settings:
        name = ("greedy" if beam == 1 else f"beam{beam}") + ("" if method == "score" else f"_{method}")
        decoding = base.replace(beam_size=beam, rerank=method)
        batch_sizes[name] = decoding.batch_for(dev)
        with runtime.autocast():
            predict(model, sample[: batch_sizes[name]], vocab, decoding, dev)  # warm-up: one full batch
            _sync(dev)
            t0 = time.perf_counter()
            predict(model, sample, vocab, decoding, dev)
            _sync(dev)
        decode[f"decode_{name}_examples_per_s"] = round(len(sample) / (time.perf_counter() - t0), 1)
    return {**decode, "decode_batch_sizes": batch_sizes}
