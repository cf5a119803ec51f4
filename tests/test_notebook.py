"""The Kaggle notebook: built reproducibly from its jupytext source, never stale, the agreed seven cells, and
a headless papermill run (CI's smoke run) in which both training cells train and leave their outputs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks" / "kaggle_train.py"
NOTEBOOK = ROOT / "notebooks" / "kaggle_train.ipynb"
BUILD = ROOT / "build_notebook.py"
HEADINGS = ["1. Install packages", "2. Setup files", "3. Verify data", "4. Configuration", "5. Build command",
            "6. Quick test", "7. Full training"]


def build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BUILD), *args], capture_output=True, text=True, check=False,
                          cwd=ROOT, timeout=120)


def test_committed_notebook_is_not_stale():
    result = build("--check")
    assert result.returncode == 0, f"notebooks/kaggle_train.ipynb is stale: run `python build_notebook.py`\n" \
                                   f"{result.stderr}"


def test_rebuilding_is_byte_identical(tmp_path):
    first, second = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    assert build("--target", str(first)).returncode == 0
    assert build("--target", str(second)).returncode == 0
    assert first.read_bytes() == second.read_bytes() == NOTEBOOK.read_bytes()


def test_check_fails_when_the_source_changed(tmp_path):
    source = tmp_path / "kaggle_train.py"
    source.write_text(SOURCE.read_text(encoding="utf-8").replace("FULL_EPOCHS = 20", "FULL_EPOCHS = 21"),
                      encoding="utf-8")
    result = build("--check", "--source", str(source), "--target", str(NOTEBOOK))
    assert result.returncode == 1
    assert "stale" in result.stderr and "FULL_EPOCHS = 21" in result.stderr


def test_build_refuses_a_source_without_the_seven_cells(tmp_path):
    text = SOURCE.read_text(encoding="utf-8")
    source = tmp_path / "kaggle_train.py"
    source.write_text(text.split("# %% [markdown]\n# ## 7.")[0], encoding="utf-8")
    result = build("--source", str(source), "--target", str(tmp_path / "out.ipynb"))
    assert result.returncode == 1 and "6 code cells, expected 7" in result.stderr
    source.write_text(text.replace('# %% tags=["parameters"]', "# %%"), encoding="utf-8")
    result = build("--source", str(source), "--target", str(tmp_path / "out.ipynb"))
    assert result.returncode == 1 and "parameters" in result.stderr


def test_notebook_structure():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.kernelspec.name == "python3"
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    assert len(code) == 7
    for position, heading in zip(code, HEADINGS):
        assert nb.cells[position - 1].cell_type == "markdown"
        assert nb.cells[position - 1].source.splitlines()[0] == f"## {heading}"
    tagged = [n for n, position in enumerate(code, 1) if "parameters" in nb.cells[position].metadata.get("tags", [])]
    assert tagged == [4]
    assert all(cell.id for cell in nb.cells) and len({cell.id for cell in nb.cells}) == len(nb.cells)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
    # thin cells: they call codeqa, no model or training code in the notebook
    text = SOURCE.read_text(encoding="utf-8")
    for forbidden in ("import torch", "nn.Module", "optimizer", "backward("):
        assert forbidden not in text


@pytest.mark.slow
def test_papermill_runs_the_notebook_end_to_end(tiny_data, tmp_path, monkeypatch):
    """CI's smoke run: both training cells train 1 epoch of the quick config and leave their files."""
    papermill = pytest.importorskip("papermill")
    nbformat = pytest.importorskip("nbformat")
    work = tmp_path / "work"
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("CODEQA_DATA", str(tiny_data))
    monkeypatch.setenv("CODEQA_WORK_DIR", str(work))
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    planted = {"KAGGLE_USERNAME": "alice", "KAGGLE_KEY": "planted0notebook0key0c4ca4238a0b923820dcc509a6f75849b",
               "KAGGLE_API_TOKEN": "planted0notebook0token0c81e728d9d4c2f636f067f89cc14862c"}
    for key, value in planted.items():  # the kernel inherits them: none may reach the executed notebook
        monkeypatch.setenv(key, value)
    executed = tmp_path / "executed.ipynb"
    started = time.monotonic()
    papermill.execute_notebook(
        str(NOTEBOOK), str(executed), kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
        parameters={"CONFIG": "quick", "FULL_EPOCHS": 1, "QUICK_EPOCHS": 1, "NPROC": 1,
                    "OVERRIDES": {"batch_size": 16, "max_valid_examples": 6}, "QUICK_OVERRIDES": {}},
        execution_timeout=170)
    elapsed = time.monotonic() - started
    assert elapsed < 180, f"the papermill smoke run took {elapsed:.0f}s (budget: 3 minutes)"

    produced = {p.name for p in (work / "codeqa_full").iterdir()}
    assert {"last.pt", "metrics.jsonl", "logs.txt", "best_model_python.pt"} <= produced, produced
    quick = {p.name for p in (work / "codeqa_quick").iterdir()}
    assert {"metrics.jsonl", "logs.txt"} <= quick and not any(name.endswith(".pt") for name in quick), quick
    nb = nbformat.read(executed, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert "injected-parameters" in code[4].metadata.get("tags", [])  # right after the parameters cell
    text = {i: "".join(o.get("text", "") for o in cell.get("outputs", [])) for i, cell in enumerate(code)}
    assert "nothing to install" in text[0] and "torch" in text[0]
    assert "python/train: 48 examples" in text[2] and "python/dev: 6 examples" in text[2]
    assert "config quick does not pre-train" in text[5]   # GENERATE_PRETRAIN: nothing to generate for it
    assert "-m codeqa train --config quick" in text[5]
    quick, full = text[6], text[7]
    assert str(work / "codeqa_quick") in quick and "final metrics" in quick and "removed the checkpoints" in quick
    assert "--resume auto" in full and "final metrics" in full
    assert "checkpoint_epoch1.pt" in full and "missing" not in full  # what 1 epoch of quick (save_every 1) gives
    assert any("image/png" in o.get("data", {}) for o in code[7].outputs)  # training_curves.png shown
    for key in ("KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        assert planted[key] not in executed.read_text(encoding="utf-8")
