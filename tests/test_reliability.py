"""What survives what, with real processes: two runs in one out dir, a kill during a save, max_time with a
decoding grid, damaged checkpoints, a full disk, bad settings and bad input (docs/reliability.md)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from codeqa import checkpoint
from tests.conftest import TINY_ROWS, run_cli, write_codeqa

TINY = ["epochs=2", "max_valid_examples=6", "batch_size=16", "log_every=1", "save_every=1"]
# A save that stops for a minute once its bytes are written, before the rename: a kill lands mid-save.
SLOW_SAVE = """
import sys, time, torch
real = torch.save
def slow_save(obj, handle, *args, **kwargs):
    real(obj, handle, *args, **kwargs)
    handle.flush()
    time.sleep(60)
torch.save = slow_save
from codeqa.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A model trained for one epoch on the tiny data: what answering and evaluating tests read."""
    data = tmp_path_factory.mktemp("data")
    write_codeqa(data, "train", TINY_ROWS * 8)
    write_codeqa(data, "dev", TINY_ROWS)
    out = tmp_path_factory.mktemp("trained")
    result = run_cli(*_train(data, out, "epochs=1"))
    assert result.returncode == 0, result.stderr
    return out / "best_model_python.pt"


def _sets(*settings: str) -> list[str]:
    return [arg for kv in settings for arg in ("--set", kv)]


def _train(data: Path, out: Path, *settings: str, config: str = "quick") -> list[str]:
    return ["train", "--config", config, "--data-dir", str(data), "--out-dir", str(out), *_sets(*TINY, *settings)]


def _start(args: list[str], script: str | None = None, **popen) -> subprocess.Popen:
    command = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "codeqa", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _wait_for(condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _saving(out: Path) -> bool:
    """A checkpoint's temporary file is there with bytes in it: the slow save is under way."""
    return any(p.stat().st_size > 0 for p in out.glob(".*.pt.*.tmp"))


def _error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert lines and "Traceback" not in result.stderr, result.stderr
    return lines[-1]


# ---------------------------------------------------------------- concurrency
@pytest.mark.slow
def test_a_second_run_in_the_same_out_dir_is_refused_and_names_the_first(tiny_data, tmp_path):
    out = tmp_path / "run"
    first = _start(_train(tiny_data, out, "epochs=3"), SLOW_SAVE)
    try:
        _wait_for(lambda: _saving(out))  # the first run is inside its first save
        second = run_cli(*_train(tiny_data, out, "seed=2"))
        assert second.returncode == 1
        assert f"another training run (PID {first.pid}) is using this out dir" in _error_line(second)
    finally:
        first.kill()
        first.wait()
    # a killed holder leaves no stale lock; the next run also removes the half-written save
    resumed = run_cli(*_train(tiny_data, out, "epochs=1"), "--resume", "auto")
    assert resumed.returncode == 0, resumed.stderr
    assert not list(out.glob(".*.tmp"))
    assert "removed 1 temporary file(s) of an interrupted save" in (out / "logs.txt").read_text()


@pytest.mark.slow
def test_two_runs_started_together_never_mix(tiny_data, tmp_path):
    out = tmp_path / "run"
    runs = [_start(_train(tiny_data, out, f"seed={seed}")) for seed in (1, 2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, err in results if code == 1)
    assert "another training run" in refused
    winner_seed = checkpoint.load(out / "last.pt")["config"]["seed"]
    for name in ("best_model_python.pt", "checkpoint_epoch1.pt", "checkpoint_epoch2.pt"):
        assert checkpoint.load(out / name)["config"]["seed"] == winner_seed, name


# ---------------------------------------------------------------- kills and damage
@pytest.mark.slow
def test_a_kill_during_a_save_leaves_the_previous_checkpoint_and_resume_cleans_up(tiny_data, tmp_path):
    out = tmp_path / "run"
    assert run_cli(*_train(tiny_data, out, "epochs=1")).returncode == 0
    before = checkpoint.load(out / "last.pt")
    killed = _start([*_train(tiny_data, out, "epochs=2"), "--resume", "auto"], SLOW_SAVE)
    _wait_for(lambda: _saving(out))
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    leftovers = list(out.glob(".*.pt.*.tmp"))
    assert leftovers and leftovers[0].stat().st_size > 0  # a whole checkpoint's bytes, never renamed
    after = checkpoint.load(out / "last.pt")
    assert after["epoch"] == before["epoch"] == 1
    assert run_cli(*_train(tiny_data, out, "epochs=2"), "--resume", "auto").returncode == 0
    assert not list(out.glob(".*.tmp")) and checkpoint.load(out / "last.pt")["epoch"] == 2


@pytest.mark.slow
def test_a_truncated_last_checkpoint_falls_back_to_the_newest_intact_one(tiny_data, tmp_path):
    out = tmp_path / "run"
    assert run_cli(*_train(tiny_data, out)).returncode == 0
    last = out / "last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    result = run_cli(*_train(tiny_data, out, "epochs=3"), "--resume", "auto")
    assert result.returncode == 0, result.stderr
    log = (out / "logs.txt").read_text()
    assert "skipping last.pt: not a readable codeqa checkpoint" in log
    assert "resumed from" in log and "checkpoint_epoch2.pt (epoch 2" in log
    assert checkpoint.load(last)["epoch"] == 3


def _flip_tensor_bytes(path: Path, count: int = 64) -> None:
    """Flip ``count`` bytes in the middle of the largest tensor stored in a torch zip checkpoint."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = int.from_bytes(raw[info.header_offset + 26:][:2], "little"), \
        int.from_bytes(raw[info.header_offset + 28:][:2], "little")
    start = info.header_offset + 30 + name_len + extra_len + info.file_size // 2
    for i in range(start, start + count):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_flipped_bytes_inside_a_tensor_are_caught_by_the_checksum(trained, tiny_data, tmp_path):
    best = tmp_path / "model.pt"
    best.write_bytes(trained.read_bytes())
    _flip_tensor_bytes(best)
    result = run_cli("evaluate", "--checkpoint", str(best), "--data-dir", str(tiny_data), "--split", "dev",
                     "--out", str(tmp_path / "preds.txt"))
    assert result.returncode == 1
    assert "damaged checkpoint: its tensors do not match the checksum" in _error_line(result)
    assert not (tmp_path / "preds.txt").exists()


def test_a_checkpoint_without_its_keys_is_named(tiny_data, tmp_path):
    bare = tmp_path / "bare.pt"
    torch.save({"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "model": {}}, bare)
    result = run_cli("answer", "--checkpoint", str(bare), "--code-text", "def f(): pass", "--question", "What ?")
    assert result.returncode == 1
    assert "a codeqa checkpoint without config, vocab, epoch" in _error_line(result)


# ---------------------------------------------------------------- time limits
@pytest.mark.slow
def test_max_time_bounds_the_whole_run_decoding_grid_included(tmp_path):
    data = tmp_path / "data"
    write_codeqa(data, "train", TINY_ROWS * 20)
    write_codeqa(data, "dev", TINY_ROWS * 50)  # 300 answers to decode per setting
    out, budget = tmp_path / "run", 8
    settings = ["epochs=50", f"max_time={budget}s", "max_valid_examples=0", "tune_beam_sizes=1,4,8,16",
                "tune_length_penalties=0.5,1.0,2.0", "tune_reranks=score,mbr", "beam_size=1"]
    result = run_cli(*_train(data, out, *settings))
    assert result.returncode == 0, result.stderr
    log = (out / "logs.txt").read_text()
    stamps = [time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) for line in log.splitlines()
              if line.startswith("20")]
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    # within the budget on a quiet machine. The first epoch always runs, and a machine that slows down mid-run
    # can pass the budget by the epoch it mis-estimated; the grid never passes it (stamps: one-second resolution)
    lengths = [e["seconds"] + e["validation_seconds"] + e.get("save_seconds", 0.0) for e in epochs]
    assert stamps[-1] - stamps[0] <= max(budget, lengths[0]) + (max(lengths) - min(lengths)) + 1
    assert "would be passed during the next epoch" in log and "skipped: beam" in log
    if (out / "decoding.json").is_file():  # greedy decoding fit in what was left
        assert json.loads((out / "decoding.json").read_text())["skipped"]


# ---------------------------------------------------------------- bad settings, bad places
@pytest.mark.parametrize("setting, message", [
    ("lr=-1", "--set lr: lr must be > 0, got -1"),
    ("log_every=0", "--set log_every: log_every must be >= 1, got 0"),
    ("dropout=2", "--set dropout: dropout must be in [0, 1), got 2"),
    ("num_workers=-1", "--set num_workers: num_workers must be >= 0"),
    ("n_heads=3", "--set n_heads: d_model (64) must be divisible by n_heads (3)"),
])
def test_bad_settings_stop_before_anything_is_written(tiny_data, tmp_path, setting, message):
    out = tmp_path / "run"
    result = run_cli(*_train(tiny_data, out, setting))
    assert result.returncode == 1 and message in _error_line(result)
    assert not out.exists()


def test_bad_data_leaves_nothing_behind(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = run_cli(*_train(tmp_path / "no-data", out))
    assert result.returncode == 1 and "split folder not found" in _error_line(result)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_out_dirs_that_cannot_be_used_are_named(tiny_data, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    result = run_cli(*_train(tiny_data, a_file))
    assert result.returncode == 1 and f"{a_file}: exists and is not a folder" in _error_line(result)
    unwritable = Path("/sys/codeqa-test-out")  # no one may create a folder there, root included
    result = run_cli(*_train(tiny_data, unwritable))
    assert result.returncode == 1 and f"{unwritable}: cannot use this out dir" in _error_line(result)


def _limit_file_size(limit: int):
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_a_full_disk_names_the_file_and_keeps_the_last_checkpoint(tiny_data, tmp_path):
    out = tmp_path / "run"
    assert run_cli(*_train(tiny_data, out, "epochs=1", "d_model=128")).returncode == 0
    size = (out / "last.pt").stat().st_size
    result = subprocess.run([sys.executable, "-m", "codeqa", *_train(tiny_data, out, "d_model=128", "epochs=2"),
                             "--resume", "auto"], capture_output=True, text=True, timeout=300,
                            preexec_fn=_limit_file_size(size // 2), check=False)
    assert result.returncode == 1
    assert re.search(r"(last|best_model_python)\.pt: cannot write the checkpoint .* free some space, then rerun "
                     r"with --resume auto", _error_line(result))
    assert checkpoint.load(out / "last.pt")["epoch"] == 1 and not list(out.glob(".*.tmp"))


def test_divergence_from_scratch_says_no_checkpoint_was_saved_and_logs_it(tiny_data, tmp_path):
    out = tmp_path / "run"
    result = run_cli(*_train(tiny_data, out, "lr=1e30", "warmup_steps=0"))
    assert result.returncode == 1
    line = _error_line(result)
    assert "training diverged" in line and "no checkpoint had been saved yet" in line
    assert "training diverged" in (out / "logs.txt").read_text()


# ---------------------------------------------------------------- bad input
def test_evaluate_answers_every_line_even_with_an_empty_question(trained, tmp_path):
    data = tmp_path / "holes"
    rows = [*TINY_ROWS[:2], ("", TINY_ROWS[2][1], TINY_ROWS[2][2]), TINY_ROWS[3], (*TINY_ROWS[4][:2], ""), TINY_ROWS[5]]
    write_codeqa(data, "dev", rows)
    preds, metrics = tmp_path / "preds.txt", tmp_path / "metrics.json"
    result = run_cli("evaluate", "--checkpoint", str(trained), "--data-dir", str(data),
                     "--split", "dev", "--out", str(preds), "--metrics-out", str(metrics))
    assert result.returncode == 0, result.stderr
    assert len(preds.read_text().splitlines()) == len(rows)  # one answer per input line, in order
    assert "kept, one line each, 2 example(s) with an empty question or answer" in result.stderr
    assert json.loads(metrics.read_text())["overall"]["count"] == len(rows) - 1  # the one without a reference


@pytest.mark.parametrize("text, message", [("", "no code in it"), ("# just a comment\n", "no code in it"),
                                           (None, "a folder; expected a Python file")])
def test_answer_on_a_file_with_no_code_or_a_folder(trained, tmp_path, text, message):
    code = tmp_path / "code"
    if text is None:
        code.mkdir()
    else:
        code.write_text(text)
    result = run_cli("answer", "--checkpoint", str(trained), "--code", str(code),
                     "--question", "What does the code return ?")
    assert result.returncode == 1 and message in _error_line(result)


@pytest.mark.parametrize("args, message", [(["evaluate", "--beam", "-3"], "argument --beam: must be >= 1, got -3"),
                                           (["answer", "--top-k", "0"], "argument --top-k: must be >= 1, got 0")])
def test_bad_options_are_one_line_errors(args, message):
    command, option, value = args
    rest = ["--checkpoint", "x.pt", "--out", "p.txt", "--data-dir", "d"] if command == "evaluate" else \
        ["--checkpoint", "x.pt", "--code-text", "x = 1", "--question", "What ?"]
    result = run_cli(command, *rest, option, value)
    assert result.returncode == 2 and message in _error_line(result) and len(result.stderr.splitlines()) == 1
