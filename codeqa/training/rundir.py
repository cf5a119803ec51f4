"""The out dir of one training run: created when needed, owned by one run at a time, cleaned of what a
killed run left, and left as it was found when the run fails before training begins."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from codeqa import runfiles
from codeqa.errors import CodeQAError

try:
    import fcntl
except ImportError:  # not on POSIX: runs are not locked
    fcntl = None


class RunDir:
    """``with RunDir(path, main):`` around a run. The main process creates the folder, takes an exclusive
    lock on ``<out>/.codeqa.lock`` (held by the operating system for the process, so a killed run never
    leaves a stale lock) and removes the temporary files of a save that a kill interrupted. A failure
    before :meth:`training_began` removes what this run created, so a bad setting or bad data leaves
    nothing behind."""

    def __init__(self, path: str | Path, main: bool = True):
        self.path, self.main = Path(path), main
        self.existed = False
        self.before: set[str] = set()
        self.began = False
        self.removed: list[str] = []  # temporary files of an interrupted save, removed on entry
        self._lock_fd: int | None = None

    def __enter__(self) -> RunDir:
        if not self.main:
            return self
        path = self.path
        if path.exists() and not path.is_dir():
            raise CodeQAError(f"{path}: exists and is not a folder: give another --out-dir")
        self.existed = path.is_dir()
        try:
            self.before = set(os.listdir(path)) if self.existed else set()
            path.mkdir(parents=True, exist_ok=True)
            self._lock()
        except OSError as err:
            self._remove_created()
            raise CodeQAError(f"{path}: cannot use this out dir ({err.strerror or err}): give a folder you can "
                              "write to") from None
        except CodeQAError:  # another run holds the lock: its files are left alone
            raise
        self.removed = remove_leftovers(path)
        return self

    def training_began(self) -> None:
        """From here on a failure keeps what the run wrote (its log says what happened)."""
        self.began = True

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.main:
            return
        failed_early = exc_type is not None and not self.began
        if failed_early:
            self._remove_created()
        self._release(remove=failed_early)

    def _lock(self) -> None:
        if fcntl is None:  # Windows: a second run in the same out dir is not stopped
            return
        fd = os.open(self.path / runfiles.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise CodeQAError(f"{self.path}: another training run (PID {holder}) is using this out dir: wait for "
                              "it to end, stop it, or give another --out-dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._lock_fd = fd

    def _release(self, remove: bool) -> None:
        if self._lock_fd is None:
            return
        if remove:
            with contextlib.suppress(OSError):
                (self.path / runfiles.LOCK).unlink()
        os.close(self._lock_fd)
        self._lock_fd = None

    def _remove_created(self) -> None:
        """Remove what this run added to the folder (the folder too, when it made it)."""
        if not self.existed:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        with contextlib.suppress(OSError):
            for name in set(os.listdir(self.path)) - self.before - {runfiles.LOCK}:
                target = self.path / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    target.unlink(missing_ok=True)


def remove_leftovers(out_dir: Path) -> list[str]:
    """Delete the temporary files (``.NAME.XXXX.tmp``) that an interrupted atomic save left in the out dir and
    its pretrain folder; safe only while this run holds the lock. Returns their names."""
    removed = []
    for folder in (out_dir, out_dir / runfiles.PRETRAIN_DIR):
        for leftover in sorted(folder.glob(".*.tmp")) if folder.is_dir() else []:
            with contextlib.suppress(OSError):
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
                removed.append(str(leftover.relative_to(out_dir)))
    return removed
