"""The Kaggle notebook's first cells: where the code and data are, what this machine has, whether the data
is complete. ``notebooks/kaggle_train.py`` is a thin sequence of calls into this module and
:mod:`codeqa.kaggle.training_run`, so that the logic is tested here rather than inside a notebook. It
imports only the standard library at import time (torch lazily), and never touches credentials.

* On Kaggle (``KAGGLE_KERNEL_RUN_TYPE`` is set) the code and data datasets are found by searching
  ``/kaggle/input`` for their marker files: datasets mount at ``/kaggle/input/datasets/<owner>/<slug>/``
  today and at ``/kaggle/input/<slug>/`` in older setups, and Kaggle may or may not have extracted the
  uploaded zip. When only the zip is there it is extracted into ``/kaggle/working/codeqa_bundle/``.
* Elsewhere the data comes from ``$CODEQA_DATA`` (or ``data/`` of the repository checkout) and outputs go
  to ``$CODEQA_WORK_DIR`` (or ``runs/kaggle_notebook/``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from codeqa import runfiles
from codeqa.errors import CodeQAError
from codeqa.kaggle.archive import safe_extract
from codeqa.kaggle.layout import (
    BUNDLE_DIR,
    CODE_MARKER,
    CODE_ZIP,
    DATA_MARKER,
    DATA_ZIP,
    data_vocab,
    repo_root,
)

KAGGLE_INPUT = Path("/kaggle/input")
KAGGLE_WORKING = Path("/kaggle/working")
MAX_SEARCH_DEPTH = 7


def on_kaggle(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("KAGGLE_KERNEL_RUN_TYPE"))


# ---------------------------------------------------------------- finding things
def find_files(root: Path, name: str, max_depth: int = MAX_SEARCH_DEPTH) -> list[Path]:
    """Every file called ``name`` under ``root`` (at most ``max_depth`` folders down), shallowest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found: list[Path] = []
    base_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        depth = len(Path(dirpath).parts) - base_depth
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < max_depth else []
        if name in filenames:
            found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: (len(p.parts), str(p)))


def find_bundle(input_root: Path, marker: str, zip_name: str, extract_to: Path) -> Path | None:
    """The folder with ``marker``: as Kaggle mounted it, or extracted from ``zip_name`` to ``extract_to``."""
    markers = find_files(input_root, marker)
    if markers:
        return markers[0].parent
    if (extract_to / marker).is_file():  # extracted by an earlier run of this cell
        return extract_to
    zips = find_files(input_root, zip_name)
    if not zips:
        return None
    print(f"extracting {zips[0]} → {extract_to}")
    safe_extract(zips[0], extract_to)
    markers = find_files(extract_to, marker)
    return markers[0].parent if markers else None


def find_raw_layout(root: Path, lang: str = "python") -> Path | None:
    """A folder holding ``<lang>/train/train.question`` (data uploaded without ``codeqa kaggle prepare``)."""
    for question in find_files(root, "train.question"):
        candidate = question.parent.parent.parent
        if question.parent.name == "train" and question.parent.parent.name == lang:
            return candidate
    return None


# ---------------------------------------------------------------- cell 2: setup files
@dataclass
class Paths:
    """Where the notebook reads and writes; ``searched`` says where the data was looked for."""

    on_kaggle: bool
    work_dir: Path
    data_dir: Path | None
    code_dir: Path | None = None
    input_root: Path | None = None
    lang: str = "python"
    searched: list[str] = field(default_factory=list)

    @property
    def vocab(self) -> Path | None:
        return data_vocab(self.data_dir, self.lang)

    def describe(self) -> str:
        not_found = f"(not found; looked in {', '.join(self.searched)})"
        lines = [f"running on Kaggle: {'yes' if self.on_kaggle else 'no'}",
                 f"code bundle:  {self.code_dir or '(not needed: codeqa is installed)'}",
                 f"data:         {self.data_dir or not_found}",
                 f"vocabulary:   {self.vocab or '(none: training builds the one its config asks for)'}",
                 f"outputs:      {self.work_dir}"]
        return "\n".join(lines)


def setup_paths(env: Mapping[str, str] | None = None, input_root: Path = KAGGLE_INPUT,
                kaggle_working: Path = KAGGLE_WORKING, lang: str = "python") -> Paths:
    """Find the code and data and make the output folder; never fails (``verify_data`` reports problems)."""
    env = os.environ if env is None else env
    if on_kaggle(env):
        work = Path(kaggle_working)
        work.mkdir(parents=True, exist_ok=True)
        bundles = work / BUNDLE_DIR
        code = find_bundle(input_root, CODE_MARKER, CODE_ZIP, bundles / "code")
        data = (find_bundle(input_root, DATA_MARKER, DATA_ZIP, bundles / "data")
                or find_raw_layout(input_root, lang))
        searched = [f"{input_root} (for {DATA_MARKER}, {DATA_ZIP} or {lang}/train/train.question)"]
        return Paths(True, work, data, code, Path(input_root), lang, searched)

    root = repo_root(required=False)
    searched = []
    data = None
    if env.get("CODEQA_DATA"):
        searched.append(f"$CODEQA_DATA={env['CODEQA_DATA']}")
        data = Path(env["CODEQA_DATA"]).expanduser()
    elif root is not None:
        searched.append(f"{root / 'data'} (set CODEQA_DATA to use another folder)")
        data = root / "data"
    else:
        searched.append("$CODEQA_DATA (not set)")
    if env.get("CODEQA_WORK_DIR"):
        work = Path(env["CODEQA_WORK_DIR"]).expanduser()
    else:
        work = (root or Path.cwd()) / "runs" / "kaggle_notebook"
    work.mkdir(parents=True, exist_ok=True)
    data = data.resolve() if data is not None else None
    return Paths(False, work.resolve(), data, None, None, lang, searched)


# ---------------------------------------------------------------- cell 1: runtime report
def runtime_report() -> tuple[str, int]:
    """A description of Python, torch, CUDA and the visible GPUs, and how many GPUs there are."""
    import codeqa

    lines = [f"python {sys.version.split()[0]}",
             f"codeqa {codeqa.__version__} from {Path(codeqa.__file__).parent}"]
    try:
        import torch
    except ImportError:
        return "\n".join([*lines, "torch: NOT INSTALLED"]), 0
    lines.append(f"torch {torch.__version__}, built for CUDA {torch.version.cuda or '(none: CPU build)'}")
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    arch_list = torch.cuda.get_arch_list() if n else []
    for i in range(n):
        props = torch.cuda.get_device_properties(i)
        major, minor = props.major, props.minor
        line = (f"GPU {i}: {props.name}, {props.total_memory / 2**30:.1f} GiB, "
                f"compute capability {major}.{minor}")
        if arch_list and f"sm_{major}{minor}" not in arch_list and not any(
                a.startswith(f"sm_{major}") for a in arch_list):
            line += (f"  ← WARNING: this torch build has no kernels for sm_{major}{minor} "
                     f"(it has {', '.join(arch_list)}); pick GPU T4 x2")
        lines.append(line)
    if n == 0:
        lines += ["", "!" * 78,
                  "!!  NO GPU VISIBLE: training would run on the CPU and take days.",
                  "!!  On Kaggle: Settings → Accelerator → GPU T4 x2, then run the notebook again.",
                  "!" * 78]
    return "\n".join(lines), n


def print_runtime_report() -> int:
    text, n = runtime_report()
    print(text, flush=True)
    return n


# ---------------------------------------------------------------- cell 3: verify data
def verify_data(paths: Paths) -> dict:
    """Count the examples of each split and load the vocabulary; a clear error when something is missing."""
    from codeqa.data import PRETRAIN_SPLIT, REQUIRED_SPLITS, SPLITS, read_split, split_file
    from codeqa.vocab import Vocab

    where = "; ".join(paths.searched) or "nowhere"
    if paths.data_dir is None or not paths.data_dir.is_dir():
        hint = ("add the data dataset made by `codeqa kaggle prepare` to this notebook (Add Input)"
                if paths.on_kaggle else "set CODEQA_DATA to a folder in the CodeQA layout")
        raise CodeQAError(f"data folder not found (looked in {where}); expected "
                          f"<data>/{paths.lang}/{{train,dev}}/<split>.{{question,code,answer}}: {hint}")
    missing = [str(split_file(paths.data_dir, paths.lang, split, "question")) for split in REQUIRED_SPLITS
               if not split_file(paths.data_dir, paths.lang, split, "question").is_file()]
    if missing:
        raise CodeQAError(f"in {paths.data_dir} (found by looking in {where}): missing {', '.join(missing)} "
                          f"(training needs the {' and '.join(REQUIRED_SPLITS)} splits)")
    counts = {}
    for split in (*SPLITS, PRETRAIN_SPLIT):
        if split in REQUIRED_SPLITS or split_file(paths.data_dir, paths.lang, split, "question").is_file():
            counts[split] = len(read_split(paths.data_dir, paths.lang, split))
    summary: dict = {"data_dir": str(paths.data_dir), "counts": counts, "vocab": None, "vocab_size": None}
    print(f"data: {paths.data_dir}")
    for split, n in counts.items():
        print(f"  {paths.lang}/{split}: {n:,} examples")
    if PRETRAIN_SPLIT not in counts:
        print("  (no pretrain split: when CONFIG pre-trains, as kaggle_t4 does, cell 5 generates one from the "
              "standard library and the installed packages, GENERATE_PRETRAIN; or add one with `codeqa "
              "make-dataset --source stdlib PACKAGES_DIR --pretrain-for DATA_DIR` before `codeqa kaggle prepare`)")
    vocab_path = paths.vocab
    if vocab_path is not None:
        vocab = Vocab.load(vocab_path)
        summary.update(vocab=str(vocab_path), vocab_size=len(vocab))
        print(f"vocabulary: {len(vocab):,} tokens from {vocab_path}")
    else:
        print(f"vocabulary: none in {paths.data_dir} ({runfiles.VOCAB}); training builds the one its config asks "
              "for from the train (and pretrain) splits")
    return summary
