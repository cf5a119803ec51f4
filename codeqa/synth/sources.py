"""Where generated pairs come from: the ``.py`` files of folders, single files, and packaged archives
(wheels, zips, sdist tarballs), found in a fixed order and read as bytes.

Archives are read in place, never extracted: a member's name is only ever displayed, so a hostile path in
an archive cannot write anywhere, and a member larger than :data:`MAX_MEMBER_BYTES` is skipped unread.
This lets ``pip download -d wheels PACKAGE ...`` feed ``codeqa make-dataset --source wheels`` directly:
more varied pre-training pairs than the installed packages alone (docs/results.md). A local package index
(PEP 503's "simple" layout, given as its ``file://`` URL, as in ``pip config list``) contributes the
archives its project pages link to; nothing is ever downloaded.
"""

from __future__ import annotations

import itertools
import os
import sysconfig
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urldefrag, urljoin, urlparse
from urllib.request import url2pathname

from codeqa.errors import CodeQAError

# Never read: caches, environments, version control.
SKIP_DIRS = frozenset({"__pycache__", "site-packages", "dist-packages", "node_modules", ".git", ".hg",
                       ".svn", ".tox", ".venv", "venv", ".mypy_cache", ".pytest_cache"})
# Also skipped in the standard library: test suites, demos, and old or tool-only packages.
STDLIB_SKIP_DIRS = frozenset({"test", "tests", "idle_test", "idlelib", "lib2to3", "turtledemo", "ensurepip",
                              "pydoc_data", "config-3", "Tools"})
ZIP_SUFFIXES = (".whl", ".zip")
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
MAX_MEMBER_BYTES = 4_000_000   # far above any hand-written module; guards against archive bombs
ARCHIVE_ERRORS = (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError)   # a corrupt or unreadable archive


@dataclass(frozen=True)
class SourceFile:
    """One ``.py`` file: ``path`` on disk, or with ``member`` the file of that name inside the archive
    ``path``. ``name`` is what reports show: the path, or ``ARCHIVE!MEMBER``."""

    path: Path
    member: str | None = None

    @property
    def name(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def is_archive(path: Path) -> bool:
    return path.name.endswith(ZIP_SUFFIXES + TAR_SUFFIXES)


def find_files(sources: list[str]) -> tuple[list[SourceFile], list[dict[str, str]]]:
    """Every ``.py`` file under the sources, and the archives that could not be listed (``path``,
    ``reason``). Folders are walked in sorted order, skipping :data:`SKIP_DIRS` (and in ``stdlib``, this
    interpreter's standard library, :data:`STDLIB_SKIP_DIRS`); an archive, given or found in a folder,
    contributes its ``.py`` members in sorted order. A source that does not exist is a
    :class:`CodeQAError` naming it."""
    found: list[SourceFile] = []
    unreadable: list[dict[str, str]] = []
    seen: set[tuple[Path, str | None]] = set()

    def add(file: SourceFile) -> None:
        key = (file.path.resolve(), file.member)
        if key not in seen:
            seen.add(key)
            found.append(file)

    for source in sources:
        is_stdlib = source == "stdlib"
        skip = SKIP_DIRS | (STDLIB_SKIP_DIRS if is_stdlib else frozenset())
        if "://" in source:
            paths = index_archives(source)
        else:
            root = stdlib_root() if is_stdlib else Path(source)
            if not root.exists():
                raise CodeQAError(f"{source}: source path not found (give a folder, a .py file, a wheel, zip or "
                                  f"tarball, a local index's file:// URL, or 'stdlib')")
            paths = [root] if root.is_file() else sorted(
                (Path(d) / f for d, _, fs in os.walk(root) for f in fs
                 if (f.endswith(".py") or is_archive(Path(f))) and not f.startswith(".")
                 and not (set(Path(d).relative_to(root).parts) & skip)),
                key=lambda p: p.relative_to(root).as_posix())
        for path in paths:
            if not is_archive(path):
                add(SourceFile(path))
                continue
            try:
                members = _python_members(path, skip)
            except ARCHIVE_ERRORS as err:
                unreadable.append({"path": str(path), "reason": f"{type(err).__name__}: {err}"[:200]})
                continue
            for member in members:
                add(SourceFile(path, member))
    return found, unreadable


class _Links(HTMLParser):
    """The ``href`` of every ``<a>`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)


def _page_links(page: Path, url: str) -> list[str]:
    """The links of the index page ``page`` (at ``url``), made absolute and without their ``#sha256=``."""
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    return [urldefrag(urljoin(url, href))[0] for href in parser.hrefs]


def _local_path(url: str) -> Path:
    return Path(url2pathname(unquote(urlparse(url).path)))


def _page_of(url: str) -> Path:
    """The file a web server would serve for ``url``: a folder's ``index.html``."""
    path = _local_path(url)
    return path / "index.html" if url.endswith("/") or path.is_dir() else path


def index_archives(url: str) -> list[Path]:
    """The archives (wheels, sdists) that the project pages of the local PEP 503 index at ``url``
    (``file:///opt/pypi/simple``) link to and that exist, sorted by path. Links to other hosts, and
    project pages that are missing, are passed over: nothing is downloaded."""
    if urlparse(url).scheme != "file":
        raise CodeQAError(f"{url}: only a local package index (a file:// URL) can be a source; nothing is "
                          f"downloaded")
    root_url = url.rstrip("/") + "/"
    root_page = _page_of(root_url)
    if not root_page.is_file():
        raise CodeQAError(f"{url}: no package index there (expected {root_page}, PEP 503's project list)")
    archives: set[Path] = set()
    for project_url in _page_links(root_page, root_url):
        page = _page_of(project_url)
        if urlparse(project_url).scheme != "file" or not page.is_file():
            continue
        for link in _page_links(page, project_url):
            path = _local_path(link)
            if urlparse(link).scheme == "file" and is_archive(path) and path.is_file():
                archives.add(path)
    return sorted(archives, key=Path.as_posix)


def _python_members(archive: Path, skip: frozenset[str]) -> list[str]:
    """The sorted names of an archive's ``.py`` files, outside ``skip`` folders."""
    if archive.name.endswith(ZIP_SUFFIXES):
        with zipfile.ZipFile(archive) as zf:
            names = [info.filename for info in zf.infolist() if not info.is_dir()]
    else:
        with tarfile.open(archive) as tf:
            names = [info.name for info in tf.getmembers() if info.isfile()]
    wanted = []
    for name in names:
        parts = PurePosixPath(name).parts
        if name.endswith(".py") and not parts[-1].startswith(".") and not set(parts[:-1]) & skip:
            wanted.append(name)
    return sorted(set(wanted))


def read_sources(files: list[SourceFile]) -> Iterator[tuple[SourceFile, bytes | Exception]]:
    """Each file with its bytes, or the error that kept it from being read. Each archive is opened once,
    for all its members in ``files`` (which :func:`find_files` lists together)."""
    for (path, in_archive), group in itertools.groupby(files, key=lambda f: (f.path, f.member is not None)):
        if not in_archive:
            for file in group:
                try:
                    yield file, file.path.read_bytes()
                except OSError as err:
                    yield file, err
            continue
        members = list(group)
        try:
            contents = _read_members(path, {f.member for f in members})
        except ARCHIVE_ERRORS as err:
            contents = {f.member: err for f in members}
        for file in members:
            yield file, contents[file.member]


def _read_members(archive: Path, members: set[str]) -> dict[str, bytes | Exception]:
    """The named members' bytes in one pass over the archive; a member over :data:`MAX_MEMBER_BYTES`
    gets a ValueError instead."""
    too_big = ValueError(f"larger than {MAX_MEMBER_BYTES:,} bytes: not read")
    contents: dict[str, bytes | Exception] = {}
    if archive.name.endswith(ZIP_SUFFIXES):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.filename in members and info.filename not in contents:
                    contents[info.filename] = (too_big if info.file_size > MAX_MEMBER_BYTES
                                               else zf.read(info))
    else:
        with tarfile.open(archive) as tf:
            for info in tf:
                if info.name in members and info.isfile() and info.name not in contents:
                    if info.size > MAX_MEMBER_BYTES:
                        contents[info.name] = too_big
                    else:
                        handle = tf.extractfile(info)
                        contents[info.name] = handle.read() if handle else OSError("not a regular file")
    for member in members - contents.keys():
        contents[member] = OSError("member vanished from the archive since it was listed")
    return contents
