"""Atomic file output: a reader never sees a half-written file, and a crash leaves the old one intact.

Everything is written to a temporary file in the destination folder, flushed to disk, then renamed over
the destination (``os.replace`` is atomic on POSIX and Windows within one file system).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def write_error(path: str | os.PathLike, err: OSError):
    """A one-line :class:`CodeQAError` for a failed write of ``path``, saying what to do."""
    from codeqa.errors import CodeQAError

    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "the disk is full: free some space (or write elsewhere), then run again (training: --resume auto)"
    elif err.errno == errno.EFBIG:
        hint = "the file would be larger than this system allows: write elsewhere"
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "this place is not writable: write somewhere else"
    else:
        hint = "check the folder, then run again"
    return CodeQAError(f"{path}: cannot write ({err.strerror or err}): {hint}")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[Any]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` only on success (the folder
    synced too, so that a power loss cannot undo the rename). A failed write leaves ``path`` as it was and
    raises a :class:`CodeQAError` naming it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise write_error(path, err) from None
    os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding, newline=None if binary else "") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        fsync_folder(path.parent)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(err, OSError):
            raise write_error(path, err) from None
        raise


def fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (where the platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike, missing_hint: str = "") -> Any:
    """The JSON value in ``path``; a :class:`CodeQAError` naming the file when it is missing or not JSON."""
    from codeqa.errors import CodeQAError

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CodeQAError(f"{path}: not found{'; ' + missing_hint if missing_hint else ''}") from None
    except OSError as err:
        raise CodeQAError(f"{path}: cannot read ({err.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CodeQAError(f"{path}: not valid JSON ({err})") from None


def write_lines(path: str | os.PathLike, lines: list[str]) -> None:
    """One item a line, each ending in a newline."""
    write_text(path, "".join(line + "\n" for line in lines))


def human_size(n: float) -> str:
    """1536 → '1.5 KB'."""
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
