"""recipes/split_dev.sh: which 1,000 of the 7,000 dev examples validate, and that the rest train, in order."""

import subprocess
from pathlib import Path

import pytest

from codeqa.data import read_split
from tests.conftest import write_codeqa

SPLIT_DEV = Path(__file__).resolve().parent.parent / "recipes" / "split_dev.sh"


@pytest.fixture()
def numbered_dev(tmp_path) -> Path:
    """A CodeQA root whose 7,000 dev examples say their own line number (the real files end without a newline)."""
    write_codeqa(tmp_path / "root", "dev", [(f"q{i} ?", f"def f{i}", f"a{i}") for i in range(1, 7001)])
    return tmp_path / "root"


@pytest.mark.parametrize("block", [None, "0", "3"])
def test_split_dev_holds_out_one_block_and_trains_on_the_rest(numbered_dev, tmp_path, block):
    data = tmp_path / "data"
    subprocess.run(["bash", str(SPLIT_DEV), str(numbered_dev), str(data), *([block] if block else [])], check=True)
    held_out = int(block) if block else 6  # by default the last 1,000, as the README's numbers
    dev = [int(e.answer[1:]) for e in read_split(data, "python", "dev")]
    train = [int(e.answer[1:]) for e in read_split(data, "python", "train")]
    assert dev == list(range(held_out * 1000 + 1, held_out * 1000 + 1001))
    assert train == [i for i in range(1, 7001) if i not in set(dev)]
    assert [e.code for e in read_split(data, "python", "dev", "code.original")] == [f"def f{i}" for i in dev]


def test_split_dev_refuses_a_block_past_the_end(numbered_dev, tmp_path):
    run = subprocess.run(["bash", str(SPLIT_DEV), str(numbered_dev), str(tmp_path / "data"), "7"],
                         check=False, capture_output=True, text=True)
    assert run.returncode == 2 and "BLOCK 0-6" in run.stderr and not (tmp_path / "data").exists()
