"""model: hf_seq2seq with no network: a tiny random T5 and a BPE tokenizer made here and saved with
save_pretrained stand in for the hub's CodeT5. The real loading code reads that folder; after it is
deleted, the checkpoint alone resumes, evaluates and answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codeqa import checkpoint
from tests.conftest import TINY_ROWS, run_cli, write_codeqa

pytest.importorskip("transformers")

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def save_tiny_t5(folder: Path) -> Path:
    """A 2-layer T5 of width 32 with a byte-level BPE tokenizer trained on the tiny rows, in folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "</s>", "<unk>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([text for row in TINY_ROWS for text in row] * 10, trainer)
    eos = tokenizer.token_to_id("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                             special_tokens=[("</s>", eos)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(folder)
    config = T5Config(vocab_size=len(fast), d_model=32, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=2,
                      d_kv=16, decoder_start_token_id=fast.pad_token_id, pad_token_id=fast.pad_token_id,
                      eos_token_id=eos)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def _train(data: Path, out: Path, folder: Path | str, *settings: str, resume: bool = False) -> list[str]:
    sets = [f"pretrained={folder}", "batch_size=8", "max_valid_examples=12", "log_every=1", "warmup_steps=0",
            "lr=1e-3", "tune_beam_sizes=1,2", *settings]
    return ["train", "--config", "codet5_small", "--data-dir", str(data), "--out-dir", str(out),
            *[a for kv in sets for a in ("--set", kv)], *(["--resume", "auto"] if resume else [])]


@pytest.fixture
def hundred(tmp_path) -> Path:
    root = tmp_path / "data"
    write_codeqa(root, "train", TINY_ROWS * 4)
    write_codeqa(root, "dev", (TINY_ROWS * 17)[:100])
    return root


def test_a_local_tiny_t5_fine_tunes_resumes_evaluates_and_answers_without_its_folder(hundred, tmp_path):
    folder = save_tiny_t5(tmp_path / "tiny-t5")
    out = tmp_path / "run"
    result = run_cli(*_train(hundred, out, folder, "epochs=1"), env=OFFLINE)
    assert result.returncode == 0, result.stderr[-3000:]
    state = checkpoint.load(out / "best_model_python.pt")
    assert state["config"]["model"] == "hf_seq2seq" and state["vocab"]["kind"] == "hf"
    assert state["model_config"]["model_type"] == "t5" and "tokenizer.json" in state["vocab"]["files"]
    assert (out / "decoding.json").is_file() and (out / "metrics.jsonl").is_file()

    shutil.rmtree(folder)  # from here on, the checkpoint alone
    result = run_cli(*_train(hundred, out, folder, "epochs=2"), "--resume", "auto", env=OFFLINE)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and "resumed from" in (out / "logs.txt").read_text()

    preds = tmp_path / "preds.txt"
    best = str(out / "best_model_python.pt")
    result = run_cli("evaluate", "--checkpoint", best, "--data-dir", str(hundred), "--split", "dev",
                     "--beam", "2", "--rerank", "mbr", "--out", str(preds), env=OFFLINE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(preds.read_text().splitlines()) == 100 and "token F1" in result.stdout
    result = run_cli("evaluate", "--checkpoint", best, "--data-dir", str(hundred), "--split", "dev", "--beam", "2",
                     "--no-repeat-ngram-size", "1", "--out", str(preds), "--metrics-out", str(tmp_path / "m.json"),
                     env=OFFLINE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "m.json").read_text())["no_repeat_ngram_size"] == 1
    result = run_cli("answer", "--checkpoint", best, "--code-text", "def add(a, b):\n    return a + b",
                     "--question", "What does the code return ?", "--top-k", "2", env=OFFLINE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.stdout.splitlines()) == 2


def test_a_hub_name_without_network_is_one_clear_line(hundred, tmp_path):
    result = run_cli(*_train(hundred, tmp_path / "run", "Salesforce/codet5-small", "epochs=1"), env=OFFLINE)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: cannot reach the Hugging Face hub for Salesforce/codet5-small: turn Internet on in the notebook "
        "(codeqa kaggle run --internet), or give a folder made by save_pretrained (--set pretrained=DIR)")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_ddp_fine_tunes_a_pretrained_model_in_two_cpu_processes(hundred, tmp_path):
    folder = save_tiny_t5(tmp_path / "tiny-t5")
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29617",
               "-m", "codeqa", *_train(hundred, out, folder, "epochs=1")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False,
                            env={**os.environ, **OFFLINE})
    assert result.returncode == 0, result.stderr[-3000:]
    log = (out / "logs.txt").read_text()
    assert "device cpu x2" in log and "batch 8 (4 per process)" in log and log.count("epoch 1/1") == 1
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1  # written once, by rank 0
    assert checkpoint.load(out / "best_model_python.pt")["config"]["model"] == "hf_seq2seq"


@pytest.mark.slow
def test_bench_times_a_pretrained_model(tmp_path):
    folder = save_tiny_t5(tmp_path / "tiny-t5")
    data = tmp_path / "data"
    write_codeqa(data, "train", TINY_ROWS * 4)
    write_codeqa(data, "dev", TINY_ROWS)
    result = run_cli("bench", "--config", "codet5_small", "--data-dir", str(data), "--steps", "2", "--warmup", "1",
                     "--decode-examples", "6", "--set", f"pretrained={folder}", "--set", "batch_size=4", env=OFFLINE)
    assert result.returncode == 0, result.stderr[-3000:]
    row = json.loads(result.stdout.strip().splitlines()[-1])
    assert row["model"] == "hf_seq2seq" and row["train_examples_per_s"] > 0 and row["decode_greedy_examples_per_s"] > 0


def test_kaggle_bundles_a_pretrained_folder_and_the_notebook_trains_from_it(tmp_path, monkeypatch):
    from codeqa.kaggle import prepare, training_run
    from codeqa.kaggle.session import Paths

    folder = save_tiny_t5(tmp_path / "tiny-t5")
    members = prepare.pretrained_members(folder)
    assert "models/tiny-t5/config.json" in members and "models/tiny-t5/model.safetensors" in members
    from codeqa.kaggle.archive import check_member

    for name in members:
        check_member(name, prepare.CODE_ALLOW)
    code_dir = tmp_path / "bundle"
    (code_dir / "models").mkdir(parents=True)
    shutil.copytree(folder, code_dir / "models" / "tiny-t5")
    data = tmp_path / "data"
    write_codeqa(data, "train", TINY_ROWS)
    write_codeqa(data, "dev", TINY_ROWS)
    paths = Paths(True, tmp_path / "work", data, code_dir)
    # the user's own path on their machine: found in the bundle by its folder name
    plan = training_run.plan_training(paths, "codet5_small", overrides={"pretrained": "/home/me/tiny-t5"}, nproc=1)
    assert f"pretrained={code_dir / 'models' / 'tiny-t5'}" in plan.full_cmd
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from codeqa.errors import CodeQAError

    with pytest.raises(CodeQAError, match="cannot reach the Hugging Face hub for Salesforce/codet5-small: turn "
                                          "Internet on in the notebook"):
        training_run.plan_training(paths, "codet5_small", nproc=1)
