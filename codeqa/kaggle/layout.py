"""Names shared by the upload side (``codeqa kaggle prepare``) and the notebook side: the bundles' marker
files and zips, the notebook's output folders, the checkout codeqa runs from, the data's vocabulary."""

from __future__ import annotations

from pathlib import Path

from codeqa import runfiles
from codeqa.errors import CodeQAError

CODE_MARKER = "CODEQA_CODE.json"  # at the root of the code bundle: its manifest
DATA_MARKER = "CODEQA_DATA.json"
CODE_ZIP = "codeqa_code.zip"
DATA_ZIP = "codeqa_data.zip"
NOTEBOOK_NAME = "kaggle_train.ipynb"
CODE_FOLDER, DATA_FOLDER, KERNEL_FOLDER = "code_dataset", "data_dataset", "kernel"
CODE_SLUG, DATA_SLUG, KERNEL_SLUG = "codeqa-code", "codeqa-data", "codeqa-train"
MODELS_DIR = "models"  # in the code bundle: save_pretrained folders (codeqa kaggle prepare --pretrained)
BUNDLE_DIR = "codeqa_bundle"  # under the work dir: where zips that Kaggle did not extract are extracted
QUICK_OUT = "codeqa_quick"
FULL_OUT = "codeqa_full"
GENERATED_DATA_DIR = "codeqa_data"  # under the work dir: the data with a generated pretrain split


def repo_root(repo: str | Path | None = None, required: bool = True) -> Path | None:
    """The codeqa source checkout: ``repo``, else the one this package runs from (an editable install).
    Without one: an error, or None when not ``required``."""
    root = Path(repo).resolve() if repo is not None else Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "codeqa" / "__init__.py").is_file():
        return root
    if not required:
        return None
    raise CodeQAError(f"{root}: not a codeqa source checkout (no pyproject.toml + codeqa/); run from a clone of "
                      "the repository or pass --repo")


def data_vocab(data_dir: Path | None, lang: str) -> Path | None:
    """The vocabulary that ships with a dataset, ``<data>/vocab.json`` or ``<data>/<lang>/vocab.json``."""
    if data_dir is None:
        return None
    for candidate in (data_dir / runfiles.VOCAB, data_dir / lang / runfiles.VOCAB):
        if candidate.is_file():
            return candidate
    return None
