"""The trainer: outputs, exact resume, atomic saves, refusals, divergence, DDP on CPU."""

import json
import subprocess
import sys

import pytest
import torch

from codeqa import checkpoint
from codeqa.config import load_config
from codeqa.errors import CodeQAError
from codeqa.training import train
from tests.conftest import run_cli

TINY = ["epochs=2", "max_valid_examples=6", "batch_size=16", "log_every=1", "save_every=1"]


def _config(*overrides):
    return load_config("quick", [*TINY, *overrides])


def _weights(path):
    return checkpoint.load(path)["model"]


def test_cli_train_writes_every_output(tiny_data, tmp_path):
    out = tmp_path / "run"
    result = run_cli("train", "--config", "quick", "--data-dir", str(tiny_data), "--out-dir", str(out),
                     *[a for kv in TINY for a in ("--set", kv)])
    assert result.returncode == 0, result.stderr
    for name in ("best_model_python.pt", "checkpoint_epoch1.pt", "checkpoint_epoch2.pt", "last.pt", "logs.txt",
                 "metrics.jsonl", "training_curves.png", "vocab.json"):
        assert (out / name).stat().st_size > 0, name
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    for key in ("train_loss", "val_loss", "val_f1", "val_rouge_l", "lr", "seconds", "examples_per_s"):
        assert isinstance(rows[-1][key], float), key
    assert (out / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "epoch 2/2" in (out / "logs.txt").read_text()
    assert not list(out.glob("*.tmp"))


@pytest.mark.parametrize("workers", [0, 2])  # 2: DataLoader workers kept between epochs (persistent_workers)
def test_resume_is_exact(tiny_data, tmp_path, workers):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    settings = ("lr_schedule=constant", f"num_workers={workers}")
    train(_config(*settings), tiny_data, straight)
    train(_config(*settings, "epochs=1"), tiny_data, resumed)
    summary = train(_config(*settings), tiny_data, resumed, resume="auto")
    assert summary["epochs_run"] == 2
    a, b = _weights(straight / "last.pt"), _weights(resumed / "last.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    losses = [[json.loads(x)["train_loss"] for x in (d / "metrics.jsonl").read_text().splitlines()]
              for d in (straight, resumed)]
    assert losses[0] == losses[1]


def test_resume_auto_without_checkpoint_starts_fresh(tiny_data, tmp_path):
    summary = train(_config("epochs=1"), tiny_data, tmp_path / "fresh", resume="auto")
    assert summary["epochs_run"] == 1


def test_interrupted_save_leaves_previous_checkpoint(tiny_data, tmp_path, monkeypatch):
    out = tmp_path / "run"
    train(_config("epochs=1"), tiny_data, out)
    before = _weights(out / "last.pt")

    def dies_mid_write(obj, handle):
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt("killed during save")

    monkeypatch.setattr(checkpoint.torch, "save", dies_mid_write)
    with pytest.raises(KeyboardInterrupt):
        train(_config("epochs=2"), tiny_data, out, resume="auto")
    after = _weights(out / "last.pt")
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not list(out.glob(".*.tmp"))


def test_refuses_checkpoint_of_other_model_or_vocab(tiny_data, tmp_path):
    out = tmp_path / "run"
    train(_config("epochs=1"), tiny_data, out)
    with pytest.raises(CodeQAError, match=r"another model configuration \(d_model: checkpoint 64, now 32"):
        train(_config("d_model=32"), tiny_data, out, resume="auto")
    other_vocab = tmp_path / "other.json"
    result = run_cli("build-vocab", "--data-dir", str(tiny_data), "--max-size", "20", "--out", str(other_vocab))
    assert result.returncode == 0
    with pytest.raises(CodeQAError, match="made with another vocabulary"):
        train(_config(), tiny_data, out, vocab_path=other_vocab, resume=str(out / "last.pt"))


def test_divergence_stops_clearly_and_keeps_last_checkpoint(tiny_data, tmp_path):
    out = tmp_path / "run"
    train(_config("epochs=1"), tiny_data, out)
    result = run_cli("train", "--config", "quick", "--data-dir", str(tiny_data), "--out-dir", str(out),
                     "--resume", "auto", *[a for kv in [*TINY, "lr=1e30", "warmup_steps=0"] for a in ("--set", kv)])
    assert result.returncode == 1
    assert "training diverged: the training loss became nan" in result.stderr
    assert checkpoint.load(out / "last.pt")["epoch"] == 1


def test_max_time_stops_after_a_save(tiny_data, tmp_path):
    summary = train(_config("epochs=5", "max_time=0.001s"), tiny_data, tmp_path / "run")
    assert summary["epochs_run"] == 1 and "max_time" in summary["stopped"]


def test_unknown_config_key_is_an_error(tiny_data, tmp_path):
    result = run_cli("train", "--config", "quick", "--data-dir", str(tiny_data), "--out-dir", str(tmp_path),
                     "--set", "epochz=3")
    assert result.returncode == 1 and "epochz: unknown config key" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: transformer\nlearning_rate: 0.1\n")
    with pytest.raises(CodeQAError, match="unknown config key.*learning_rate"):
        load_config(str(bad))


def test_paper_lstm_trains_one_epoch(tiny_data, tmp_path):
    config = load_config("paper_lstm", ["epochs=1", "emb_dim=16", "hidden=32", "max_valid_examples=6"])
    summary = train(config, tiny_data, tmp_path / "lstm")
    assert summary["epochs_run"] == 1 and (tmp_path / "lstm" / "best_model_python.pt").is_file()


@pytest.mark.slow
def test_ddp_two_cpu_processes(tiny_data, tmp_path):
    """Both stages (pre-training, fine-tuning) and the decoding choice under DDP with 2 gloo processes."""
    out = tmp_path / "ddp"
    settings = [*TINY, "pretrain_split=pretrain", "pretrain_epochs=1", "tune_beam_sizes=1,2"]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29613",
               "-m", "codeqa", "train", "--config", "quick", "--data-dir", str(_with_pretrain_split(tiny_data)),
               "--out-dir", str(out), *[a for kv in settings for a in ("--set", kv)]]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]  # written once, by rank 0
    assert len((out / "pretrain" / "metrics.jsonl").read_text().splitlines()) == 1
    assert (out / "best_model_python.pt").is_file() and (out / "decoding.json").is_file()
    assert (out / "logs.txt").read_text().count("epoch 2/2") == 1
    assert "batch 16 (8 per process)" in (out / "logs.txt").read_text()  # batch_size is per optimizer step

    odd = subprocess.run([*command[:command.index("--out-dir")], "--out-dir", str(tmp_path / "odd"),
                          "--set", "batch_size=15"], capture_output=True, text=True, timeout=300, check=False)
    assert odd.returncode != 0 and "batch_size=15 is the batch of one optimizer step" in odd.stderr


def test_init_from_fine_tunes_from_another_run(tiny_data, tmp_path):
    pretrained = tmp_path / "pretrained"
    train(_config("epochs=1"), tiny_data, pretrained)
    start = pretrained / "best_model_python.pt"
    summary = train(_config("epochs=1", f"init_from={start}"), tiny_data, tmp_path / "tuned")
    assert summary["epochs_run"] == 1
    assert "initialised from" in (tmp_path / "tuned" / "logs.txt").read_text()
    assert (tmp_path / "tuned" / "vocab.json").read_text() == (pretrained / "vocab.json").read_text()
    with pytest.raises(CodeQAError, match="another model configuration"):
        train(_config("epochs=1", "d_model=32", f"init_from={start}"), tiny_data, tmp_path / "bad")


def test_freeze_embeddings_keeps_the_loaded_embeddings_and_trains_the_rest(tiny_data, tmp_path):
    train(_config("epochs=1"), tiny_data, tmp_path / "pretrained")
    start = _weights(tmp_path / "pretrained" / "best_model_python.pt")
    init = f"init_from={tmp_path / 'pretrained' / 'best_model_python.pt'}"
    for freeze in ("embeddings", ""):
        train(_config("epochs=2", "save_every=0", init, f"freeze={freeze}"), tiny_data, tmp_path / f"tuned{freeze}")
        tuned = _weights(tmp_path / f"tuned{freeze}" / "last.pt")
        assert torch.equal(tuned["embed.weight"], start["embed.weight"]) == (freeze == "embeddings")
        assert not torch.equal(tuned["decoder.0.ff.0.weight"], start["decoder.0.ff.0.weight"])
        logged = (tmp_path / f"tuned{freeze}" / "logs.txt").read_text()
        assert ("of them trained (freeze: embeddings)" in logged) == (freeze == "embeddings")
    resumed = tmp_path / "tunedembeddings"  # a resumed fine-tuning keeps them too
    train(_config("epochs=3", "save_every=0", init, "freeze=embeddings"), tiny_data, resumed, resume="auto")
    assert torch.equal(_weights(resumed / "last.pt")["embed.weight"], start["embed.weight"])


def test_pre_training_learns_the_embeddings_that_fine_tuning_freezes(tmp_path):
    from codeqa.training.stages import stage_configs

    stage1, stage2 = stage_configs(_config("pretrain_split=pretrain", "pretrain_epochs=1", "freeze=embeddings"),
                                   tmp_path / "pretrain" / "best_model_python.pt")
    assert (stage1.freeze, stage1.init_from) == ("", "")
    assert stage2.freeze == "embeddings" and stage2.init_from.endswith("best_model_python.pt")


def test_freeze_names_what_it_takes():
    with pytest.raises(CodeQAError, match=r"--set freeze: freeze must be '' \(train every weight\) or 'embeddings'"):
        _config("freeze=encoder")
    with pytest.raises(CodeQAError, match="--set freeze: freeze applies to codeqa's own models"):
        load_config("codet5_small", ["freeze=embeddings"])


def test_cuda_out_of_memory_names_the_setting_to_lower(tiny_data, tmp_path, monkeypatch):
    from codeqa.training.trainer import Trainer

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Trainer, "run_epoch", out_of_memory)
    with pytest.raises(CodeQAError, match=r"out of GPU memory with batch_size=16.*--set batch_size=8"):
        train(_config(), tiny_data, tmp_path / "run")


def _with_pretrain_split(root):
    from tests.conftest import TINY_ROWS, write_codeqa

    generated = [(q, f"{code} zebra", f"{answer} zebra") for q, code, answer in TINY_ROWS]
    write_codeqa(root, "pretrain", generated * 4)
    return root


def test_pretrain_then_finetune_in_one_command(tiny_data, tmp_path):
    data, out = _with_pretrain_split(tiny_data), tmp_path / "run"
    stages = ["pretrain_split=pretrain", "pretrain_epochs=1", "epochs=1"]
    summary = train(_config(*stages), data, out)
    assert summary["stage"] == "finetune" and summary["pretrain"]["epochs_run"] == 1
    for name in ("best_model_python.pt", "metrics.jsonl", "finished.json"):
        assert (out / "pretrain" / name).stat().st_size > 0, name
    assert not (out / "pretrain" / "last.pt").exists()  # a finished stage keeps what stage 2 starts from
    for name in ("best_model_python.pt", "last.pt", "metrics.jsonl", "vocab.json", "logs.txt"):
        assert (out / name).stat().st_size > 0, name
    log_text = (out / "logs.txt").read_text()
    assert "stage 1 of 2" in log_text and "stage 2 of 2" in log_text and "initialised from" in log_text
    assert "zebra" in json.loads((out / "vocab.json").read_text())["tokens"]   # one vocabulary, both splits
    pretrained = checkpoint.load(out / "pretrain" / "best_model_python.pt")
    assert checkpoint.load(out / "last.pt")["vocab"] == pretrained["vocab"]
    pretrain_rows = (out / "pretrain" / "metrics.jsonl").read_text()

    # --resume auto after stage 1 finished: stage 1 is not run again, stage 2 goes on
    summary = train(_config(*stages[:2], "epochs=2"), data, out, resume="auto")
    assert summary["epochs_run"] == 2 and summary["pretrain"] is None
    assert (out / "pretrain" / "metrics.jsonl").read_text() == pretrain_rows
    assert [json.loads(r)["epoch"] for r in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2]


@pytest.mark.slow
def test_compiled_training_matches_eager(tiny_data, tmp_path):
    # torch.compile for real (inductor, dynamic shapes): the same weights as eager, saved under the same names
    from torch._dynamo.utils import counters

    eager = train(_config("epochs=1", "dropout=0"), tiny_data, tmp_path / "eager")
    counters.clear()
    fast = train(_config("epochs=1", "dropout=0", "compile_mode=default"), tiny_data, tmp_path / "compiled")
    assert eager["epochs_run"] == fast["epochs_run"] == 1
    assert counters["stats"]["unique_graphs"] >= 1  # the steps really ran through a compiled graph
    want, got = _weights(tmp_path / "eager" / "last.pt"), _weights(tmp_path / "compiled" / "last.pt")
    assert list(got) == list(want)
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-3, atol=1e-4, msg=name)
    with pytest.raises(CodeQAError, match="compile_mode must be one of"):
        _config("compile_mode=fast")
    with pytest.raises(CodeQAError, match="replays CUDA graphs, which need one batch shape"):
        _config("compile_mode=reduce-overhead")


def test_max_time_leaves_fine_tuning_its_share(tiny_data, tmp_path):
    # a capped run ends fine-tuned: pre-training stops after its share of max_time, not the whole of it
    data, out = _with_pretrain_split(tiny_data), tmp_path / "run"
    summary = train(_config("pretrain_split=pretrain", "pretrain_epochs=5", "epochs=1", "max_time=0.001s"),
                    data, out)
    assert summary["stage"] == "finetune" and summary["epochs_run"] == 1
    assert summary["pretrain"]["epochs_run"] == 1 and "max_time" in summary["pretrain"]["stopped"]
    assert (out / "pretrain" / "finished.json").is_file() and (out / "best_model_python.pt").is_file()
    assert "used its share of max_time after 1 of 5 epochs" in (out / "logs.txt").read_text()


def test_pretrain_split_missing_trains_one_stage_and_says_so(tiny_data, tmp_path):
    out = tmp_path / "run"
    summary = train(_config("pretrain_split=pretrain", "pretrain_epochs=1", "epochs=1"), tiny_data, out)
    assert summary["epochs_run"] == 1 and "stage" not in summary and not (out / "pretrain").exists()
    assert "no pretrain split" in (out / "logs.txt").read_text()


def test_decoding_settings_are_chosen_on_validation_f1(tiny_data, tmp_path):
    out = tmp_path / "run"
    summary = train(_config("epochs=1", "tune_beam_sizes=1,2", "tune_length_penalties=0.5,1.5",
                            "tune_reranks=score,mbr"), tiny_data, out)
    report = json.loads((out / "decoding.json").read_text())
    assert [(r["beam_size"], r["length_penalty"], r["rerank"]) for r in report["grid"]] == [
        (1, 1.0, "score"), (2, 0.5, "score"), (2, 0.5, "mbr"), (2, 1.5, "score"), (2, 1.5, "mbr")]
    best = max(report["grid"], key=lambda r: (r["f1"], r["rouge_l"]))
    chosen = {k: best[k] for k in ("beam_size", "length_penalty", "rerank")}
    assert report["chosen"] == chosen and summary["decoding"] == chosen
    saved = checkpoint.load(out / "best_model_python.pt")["config"]
    assert {k: saved[k] for k in chosen} == chosen
    assert "decoding chosen on dev F1" in (out / "logs.txt").read_text()


@pytest.mark.parametrize("values", ["tune_beam_sizes=0,4", "tune_beam_sizes=four",
                                    "tune_length_penalties=-1", "tune_reranks=score,vote"])
def test_bad_decoding_grid_is_an_error(values):
    with pytest.raises(CodeQAError, match="comma-separated list"):
        _config("tune_beam_sizes=1,4", values)


def test_unknown_rerank_is_an_error():
    with pytest.raises(CodeQAError, match="--set rerank: rerank must be one of .score., .mbr., got .vote."):
        _config("rerank=vote")


def test_decode_batch_follows_the_device_unless_set(monkeypatch):
    from types import SimpleNamespace

    from codeqa.decode import DecodeConfig

    def batch(device, beam, *overrides):
        return DecodeConfig.from_config(_config(*overrides), beam_size=beam).batch_for(device)

    assert batch(torch.device("cpu"), 4) == 64
    # on a GPU: 8,192 hypotheses at once whatever the beam, 4,096 where memory is under 32 GB (a T4)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(total_memory=80 * 2**30))
    assert [batch(torch.device("cuda", 0), beam) for beam in (1, 4, 16)] == [8192, 2048, 512]
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(total_memory=15 * 2**30))
    assert [batch("cuda", beam) for beam in (1, 4, 16)] == [4096, 1024, 256]
    assert batch("cuda", 16, "decode_batch_size=100") == 100
    with pytest.raises(CodeQAError, match="decode_batch_size"):
        _config("decode_batch_size=-1")


def test_compile_is_skipped_with_a_reason_on_gpus_triton_cannot_target(monkeypatch, caplog):
    import logging

    from codeqa.training.runtime import compile_unsupported, compiled

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (6, 0))  # Kaggle's P100
    reason = compile_unsupported(torch.device("cuda", 0))
    assert reason and "supports CUDA capability 8.0 and up and this GPU has 6.0" in reason
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # Kaggle's T4
    assert "this GPU has 7.5" in compile_unsupported(torch.device("cuda", 0))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))  # an H100
    assert compile_unsupported(torch.device("cuda", 0)) is None
    assert compile_unsupported(torch.device("cpu")) is None

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (6, 0))
    module = torch.nn.Linear(2, 2)
    with caplog.at_level(logging.WARNING, logger="codeqa.train"):
        assert compiled(module, "default", torch.device("cuda", 0)) is module
    assert "compile_mode default ignored: Triton" in caplog.text
