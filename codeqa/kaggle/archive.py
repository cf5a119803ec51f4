"""Zip archives in and out, through one member check (:func:`check_member`): what ``prepare`` writes, what
the wheel check reads, and every extraction, the notebook's included.

A member is refused when its name could land outside the archive's root (absolute, ``..``, a drive, a
backslash), when it is a link, or, where an allow-list is given, when it is not on it. Extraction never
writes through a link that already exists in the destination.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from codeqa.errors import CodeQAError
from codeqa.fileio import atomic_open
from codeqa.kaggle.credentials import CREDENTIAL_NAMES

FIXED_DATE = (2020, 1, 1, 0, 0, 0)  # zip member timestamps: the same inputs give the same zip
STORED = (".whl", ".safetensors", ".bin")


def check_member(name: str, allow: Sequence[re.Pattern] = (), origin: str | Path = "archive") -> str:
    """``name`` when it stays inside the archive root (and matches ``allow`` when given), else an error
    naming ``origin``. A folder entry's trailing ``/`` is allowed."""
    path = name.removesuffix("/")
    pure = PurePosixPath(path)
    if (not path or path.startswith(("/", "\\")) or "\\" in path or ":" in path or ".." in pure.parts
            or "." in pure.parts or str(pure) != path):
        raise CodeQAError(f"{origin}: refusing member {name!r}: its path would escape the archive root")
    if allow and not any(pattern.match(name) for pattern in allow):
        raise CodeQAError(f"{origin}: refusing member {name!r}: not on the upload allow-list")
    return name


def is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def check_archive(path: Path, allow: Sequence[re.Pattern] = ()) -> list[zipfile.ZipInfo]:
    """Every member of the zip at ``path``, each checked; an error for a file that is not a zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise CodeQAError(f"{path}: not a readable zip file ({err})") from None
    for info in infos:
        check_member(info.filename, allow, path)
        if is_link(info):
            raise CodeQAError(f"{path}: refusing member {info.filename!r}: it is a link")
    return infos


def write_zip(path: Path, members: Mapping[str, Path | bytes], allow: Sequence[re.Pattern]) -> None:
    """Write ``members`` (archive name → file or bytes) atomically, sorted, with fixed timestamps."""
    names = sorted(members)
    for name in names:
        check_member(name, allow, path)
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
            # wheels and model weights are compressed already or do not compress
            info.compress_type = zipfile.ZIP_STORED if name.endswith(STORED) else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)


def _refuse_links(dest: Path, target: Path) -> None:
    """An error when ``target`` or a folder between ``dest`` and it is a link (which a write would follow)."""
    current = dest
    for part in target.relative_to(dest).parts:
        current = current / part
        if current.is_symlink():
            raise CodeQAError(f"{current}: a link in the extraction folder {dest}; refusing to write through it "
                              "(remove it and run again)")


def safe_extract(zip_path: Path, dest: Path) -> Path:
    """Extract every member of ``zip_path`` into ``dest`` after checking them all; nothing is written
    when one is refused."""
    dest = Path(dest)
    infos = check_archive(zip_path)
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        for info in infos:
            target = dest.joinpath(*PurePosixPath(info.filename.rstrip("/")).parts)
            _refuse_links(dest, target)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
            with archive.open(info) as source, os.fdopen(os.open(target, flags, 0o644), "wb") as out:
                shutil.copyfileobj(source, out)
    return dest
