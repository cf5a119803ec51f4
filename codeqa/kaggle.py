"""Kaggle packaging and automation: ``codeqa kaggle prepare | push | run | status | download``.

``prepare`` builds, under ``--out`` (default ``kaggle_upload/``)::

    codeqa_code.zip          the codeqa wheel, the configs, the notebook, and wheels of the pure-Python
                             dependencies Kaggle's image lacks (so the notebook runs with Internet off)
    codeqa_data.zip          the data splits and, when given, the vocabulary JSON
    code_dataset/            dataset-metadata.json + codeqa_code.zip  → kaggle datasets create -p code_dataset
    data_dataset/            dataset-metadata.json + codeqa_data.zip  → kaggle datasets create -p data_dataset
    kernel/                  kernel-metadata.json + kaggle_train.ipynb → kaggle kernels push -p kernel

The other commands call the ``kaggle`` command line in a subprocess: importing the ``kaggle`` package
authenticates at import time and exits the process without credentials, so it is never imported here.

Security: the zips hold an allow-list of files only (anything else is refused, and so is a member name
that would escape the archive root); every produced file is scanned for the credentials found on this
machine (kaggle.json keys, access tokens, ``KAGGLE_KEY``-like variables) and ``prepare`` fails if one
appears; output from the ``kaggle`` CLI is printed with those values masked.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from codeqa import __version__
from codeqa.data import PRETRAIN_SPLIT
from codeqa.errors import CodeQAError
from codeqa.fileio import atomic_open, human_size, write_json
from codeqa.kaggle_env import (
    CODE_MARKER,
    CODE_ZIP,
    DATA_MARKER,
    DATA_ZIP,
    FULL_OUT,
    VOCAB_FILE,
    format_summary,
    summarize_run,
)

DEFAULT_OUT = "kaggle_upload"
CODE_FOLDER, DATA_FOLDER, KERNEL_FOLDER = "code_dataset", "data_dataset", "kernel"
CODE_SLUG, DATA_SLUG, KERNEL_SLUG = "codeqa-code", "codeqa-data", "codeqa-train"
NOTEBOOK_NAME = "kaggle_train.ipynb"
DEFAULT_LICENSE = "CC0-1.0"
MACHINE_SHAPE = "NvidiaTeslaT4"  # "GPU T4 x2"; enable_gpu alone gets a P100 that today's torch cannot use
# Pure-Python wheels bundled for Kaggle: sacrebleu and those of its requirements Kaggle's image may lack.
# numpy, regex and lxml (its other requirements) and torch, matplotlib, tqdm, PyYAML (codeqa's) are there.
BUNDLED_REQUIREMENTS = ("sacrebleu>=2.3", "portalocker", "colorama", "tabulate>=0.8.9")
DATA_FIELDS = ("question", "code", "answer", "code.original")
DATA_SPLITS = ("train", "dev", "test", PRETRAIN_SPLIT)
REQUIRED_SPLITS = ("train", "dev")
FIXED_DATE = (2020, 1, 1, 0, 0, 0)  # zip member timestamps: the same inputs give the same zip
WHEEL_RE = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[A-Za-z0-9_.+!]+)(-[A-Za-z0-9_.]+)?"
                      r"-(?P<tags>[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+)\.whl$")
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
OWNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# The kaggle CLI prints some failures (a dataset that cannot be created, a kernel push refused) and still
# exits with status 0.
KAGGLE_FAILURE_RE = re.compile(r"(creation error|push error|^\s*error\b|\b4\d\d client error\b)",
                               re.IGNORECASE | re.MULTILINE)
CREDENTIAL_NAMES = ("kaggle.json", "access_token", "access_token.txt", "credentials.json")
MIN_SECRET_LEN = 8
SENSITIVE_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


# ---------------------------------------------------------------- credentials (never copied, only detected)
def _config_dirs(env: Mapping[str, str]) -> list[Path]:
    home = Path(env.get("HOME") or Path.home())
    dirs = []
    if env.get("KAGGLE_CONFIG_DIR"):
        dirs.append(Path(env["KAGGLE_CONFIG_DIR"]))
    dirs.append(home / ".kaggle")
    dirs.append(Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle")
    return dirs


def credential_files(env: Mapping[str, str] | None = None) -> list[Path]:
    """The credential files the ``kaggle`` CLI would read on this machine that exist."""
    env = os.environ if env is None else env
    found = [d / name for d in _config_dirs(env) for name in CREDENTIAL_NAMES if (d / name).is_file()]
    token = env.get("KAGGLE_API_TOKEN", "")
    if token and len(token) < 4096 and Path(token).is_file():
        found.append(Path(token))
    return list(dict.fromkeys(found))


def credential_source(env: Mapping[str, str] | None = None) -> str | None:
    """Where the ``kaggle`` CLI would find credentials (a description, never the value), or None."""
    env = os.environ if env is None else env
    if env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME and KAGGLE_KEY"
    if env.get("KAGGLE_API_TOKEN"):
        return "KAGGLE_API_TOKEN"
    files = credential_files(env)
    return str(files[0]) if files else None


CREDENTIALS_HELP = (
    "no Kaggle credentials found. Set them up once: on https://www.kaggle.com/settings/api click "
    "'Create New Token' and save the downloaded kaggle.json as ~/.kaggle/kaggle.json (chmod 600), "
    "or export KAGGLE_USERNAME and KAGGLE_KEY, or export KAGGLE_API_TOKEN (or save the token in "
    "~/.kaggle/access_token), or run `kaggle auth login`. KAGGLE_CONFIG_DIR moves the folder.")


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Values that must never appear in a produced file or a log: keys and tokens found on this machine."""
    env = os.environ if env is None else env
    secrets: set[str] = set()
    for name, value in env.items():
        sensitive = name.startswith("KAGGLE_") and any(w in name for w in SENSITIVE_WORDS)
        if sensitive and value and not (len(value) < 4096 and Path(value).is_file()):
            secrets.add(value.strip())
    for path in credential_files(env):
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            secrets.add(text)  # access_token files hold the bare token
            continue
        if isinstance(obj, dict):  # kaggle.json: key; credentials.json (kaggle auth login): *_token
            secrets.update(v.strip() for k, v in obj.items() if isinstance(v, str)
                           and ("key" in k.lower() or k.lower().endswith("token")))
    return sorted(s for s in secrets if len(s) >= MIN_SECRET_LEN)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _find_secret(data: bytes, secrets: Sequence[str]) -> bool:
    return any(s.encode("utf-8") in data for s in secrets)


def check_no_secrets(paths: Iterable[Path], secrets: Sequence[str]) -> None:
    """Fail if a credential value appears in any of ``paths`` (zips and wheels are read member by member)."""
    if not secrets:
        return
    for path in paths:
        if path.name in CREDENTIAL_NAMES:
            raise CodeQAError(f"{path}: a credential file must never be part of an upload")
        data = path.read_bytes()
        leaked = _find_secret(data, secrets)
        if not leaked and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    inner = archive.read(info)
                    nested = inner[:4] == b"PK\x03\x04" and _zip_has_secret(inner, secrets)  # a wheel
                    if nested or _find_secret(inner, secrets):
                        leaked = True
                        break
        if leaked:
            raise CodeQAError(f"{path}: contains a Kaggle credential value (a key or token found on this "
                              "machine); refusing to upload it")


def _zip_has_secret(data: bytes, secrets: Sequence[str]) -> bool:
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(_find_secret(archive.read(info), secrets) for info in archive.infolist())
    except zipfile.BadZipFile:
        return False


# ---------------------------------------------------------------- zips with an allow-list
CODE_ALLOW = (re.compile(rf"^{re.escape(CODE_MARKER)}$"), re.compile(r"^wheels/[A-Za-z0-9_.+!-]+\.whl$"),
              re.compile(r"^configs/[A-Za-z0-9_.-]+\.yaml$"),
              re.compile(rf"^notebooks/{re.escape(NOTEBOOK_NAME)}$"))
DATA_ALLOW = (re.compile(rf"^{re.escape(DATA_MARKER)}$"), re.compile(rf"^{re.escape(VOCAB_FILE)}$"),
              re.compile(r"^(?P<lang>[a-z]+)/(?P<split>train|dev|test|pretrain)/(?P=split)\."
                         r"(question|code|answer|code\.original)$"))


def check_arcname(name: str, allow: Sequence[re.Pattern]) -> str:
    """A member name that stays inside the archive root and matches the allow-list, or an error."""
    pure = PurePosixPath(name)
    if (not name or name.startswith(("/", "\\")) or "\\" in name or ":" in name or ".." in pure.parts
            or "." in pure.parts or str(pure) != name):
        raise CodeQAError(f"refusing archive member {name!r}: its path would escape the archive root")
    if not any(pattern.match(name) for pattern in allow):
        raise CodeQAError(f"refusing archive member {name!r}: not on the upload allow-list")
    return name


def write_zip(path: Path, members: Mapping[str, Path | bytes], allow: Sequence[re.Pattern]) -> None:
    """Write ``members`` (archive name → file or bytes) atomically, sorted, with fixed timestamps."""
    names = sorted(members)
    for name in names:
        check_arcname(name, allow)
        source = members[name]
        if isinstance(source, Path):
            if source.name in CREDENTIAL_NAMES:
                raise CodeQAError(f"{source}: a credential file must never be part of an upload")
            if not source.is_file():
                raise CodeQAError(f"{source}: not a regular file (for archive member {name})")
    with atomic_open(path, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            source = members[name]
            data = source if isinstance(source, bytes) else source.read_bytes()
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".whl") else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)


# ---------------------------------------------------------------- metadata
def check_slug(slug: str, what: str, lo: int, hi: int = 50) -> str:
    if not (lo <= len(slug) <= hi) or not SLUG_RE.match(slug):
        raise CodeQAError(f"{what} slug {slug!r}: use {lo}-{hi} lower-case letters, digits and dashes")
    return slug


def check_ref(ref: str, what: str) -> str:
    parts = ref.split("/")
    if len(parts) != 2 or not OWNER_RE.match(parts[0]) or not SLUG_RE.match(parts[1]):
        raise CodeQAError(f"{what} {ref!r}: expected OWNER/SLUG (e.g. alice/codeqa-train)")
    return ref


def title_for(slug: str) -> str:
    """A title that Kaggle slugifies back to ``slug`` ('codeqa-train' → 'Codeqa Train')."""
    return slug.replace("-", " ").title()


def dataset_metadata(owner: str, slug: str, title: str, license_name: str = DEFAULT_LICENSE,
                     description: str = "") -> dict:
    check_slug(slug, "dataset", 6)  # the kaggle CLI refuses dataset slugs under 6 characters
    if not 6 <= len(title) <= 50:
        raise CodeQAError(f"dataset title {title!r}: must be 6-50 characters")
    meta = {"title": title, "id": f"{owner}/{slug}", "licenses": [{"name": license_name}]}
    if description:
        meta["description"] = description
    return meta


def kernel_metadata(owner: str, slug: str, dataset_refs: Sequence[str], internet: bool = False,
                    kernel_sources: Sequence[str] = ()) -> dict:
    check_slug(slug, "kernel", 5)
    return {"id": f"{owner}/{slug}", "title": title_for(slug), "code_file": NOTEBOOK_NAME,
            "language": "python", "kernel_type": "notebook", "is_private": True, "enable_gpu": True,
            "enable_tpu": False, "enable_internet": bool(internet), "machine_shape": MACHINE_SHAPE,
            "dataset_sources": list(dataset_refs), "competition_sources": [],
            "kernel_sources": [check_ref(k, "--resume-from") for k in kernel_sources], "model_sources": []}


def validate_dataset_metadata(meta: dict) -> None:
    """The checks ``kaggle datasets create`` makes, so problems show before an upload."""
    if not isinstance(meta, dict):
        raise CodeQAError("dataset-metadata.json: expected a JSON object")
    title, ref, licenses = meta.get("title"), meta.get("id"), meta.get("licenses")
    if not isinstance(title, str) or not 6 <= len(title) <= 50:
        raise CodeQAError(f"dataset-metadata.json: title {title!r} must be 6-50 characters")
    check_ref(str(ref), "dataset-metadata.json id")
    check_slug(str(ref).split("/")[1], "dataset", 6)
    if not isinstance(licenses, list) or len(licenses) != 1 or not (licenses[0] or {}).get("name"):
        raise CodeQAError("dataset-metadata.json: exactly one license with a name is required")


def validate_kernel_metadata(meta: dict, folder: Path | None = None) -> None:
    """The checks ``kaggle kernels push`` makes, and the settings this project relies on."""
    ref = str(meta.get("id", ""))
    check_ref(ref, "kernel-metadata.json id")
    check_slug(ref.split("/")[1], "kernel", 5)
    for key, expected in (("kernel_type", "notebook"), ("language", "python"), ("enable_gpu", True),
                          ("machine_shape", MACHINE_SHAPE)):
        if meta.get(key) != expected:
            raise CodeQAError(f"kernel-metadata.json: {key} must be {expected!r}, got {meta.get(key)!r}")
    for key in ("dataset_sources", "kernel_sources"):
        for item in meta.get(key, []):
            check_ref(item, f"kernel-metadata.json {key} entry")
    if folder is not None and not (folder / str(meta.get("code_file", ""))).is_file():
        raise CodeQAError(f"{folder}: code_file {meta.get('code_file')!r} not found")


# ---------------------------------------------------------------- wheels
def find_repo(repo: str | Path | None = None) -> Path:
    if repo is not None:
        root = Path(repo).resolve()
    else:
        root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file() or not (root / "codeqa" / "__init__.py").is_file():
        raise CodeQAError(f"{root}: not a codeqa source checkout (no pyproject.toml + codeqa/); run from a "
                          "clone of the repository or pass --repo")
    return root


def wheel_name(path: Path) -> str:
    match = WHEEL_RE.match(path.name)
    if not match:
        raise CodeQAError(f"{path}: not a wheel file name")
    return match.group("name").lower().replace("_", "-").replace(".", "-")


def check_wheel(path: Path) -> None:
    """A wheel of a pure-Python package, whose members stay inside its root."""
    match = WHEEL_RE.match(path.name)
    if not match or not match.group("tags").endswith("-none-any"):
        raise CodeQAError(f"{path}: only pure-Python wheels (*-none-any.whl) can be bundled for Kaggle")
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                pure = PurePosixPath(name)
                if pure.is_absolute() or ".." in pure.parts:
                    raise CodeQAError(f"{path}: member {name!r} escapes the wheel root")
                if pure.name in CREDENTIAL_NAMES:
                    raise CodeQAError(f"{path}: holds {name}, a credential file name")
    except zipfile.BadZipFile:
        raise CodeQAError(f"{path}: not a valid wheel (zip) file") from None


CODEQA_WHEEL_ALLOW = re.compile(r"^(codeqa/([A-Za-z0-9_]+/)*[A-Za-z0-9_]+\.py"
                                r"|codeqa/([A-Za-z0-9_]+/)*[A-Za-z0-9_.-]+\.(yaml|yml|json|txt)"
                                r"|codeqa-[^/]+\.dist-info/[A-Za-z0-9_.-]+)$")


def build_codeqa_wheel(repo: Path, dest: Path) -> Path:
    """``pip wheel --no-deps`` of a clean copy of the package sources; its members are allow-listed.

    Building from a copy keeps stray files of the checkout (a build/ folder left by an earlier build, a
    credential file dropped by mistake) out of the wheel; pyproject.toml's package-data decides which data
    files go in, as for any other build.
    """
    with tempfile.TemporaryDirectory(prefix="codeqa-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (repo / name).is_file():
                shutil.copy2(repo / name, src / name)
        package = repo / "codeqa"
        for path in sorted(package.rglob("*")):
            rel = path.relative_to(repo)
            skip = ("__pycache__" in rel.parts or any(part.startswith(".") for part in rel.parts)
                    or path.name in CREDENTIAL_NAMES or path.suffix in (".pyc", ".pyo") or path.is_symlink())
            if path.is_file() and not skip:
                (src / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, src / rel)
        out = Path(tmp) / "wheel"
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--quiet", "-w", str(out),
               str(src)]
        try:
            import setuptools  # noqa: F401  - with it here, build offline without an isolated environment
            cmd.insert(4, "--no-build-isolation")
        except ImportError:
            cmd.remove("--no-index")  # an isolated build downloads setuptools
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(out.glob("codeqa-*.whl"))
        if result.returncode != 0 or not wheels:
            raise CodeQAError(f"building the codeqa wheel failed ({shlex.join(cmd)}):\n"
                              f"{(result.stdout + result.stderr)[-2000:]}")
        check_wheel(wheels[0])
        with zipfile.ZipFile(wheels[0]) as archive:
            stray = [n for n in archive.namelist() if not CODEQA_WHEEL_ALLOW.match(n)]
        if stray:
            raise CodeQAError(f"the codeqa wheel holds files outside the allow-list: {', '.join(stray)}")
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / wheels[0].name
        shutil.copy2(wheels[0], target)
        return target


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def pick_wheels(folder: Path, requirements: Sequence[str] = BUNDLED_REQUIREMENTS) -> list[Path]:
    """One wheel per requirement from ``folder`` (the highest version when several); an error if one lacks."""
    by_name: dict[str, list[Path]] = {}
    for path in sorted(Path(folder).glob("*.whl")):
        try:
            by_name.setdefault(wheel_name(path), []).append(path)
        except CodeQAError:
            continue
    picked, missing = [], []
    for requirement in requirements:
        name = requirement_name(requirement)
        candidates = by_name.get(name)
        if not candidates:
            missing.append(requirement)
            continue
        picked.append(max(candidates, key=lambda p: _version_key(WHEEL_RE.match(p.name).group("version"))))
    if missing:
        quoted = " ".join(shlex.quote(r) for r in missing)
        raise CodeQAError(f"{folder}: no wheel for {', '.join(missing)} (download them with `pip download "
                          f"--only-binary=:all: --no-deps -d {folder} {quoted}`)")
    for path in picked:
        check_wheel(path)
    return picked


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.+!-]", version))


def download_wheels(cache: Path, requirements: Sequence[str] = BUNDLED_REQUIREMENTS) -> list[Path]:
    """The dependency wheels, from ``cache`` when it has them all, else ``pip download`` into it."""
    try:
        return pick_wheels(cache, requirements)
    except CodeQAError:
        pass
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps", "--quiet",
           "-d", str(cache), *requirements]
    print(f"downloading dependency wheels: {shlex.join(cmd)}", flush=True)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CodeQAError(f"downloading the dependency wheels failed ({shlex.join(cmd)}):\n"
                          f"{(result.stdout + result.stderr)[-2000:]}\nWithout network access, point "
                          "--wheels-from at a folder holding them, or use --no-deps-wheels (the notebook "
                          "then needs Kaggle's Internet switch on)")
    return pick_wheels(cache, requirements)


# ---------------------------------------------------------------- prepare
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


def resolve_owner(owner: str | None, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    owner = owner or env.get("KAGGLE_USERNAME", "")
    if not owner:
        raise CodeQAError("no Kaggle owner: pass --owner YOUR_KAGGLE_USERNAME or set KAGGLE_USERNAME")
    if not OWNER_RE.match(owner) or len(owner) > 50:
        raise CodeQAError(f"--owner {owner!r}: not a Kaggle user name (letters, digits, - and _)")
    return owner


def find_vocab(data_dir: Path, lang: str, vocab: str | Path | None) -> Path | None:
    if vocab is not None:
        path = Path(vocab)
        if not path.is_file():
            raise CodeQAError(f"--vocab {path}: file not found")
        return path
    for candidate in (data_dir / VOCAB_FILE, data_dir / lang / VOCAB_FILE):
        if candidate.is_file():
            return candidate
    return None


def collect_data(data_dir: Path, lang: str, vocab: str | Path | None) -> tuple[dict, dict]:
    """The data zip's members (validated splits, and the vocabulary when there is one) and its manifest.

    Without a vocabulary (``--vocab`` or ``<data>/vocab.json``) none is shipped: training then builds the one
    its config asks for (``kaggle_t4``: at most 30,000 tokens over the train and pretrain splits), as every
    measured run did. A vocabulary built here could only guess the notebook's config."""
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
    vocab_path = find_vocab(data_dir, lang, vocab)
    if vocab_path is None:
        vocab_source = "none: training builds the one its config asks for (min_freq, max_vocab)"
        print(f"no vocabulary in {data_dir}: none shipped, training builds the one its config asks for")
    else:
        Vocab.load(vocab_path)  # validates
        vocab_source = vocab_path.name
        members[VOCAB_FILE] = vocab_path
    manifest = {"format": "codeqa-kaggle-data", "version": 1, "codeqa_version": __version__, "lang": lang,
                "examples": counts, "vocab": VOCAB_FILE if vocab_path else None, "vocab_source": vocab_source}
    members[DATA_MARKER] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    return members, manifest


def collect_code(repo: Path, tmp: Path, notebook: Path | None, wheels_from: Path | None, deps_wheels: bool,
                 wheel_cache: Path) -> tuple[dict, dict]:
    members: dict[str, Path | bytes] = {}
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
                "notebook": f"notebooks/{NOTEBOOK_NAME}",
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
            env: Mapping[str, str] | None = None) -> Prepared:
    """Build the two zips, the two dataset folders and the kernel folder under ``out``."""
    env = os.environ if env is None else env
    owner = resolve_owner(owner, env)
    check_slug(code_slug, "code dataset", 6)
    check_slug(data_slug, "data dataset", 6)
    check_slug(kernel_slug, "kernel", 5)
    data_dir, out = Path(data_dir), Path(out)
    repo_path = find_repo(repo)
    secrets = secret_values(env)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(wheel_cache) if wheel_cache else out / ".wheel-cache"
    with tempfile.TemporaryDirectory(prefix="codeqa-kaggle-") as tmp_name:
        tmp = Path(tmp_name)
        data_members, data_manifest = collect_data(data_dir, lang, vocab)
        code_members, code_manifest = collect_code(
            repo_path, tmp, Path(notebook) if notebook else None, Path(wheels_from) if wheels_from else None,
            deps_wheels, cache)
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
    data_meta = dataset_metadata(
        owner, data_slug, "CodeQA training data" if data_slug == DATA_SLUG else title_for(data_slug),
        license_name, f"CodeQA {lang} splits ({counts}) and vocabulary, made by `codeqa kaggle prepare`. The "
                      "data keeps the license of its authors (CodeQA, Liu & Wan 2021).")
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
    code_size, data_size = human_size(prepared.code_zip.stat().st_size), human_size(prepared.data_zip.stat().st_size)
    lines = [f"{prepared.code_zip}  {code_size}  ({len(prepared.code_members)} files)",
             f"{prepared.data_zip}  {data_size}  ({len(prepared.data_members)} files)",
             (f"datasets: {', '.join(meta['dataset_sources'])} "
              f"(folders {prepared.code_folder}, {prepared.data_folder})"),
             (f"kernel:   {meta['id']} (folder {prepared.kernel_folder}; GPU T4 x2, internet "
              f"{'on' if meta['enable_internet'] else 'off'})"),
             ("pretrain split: shipped" if any(m.split("/")[1:2] == [PRETRAIN_SPLIT] for m in prepared.data_members)
              else "pretrain split: none (the notebook's cell 5 generates one on Kaggle when its CONFIG pre-trains)"),
             "",
             f"next: codeqa kaggle push --upload-dir {prepared.out}   (uploads both datasets)",
             f"then: codeqa kaggle run --upload-dir {prepared.out}    (starts the notebook on Kaggle)"]
    return "\n".join(lines)


# ---------------------------------------------------------------- the kaggle CLI wrappers
def kaggle_executable(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    found = shutil.which("kaggle", path=env.get("PATH"))
    if found:
        return found
    sibling = Path(sys.executable).parent / "kaggle"
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    raise CodeQAError("the `kaggle` command is not installed (or not on PATH): pip install 'codeqa[kaggle]'")


def run_kaggle(args: Sequence[str], env: Mapping[str, str] | None = None, quiet: bool = False,
               check: bool = True) -> subprocess.CompletedProcess:
    """Run ``kaggle ARGS``, streaming its output with credentials masked; a clear error when it fails."""
    env = dict(os.environ if env is None else env)
    exe = kaggle_executable(env)
    if credential_source(env) is None:
        raise CodeQAError(CREDENTIALS_HELP)
    secrets = secret_values(env)
    shown = "kaggle " + shlex.join(list(args))
    if not quiet:
        print(f"$ {shown}", flush=True)
    proc = subprocess.Popen([exe, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace")
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = redact(line, secrets)
        lines.append(line)
        if not quiet:
            print(line, end="", flush=True)
    rc = proc.wait()
    output = "".join(lines)
    failed = rc != 0 or bool(KAGGLE_FAILURE_RE.search(output))
    if failed and check:
        tail = "".join(lines[-15:]).strip() or "(no output)"
        reason = f"exit status {rc}" if rc != 0 else "it reported an error"
        raise CodeQAError(f"`{shown}` failed ({reason}):\n{tail}")
    return subprocess.CompletedProcess([exe, *args], 1 if failed and rc == 0 else rc, output, "")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CodeQAError(f"{path}: not found; run `codeqa kaggle prepare` first") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CodeQAError(f"{path}: not valid JSON ({err})") from None


def push(upload_dir: str | Path = DEFAULT_OUT, message: str | None = None,
         env: Mapping[str, str] | None = None) -> list[str]:
    """Create both datasets, or add a new version to those that exist; returns the dataset ids."""
    upload_dir = Path(upload_dir)
    message = message or f"codeqa {__version__}, {datetime.date.today().isoformat()}"
    refs = []
    for folder_name in (CODE_FOLDER, DATA_FOLDER):
        folder = upload_dir / folder_name
        meta = _read_json(folder / "dataset-metadata.json")
        validate_dataset_metadata(meta)
        ref = meta["id"]
        exists = run_kaggle(["datasets", "status", ref], env=env, quiet=True, check=False).returncode == 0
        if exists:
            run_kaggle(["datasets", "version", "-p", str(folder), "-m", message, "--dir-mode", "zip"],
                       env=env)
        else:
            run_kaggle(["datasets", "create", "-p", str(folder), "--dir-mode", "zip"], env=env)
        refs.append(ref)
    print(f"pushed {', '.join(refs)}; Kaggle processes new versions for a minute or two "
          f"(`codeqa kaggle status --upload-dir {upload_dir}`), "
          f"then: codeqa kaggle run --upload-dir {upload_dir}")
    return refs


def run(upload_dir: str | Path = DEFAULT_OUT, resume_from: str | None = None, kernel_slug: str | None = None,
        internet: bool | None = None, env: Mapping[str, str] | None = None) -> str:
    """Push the notebook as a kernel (which starts a run); ``resume_from`` adds an earlier run as input."""
    folder = Path(upload_dir) / KERNEL_FOLDER
    meta_path = folder / "kernel-metadata.json"
    meta = _read_json(meta_path)
    if kernel_slug:
        check_slug(kernel_slug, "kernel", 5)
        meta["id"] = f"{meta['id'].split('/')[0]}/{kernel_slug}"
        meta["title"] = title_for(kernel_slug)
    if resume_from:
        check_ref(resume_from, "--resume-from")
        meta["kernel_sources"] = [resume_from]
    if internet is not None:
        meta["enable_internet"] = internet
    validate_kernel_metadata(meta, folder)
    if kernel_slug or resume_from or internet is not None:
        write_json(meta_path, meta)  # kept, so that status and download follow this kernel
        print(f"{meta_path}: id {meta['id']}, kernel_sources {meta['kernel_sources']}, "
              f"internet {'on' if meta['enable_internet'] else 'off'}")
    for ref in meta.get("dataset_sources", []):
        status = run_kaggle(["datasets", "status", ref], env=env, quiet=True, check=False)
        if status.returncode != 0 or "ready" not in status.stdout.lower():
            print(f"warning: dataset {ref} is not ready ({status.stdout.strip() or 'no status'}); "
                  "the run may start without it: `codeqa kaggle push` first", file=sys.stderr)
    # --accelerator as well as machine_shape: kaggle CLIs older than the flag ignore machine_shape too, and
    # Kaggle then hands out a P100 that today's torch cannot use; better to stop here with a clear message.
    try:
        run_kaggle(["kernels", "push", "-p", str(folder), "--accelerator", meta["machine_shape"]], env=env)
    except CodeQAError as err:
        if "unrecognized arguments" in str(err) and "--accelerator" in str(err):
            raise CodeQAError(f"{err}\nThis kaggle CLI is too old to ask for the GPU T4 x2 machine (it "
                              "would silently run on a P100, which today's torch cannot use): "
                              "pip install -U kaggle") from None
        raise
    ref = meta["id"]
    print(f"started {ref}: https://www.kaggle.com/code/{ref}\n"
          f"follow it with `codeqa kaggle status --upload-dir {upload_dir}`, "
          f"then `codeqa kaggle download --upload-dir {upload_dir}`")
    return ref


def _kernel_ref(upload_dir: str | Path, kernel: str | None) -> str:
    if kernel:
        return check_ref(kernel, "--kernel")
    meta = _read_json(Path(upload_dir) / KERNEL_FOLDER / "kernel-metadata.json")
    return check_ref(str(meta.get("id", "")), "kernel-metadata.json id")


def status(upload_dir: str | Path = DEFAULT_OUT, kernel: str | None = None,
           env: Mapping[str, str] | None = None) -> str:
    ref = _kernel_ref(upload_dir, kernel)
    if kernel is None:
        for folder_name in (CODE_FOLDER, DATA_FOLDER):
            meta_path = Path(upload_dir) / folder_name / "dataset-metadata.json"
            if meta_path.is_file():
                dataset = _read_json(meta_path)["id"]
                result = run_kaggle(["datasets", "status", dataset], env=env, quiet=True, check=False)
                print(f"dataset {dataset}: {result.stdout.strip() or '(no answer)'}")
    result = run_kaggle(["kernels", "status", ref], env=env, quiet=True)
    print(f"kernel {ref}: {result.stdout.strip()}")
    return result.stdout


def download(upload_dir: str | Path = DEFAULT_OUT, out: str | Path | None = None, kernel: str | None = None,
             env: Mapping[str, str] | None = None) -> Path:
    """Download the kernel's outputs (best model, checkpoints, curves, logs) into ``out``."""
    ref = _kernel_ref(upload_dir, kernel)
    out = Path(out) if out else Path("runs") / "kaggle" / ref.split("/")[1]
    out.mkdir(parents=True, exist_ok=True)
    run_kaggle(["kernels", "output", ref, "-p", str(out)], env=env)
    run_dir = out / FULL_OUT
    print(format_summary(summarize_run(run_dir if run_dir.is_dir() else out)))
    return out
