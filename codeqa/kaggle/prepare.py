"""``codeqa kaggle prepare``: the upload folder, under ``--out`` (default ``kaggle_upload/``)::

    codeqa_code.zip   the codeqa wheel, the configs, the notebook, and wheels of the pure-Python
                      dependencies Kaggle's image lacks (so the notebook runs with Internet off)
    codeqa_data.zip   the data splits and, when given, the vocabulary JSON
    code_dataset/     dataset-metadata.json + codeqa_code.zip   → kaggle datasets create -p code_dataset
    data_dataset/     dataset-metadata.json + codeqa_data.zip   → kaggle datasets create -p data_dataset
    kernel/           kernel-metadata.json + kaggle_train.ipynb → kaggle kernels push -p kernel

The zips hold an allow-list of files only, and every produced file is scanned for the credentials found
on this machine (``prepare`` stops if one appears).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from codeqa import __version__, runfiles
from codeqa.data import PRETRAIN_SPLIT, REQUIRED_SPLITS
from codeqa.errors import CodeQAError
from codeqa.fileio import atomic_open, human_size, write_json
from codeqa.kaggle.archive import write_zip
from codeqa.kaggle.credentials import check_no_secrets, secret_values
from codeqa.kaggle.layout import (
    CODE_FOLDER,
    CODE_MARKER,
    CODE_SLUG,
    CODE_ZIP,
    DATA_FOLDER,
    DATA_MARKER,
    DATA_SLUG,
    DATA_ZIP,
    KERNEL_FOLDER,
    KERNEL_SLUG,
    MODELS_DIR,
    NOTEBOOK_NAME,
    data_vocab,
    repo_root,
)
from codeqa.kaggle.metadata import (
    DEFAULT_LICENSE,
    check_slug,
    dataset_metadata,
    kernel_metadata,
    resolve_owner,
    title_for,
)
from codeqa.kaggle.wheels import build_codeqa_wheel, download_wheels, pick_wheels

DEFAULT_OUT = "kaggle_upload"
DATA_FIELDS = ("question", "code", "answer", "code.original")
DATA_SPLITS = ("train", "dev", "test", PRETRAIN_SPLIT)
CODE_ALLOW = (re.compile(rf"^{re.escape(CODE_MARKER)}$"), re.compile(r"^wheels/[A-Za-z0-9_.+!-]+\.whl$"),
              re.compile(r"^configs/[A-Za-z0-9_.-]+\.yaml$"),
              re.compile(rf"^notebooks/{re.escape(NOTEBOOK_NAME)}$"),
              re.compile(rf"^{MODELS_DIR}/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"))
DATA_ALLOW = (re.compile(rf"^{re.escape(DATA_MARKER)}$"), re.compile(rf"^{re.escape(runfiles.VOCAB)}$"),
              re.compile(r"^(?P<lang>[a-z]+)/(?P<split>train|dev|test|pretrain)/(?P=split)\."
                         r"(question|code|answer|code\.original)$"))



@dataclass
class Prepared:
    out: Path
    code_zip: Path
    data_zip: Path
    code_folder: Path
    data_folder: Path
    kernel_folder: Path
    code_members: list[str]
    data_members: list[str]


def collect_data(data_dir: Path, lang: str, vocab: str | Path | None) -> tuple[dict, dict]:
    """The data zip's members (validated splits, and the vocabulary when there is one) and its manifest.

    Without a vocabulary (``--vocab`` or ``<data>/vocab.json``) none is shipped: training then builds the one
    its config asks for (``min_freq``, ``max_vocab``, over the train and pretrain splits), as every measured
    run did. A vocabulary built here could only guess the notebook's config."""
    from codeqa.data import read_split, split_dir
    from codeqa.vocab import Vocab

    if not re.fullmatch(r"[a-z]+", lang):
        raise CodeQAError(f"--lang {lang!r}: expected a language folder name such as python")
    members: dict[str, Path | bytes] = {}
    counts = {}
    for split in DATA_SPLITS:
        directory = split_dir(data_dir, lang, split)
        if split not in REQUIRED_SPLITS and not (directory / f"{split}.question").is_file():
            continue
        counts[split] = len(read_split(data_dir, lang, split))  # validates: aligned, UTF-8, not empty
        for field_name in DATA_FIELDS:
            path = directory / f"{split}.{field_name}"
            if path.is_file():
                members[f"{lang}/{split}/{split}.{field_name}"] = path
    if vocab is not None and not Path(vocab).is_file():
        raise CodeQAError(f"--vocab {vocab}: file not found")
    vocab_path = Path(vocab) if vocab is not None else data_vocab(data_dir, lang)
    if vocab_path is None:
        vocab_source = "none: training builds the one its config asks for (min_freq, max_vocab)"
        print(f"no vocabulary in {data_dir}: none shipped, training builds the one its config asks for")
    else:
        Vocab.load(vocab_path)  # validates
        vocab_source = vocab_path.name
        members[runfiles.VOCAB] = vocab_path
    manifest = {"format": "codeqa-kaggle-data", "version": 1, "codeqa_version": __version__, "lang": lang,
                "examples": counts, "vocab": runfiles.VOCAB if vocab_path else None, "vocab_source": vocab_source}
    members[DATA_MARKER] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    return members, manifest


def pretrained_members(folder: Path) -> dict[str, Path]:
    """A save_pretrained folder's files as code-bundle members ``models/<folder name>/<file>``."""
    if not (folder / "config.json").is_file():
        raise CodeQAError(f"--pretrained {folder}: not a model folder in the save_pretrained layout (no config.json)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", folder.name):
        raise CodeQAError(f"--pretrained {folder}: name the folder with letters, digits, '.', '_' and '-' only")
    return {f"{MODELS_DIR}/{folder.name}/{p.name}": p for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".")}


def collect_code(repo: Path, tmp: Path, notebook: Path | None, wheels_from: Path | None, deps_wheels: bool,
                 wheel_cache: Path, pretrained: Path | None = None) -> tuple[dict, dict]:
    members: dict[str, Path | bytes] = dict(pretrained_members(pretrained)) if pretrained else {}
    wheels = [build_codeqa_wheel(repo, tmp / "wheels")]
    if deps_wheels:
        wheels += pick_wheels(wheels_from) if wheels_from is not None else download_wheels(wheel_cache)
    for wheel in wheels:
        members[f"wheels/{wheel.name}"] = wheel
    configs = sorted((repo / "codeqa" / "configs").glob("*.yaml"))
    for config in configs:
        members[f"configs/{config.name}"] = config
    notebook = notebook or repo / "notebooks" / NOTEBOOK_NAME
    check_notebook(notebook)
    members[f"notebooks/{NOTEBOOK_NAME}"] = notebook
    manifest = {"format": "codeqa-kaggle-code", "version": 1, "codeqa_version": __version__,
                "wheels": [w.name for w in wheels], "configs": [c.stem for c in configs],
                "notebook": f"notebooks/{NOTEBOOK_NAME}", "models": [pretrained.name] if pretrained else [],
                "install": "pip install --no-index --no-deps --find-links wheels wheels/*.whl"}
    members[CODE_MARKER] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    return members, manifest


def check_notebook(path: Path) -> None:
    if not path.is_file():
        raise CodeQAError(f"{path}: notebook not found (build it with `python build_notebook.py`)")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CodeQAError(f"{path}: not a notebook ({err})") from None
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise CodeQAError(f"{path}: not an nbformat 4 notebook")
    if any(cell.get("outputs") for cell in nb["cells"]):
        raise CodeQAError(f"{path}: the notebook has outputs; upload the clean one from build_notebook.py")


def _place(zip_path: Path, folder: Path) -> Path:
    """Put ``zip_path`` into ``folder`` (a hard link when possible, else a copy), replacing an older one."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / zip_path.name
    target.unlink(missing_ok=True)
    try:
        os.link(zip_path, target)
    except OSError:
        shutil.copy2(zip_path, target)
    return target


def prepare(data_dir: str | Path, out: str | Path = DEFAULT_OUT, owner: str | None = None, *,
            internet: bool = False, lang: str = "python", vocab: str | Path | None = None,
            repo: str | Path | None = None, notebook: str | Path | None = None,
            wheels_from: str | Path | None = None, deps_wheels: bool = True,
            wheel_cache: str | Path | None = None,
            code_slug: str = CODE_SLUG, data_slug: str = DATA_SLUG, kernel_slug: str = KERNEL_SLUG,
            license_name: str = DEFAULT_LICENSE, resume_from: Sequence[str] = (),
            pretrained: str | Path | None = None, env: Mapping[str, str] | None = None) -> Prepared:
    """Build the two zips, the two dataset folders and the kernel folder under ``out``. ``pretrained``, a
    save_pretrained folder, travels in the code bundle; the notebook trains from it when a config's
    ``pretrained`` names a folder of that name."""
    env = os.environ if env is None else env
    owner = resolve_owner(owner, env)
    check_slug(code_slug, "code dataset", 6)
    check_slug(data_slug, "data dataset", 6)
    check_slug(kernel_slug, "kernel", 5)
    data_dir, out = Path(data_dir), Path(out)
    repo_path = repo_root(repo)
    secrets = secret_values(env)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(wheel_cache) if wheel_cache else out / ".wheel-cache"
    with tempfile.TemporaryDirectory(prefix="codeqa-kaggle-") as tmp_name:
        tmp = Path(tmp_name)
        data_members, data_manifest = collect_data(data_dir, lang, vocab)
        code_members, code_manifest = collect_code(
            repo_path, tmp, Path(notebook) if notebook else None, Path(wheels_from) if wheels_from else None,
            deps_wheels, cache, Path(pretrained) if pretrained else None)
        sources = [m for m in [*code_members.values(), *data_members.values()] if isinstance(m, Path)]
        check_no_secrets(sources, secrets)
        code_zip, data_zip = out / CODE_ZIP, out / DATA_ZIP
        write_zip(code_zip, code_members, CODE_ALLOW)
        write_zip(data_zip, data_members, DATA_ALLOW)
    code_folder, data_folder, kernel_folder = out / CODE_FOLDER, out / DATA_FOLDER, out / KERNEL_FOLDER
    _place(code_zip, code_folder)
    _place(data_zip, data_folder)
    wheel_list = ", ".join(code_manifest["wheels"])
    counts = ", ".join(f"{split} {n}" for split, n in data_manifest["examples"].items())
    code_meta = dataset_metadata(
        owner, code_slug, "CodeQA code and wheels" if code_slug == CODE_SLUG else title_for(code_slug),
        license_name, f"codeqa {__version__}: wheels ({wheel_list}), configs and the training notebook, made "
                      "by `codeqa kaggle prepare`.")
    vocab_note = " and its vocabulary" if data_manifest["vocab"] else ""
    data_meta = dataset_metadata(
        owner, data_slug, "CodeQA training data" if data_slug == DATA_SLUG else title_for(data_slug),
        license_name, f"CodeQA {lang} splits ({counts}){vocab_note}, made by `codeqa kaggle prepare`. The data "
                      "keeps the license of its authors (CodeQA, Liu & Wan 2021).")
    write_json(code_folder / "dataset-metadata.json", code_meta)
    write_json(data_folder / "dataset-metadata.json", data_meta)
    kernel_folder.mkdir(parents=True, exist_ok=True)
    nb_source = Path(notebook) if notebook else repo_path / "notebooks" / NOTEBOOK_NAME
    with atomic_open(kernel_folder / NOTEBOOK_NAME, "wb") as handle:
        handle.write(nb_source.read_bytes())
    meta = kernel_metadata(owner, kernel_slug, [code_meta["id"], data_meta["id"]], internet, resume_from)
    write_json(kernel_folder / "kernel-metadata.json", meta)
    produced = [code_zip, data_zip, *(p for folder in (code_folder, data_folder, kernel_folder)
                                      for p in sorted(folder.iterdir()) if p.is_file())]
    check_no_secrets(produced, secrets)
    return Prepared(out, code_zip, data_zip, code_folder, data_folder, kernel_folder,
                    sorted(code_members), sorted(data_members))


def prepare_report(prepared: Prepared) -> str:
    meta = json.loads((prepared.kernel_folder / "kernel-metadata.json").read_text(encoding="utf-8"))
    models = sorted({m.split("/")[1] for m in prepared.code_members if m.startswith(f"{MODELS_DIR}/")})
    code_size, data_size = human_size(prepared.code_zip.stat().st_size), human_size(prepared.data_zip.stat().st_size)
    lines = [f"{prepared.code_zip}  {code_size}  ({len(prepared.code_members)} files)",
             f"{prepared.data_zip}  {data_size}  ({len(prepared.data_members)} files)",
             (f"datasets: {', '.join(meta['dataset_sources'])} "
              f"(folders {prepared.code_folder}, {prepared.data_folder})"),
             (f"kernel:   {meta['id']} (folder {prepared.kernel_folder}; GPU T4 x2, internet "
              f"{'on' if meta['enable_internet'] else 'off'})"),
             ("pretrain split: shipped" if any(m.split("/")[1:2] == [PRETRAIN_SPLIT] for m in prepared.data_members)
              else "pretrain split: none (the notebook's cell 5 generates one on Kaggle when its CONFIG pre-trains)"),
             ("pretrained model: " + (", ".join(f"{m} bundled (the notebook uses it for pretrained={m})"
                                                for m in models) if models else
                                      "none bundled (hf_seq2seq configs then load from the hub: --internet)")),
             "",
             f"next: codeqa kaggle push --upload-dir {prepared.out}   (uploads both datasets)",
             f"then: codeqa kaggle run --upload-dir {prepared.out}    (starts the notebook on Kaggle)"]
    return "\n".join(lines)
