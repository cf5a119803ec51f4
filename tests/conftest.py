"""Shared fixtures: the real CodeQA dev split (when CI points at it), a small dataset, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REAL_DATA_ENV = "CODEQA_REAL_DATA"


@pytest.fixture(scope="session")
def real_data_root() -> Path:
    """The folder holding ``python/dev/dev.*`` (../shared/codeqa); .ci/run sets CODEQA_REAL_DATA."""
    value = os.environ.get(REAL_DATA_ENV)
    if not value:
        pytest.skip(f"{REAL_DATA_ENV} is not set: point it at a CodeQA root holding python/dev/ "
                    "(.ci/run sets it to ../shared/codeqa) to run the tests on real data")
    root = Path(value)
    if not (root / "python" / "dev" / "dev.question").is_file():
        pytest.fail(f"{REAL_DATA_ENV}={value} does not hold python/dev/dev.question")
    return root


def write_codeqa(root: Path, split: str, rows: list[tuple[str, str, str]], lang: str = "python") -> Path:
    """Write (question, code, answer) rows in the CodeQA layout, without a final newline like CodeQA."""
    directory = root / lang / split
    directory.mkdir(parents=True, exist_ok=True)
    for i, field in enumerate(("question", "code", "answer")):
        (directory / f"{split}.{field}").write_text("\n".join(r[i] for r in rows), encoding="utf-8")
    (directory / f"{split}.code.original").write_text("\n".join(r[1] for r in rows), encoding="utf-8")
    return directory


TINY_ROWS = [
    ("What does the code return ?", "def add a b return a + b", "the sum of a and b"),
    ("What does the code create ?", "def make list n return list range n", "a list"),
    ("How does the code read the file ?", "def load path with open path as f return f read", "with open"),
    ("Does the code return the sum ?", "def add a b return a + b", "Yes"),
    ("Where does the code write the data ?", "def save data path write path data", "in path"),
    ("What does the code parse ?", "def parse text return json loads text", "the json text"),
]


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """A small dataset in the CodeQA layout: train (repeated rows) and dev."""
    root = tmp_path / "tiny"
    write_codeqa(root, "train", TINY_ROWS * 8)
    write_codeqa(root, "dev", TINY_ROWS)
    return root


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m codeqa ARGS`` as a user would; output captured as text."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "codeqa", *args], check=False, cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
