"""The wheels the code bundle carries: codeqa's own, built from a clean copy of the sources, and the
pure-Python dependencies Kaggle's image lacks, so that the notebook installs with Internet off."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from codeqa.errors import CodeQAError
from codeqa.kaggle.archive import check_archive
from codeqa.kaggle.credentials import CREDENTIAL_NAMES

# sacrebleu and those of its requirements Kaggle's image may lack; numpy, regex, lxml (its others) and
# torch, matplotlib, tqdm, PyYAML (codeqa's) are there
BUNDLED_REQUIREMENTS = ("sacrebleu>=2.3", "portalocker", "colorama", "tabulate>=0.8.9")
WHEEL_RE = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[A-Za-z0-9_.+!]+)(-[A-Za-z0-9_.]+)?"
                      r"-(?P<tags>[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+)\.whl$")


def wheel_name(path: Path) -> str:
    match = WHEEL_RE.match(path.name)
    if not match:
        raise CodeQAError(f"{path}: not a wheel file name")
    return match.group("name").lower().replace("_", "-").replace(".", "-")


def check_wheel(path: Path) -> None:
    """A wheel of a pure-Python package, whose members stay inside its root and hold no credential file."""
    match = WHEEL_RE.match(path.name)
    if not match or not match.group("tags").endswith("-none-any"):
        raise CodeQAError(f"{path}: only pure-Python wheels (*-none-any.whl) can be bundled for Kaggle")
    for info in check_archive(path):
        if PurePosixPath(info.filename).name in CREDENTIAL_NAMES:
            raise CodeQAError(f"{path}: holds {info.filename}, a credential file name")


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
