"""``codeqa make-dataset`` reads wheels, zips and sdist tarballs in place, as it reads folders."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from codeqa.errors import CodeQAError
from codeqa.synth import sources as sources_module
from codeqa.synth.dataset import PARSE_BATCH, make_dataset
from codeqa.synth.sources import SourceFile, find_files, read_sources
from tests.conftest import run_cli

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "sample_module.py"


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    """A wheel is a zip archive: the members given, in the order given, plus dist-info metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("sample-1.0.dist-info/METADATA", "Name: sample\nVersion: 1.0\n")
    return path


def _sdist(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _split_files(root: Path) -> dict[str, bytes]:
    """The split files of a made dataset, by path below its language folder (stats.json aside: it names
    the sources)."""
    lang = root / "python"
    return {p.relative_to(lang).as_posix(): p.read_bytes() for p in sorted(lang.rglob("*"))
            if p.is_file() and p.name != "stats.json"}


def test_a_wheel_gives_the_same_dataset_as_its_files_unpacked(tmp_path):
    unpacked = tmp_path / "unpacked" / "sample"
    unpacked.mkdir(parents=True)
    (unpacked / "mod.py").write_bytes(SAMPLE.read_bytes())
    wheel = _wheel(tmp_path / "wheels" / "sample-1.0-py3-none-any.whl", {"sample/mod.py": SAMPLE.read_bytes()})

    from_folder = make_dataset([str(tmp_path / "unpacked")], tmp_path / "a", seed=4, with_test=True)
    from_wheel = make_dataset([str(wheel)], tmp_path / "b", seed=4, with_test=True)

    assert from_folder["pairs"]["total"] > 10
    assert _split_files(tmp_path / "a") == _split_files(tmp_path / "b")
    assert from_wheel["files"] == {"found": 1, "read": 1, "skipped": 0}


def test_archives_in_a_folder_are_listed_member_by_member_in_sorted_order(tmp_path):
    code = SAMPLE.read_bytes()
    _wheel(tmp_path / "src" / "b-1.0-py3-none-any.whl",
           {"b/z.py": code, "b/__pycache__/cached.py": code, "b/.hidden.py": code, "b/a.py": code,
            "b/data.txt": b"not python"})
    _sdist(tmp_path / "src" / "a-1.0.tar.gz", {"a-1.0/a/mod.py": code, "a-1.0/setup.cfg": b"[metadata]\n"})
    (tmp_path / "src" / "plain.py").write_bytes(code)

    found, unlisted = find_files([str(tmp_path / "src")])

    src = tmp_path / "src"
    assert unlisted == []
    assert [f.name for f in found] == [f"{src / 'a-1.0.tar.gz'}!a-1.0/a/mod.py",
                                      f"{src / 'b-1.0-py3-none-any.whl'}!b/a.py",
                                      f"{src / 'b-1.0-py3-none-any.whl'}!b/z.py",
                                      str(src / "plain.py")]
    assert [data for _, data in read_sources(found)] == [code] * 4


def test_identical_code_in_a_wheel_and_an_sdist_is_kept_once(tmp_path):
    code = SAMPLE.read_bytes()
    wheel = _wheel(tmp_path / "sample-1.0-py3-none-any.whl", {"sample/mod.py": code})
    sdist = _sdist(tmp_path / "sample-1.0.tar.gz", {"sample-1.0/sample/mod.py": code})
    alone = make_dataset([str(wheel)], tmp_path / "alone", with_test=True)
    both = make_dataset([str(wheel), str(sdist)], tmp_path / "both", with_test=True)
    assert both["files"]["found"] == 2 and both["pairs"] == alone["pairs"]


def test_unreadable_archives_and_members_are_skipped_and_named(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    cap = len(SAMPLE.read_bytes()) + 100
    (src / "broken-1.0-py3-none-any.whl").write_bytes(b"this is not a zip archive")
    _wheel(src / "ok-1.0-py3-none-any.whl",
           {"ok/good.py": SAMPLE.read_bytes(), "ok/bad.py": b"def broken(:\n", "ok/huge.py": b"#" * (cap + 1)})
    monkeypatch.setattr(sources_module, "MAX_MEMBER_BYTES", cap)

    stats = make_dataset([str(src)], tmp_path / "out")

    reasons = {s["path"].removeprefix(f"{src}/"): s["reason"] for s in stats["skipped_files"]}
    assert reasons.keys() == {"broken-1.0-py3-none-any.whl", "ok-1.0-py3-none-any.whl!ok/bad.py",
                              "ok-1.0-py3-none-any.whl!ok/huge.py"}
    assert reasons["broken-1.0-py3-none-any.whl"].startswith("BadZipFile")
    assert reasons["ok-1.0-py3-none-any.whl!ok/bad.py"].startswith("SyntaxError")
    assert f"larger than {cap:,} bytes" in reasons["ok-1.0-py3-none-any.whl!ok/huge.py"]
    assert stats["files"] == {"found": 4, "read": 1, "skipped": 3} and stats["pairs"]["total"] > 10


def test_only_an_unreadable_archive_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "broken.whl"
    bad.write_bytes(b"junk")
    with pytest.raises(CodeQAError, match=r"no \.py files found .*broken\.whl: BadZipFile"):
        make_dataset([str(bad)], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_member_paths_that_climb_out_are_read_in_place_never_written(tmp_path):
    """Archives are never extracted: a member named ``../../escape.py`` is only a name in a report."""
    wheel = _wheel(tmp_path / "deep" / "er" / "evil-1.0-py3-none-any.whl",
                   {"../../escape.py": SAMPLE.read_bytes(), "/abs/escape2.py": SAMPLE.read_bytes()})
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    found, _ = find_files([str(wheel)])
    assert {f.member for f in found} == {"../../escape.py", "/abs/escape2.py"}
    assert all(isinstance(data, bytes) for _, data in read_sources(found))
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_read_sources_reports_a_member_that_vanished(tmp_path):
    wheel = _wheel(tmp_path / "w.whl", {"w/a.py": b"x = 1\n"})
    listed = [SourceFile(wheel, "w/a.py"), SourceFile(wheel, "w/gone.py")]
    results = {file.member: data for file, data in read_sources(listed)}
    assert results["w/a.py"] == b"x = 1\n" and isinstance(results["w/gone.py"], OSError)


def test_cli_reads_a_wheel_and_an_sdist(tmp_path):
    wheel = _wheel(tmp_path / "dl" / "sample-1.0-py3-none-any.whl", {"sample/mod.py": SAMPLE.read_bytes()})
    _sdist(tmp_path / "dl" / "other-2.0.tar.gz",
           {"other-2.0/other/ops.py": b'def double(x):\n    """Return twice the value of x."""\n    return 2 * x\n'})
    result = run_cli("make-dataset", "--source", str(tmp_path / "dl"), "--out", str(tmp_path / "out"),
                     "--split", "1,0,0")
    assert result.returncode == 0, result.stderr
    stats = json.loads((tmp_path / "out" / "python" / "stats.json").read_text(encoding="utf-8"))
    assert stats["files"] == {"found": 2, "read": 2, "skipped": 0}
    answers = (tmp_path / "out" / "python" / "train" / "train.answer").read_text(encoding="utf-8")
    assert "twice the value of x" in answers and wheel.exists()


def test_parsing_in_worker_processes_writes_the_same_bytes(tmp_path):
    """Enough files for two workers (``PARSE_BATCH`` each), one of them unparsable: the same dataset and
    the same skipped file, whether one process parses or two."""
    src = tmp_path / "src"
    for i in range(2 * PARSE_BATCH + 7):
        folder = src / f"pkg{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{i:03d}.py").write_text(
            f'def f{i}(x):\n    """Return the value {i} of x using the cache {i}."""\n    return x + {i}\n\n\n'
            f'def g{i}(path):\n    """Read the file {i} from disk."""\n    return open(path).read() * {i}\n',
            encoding="utf-8")
    (src / "pkg0" / "broken.py").write_text("def broken(:\n", encoding="utf-8")
    one = make_dataset([str(src)], tmp_path / "one", seed=5, with_test=True, workers=1)
    two = make_dataset([str(src)], tmp_path / "two", seed=5, with_test=True, workers=2)
    assert one == two and one["files"]["skipped"] == 1 and one["pairs"]["total"] > 3 * PARSE_BATCH
    assert _split_files(tmp_path / "one") == _split_files(tmp_path / "two")


def test_negative_workers_is_an_error(tmp_path):
    with pytest.raises(CodeQAError, match="--workers"):
        make_dataset([str(SAMPLE)], tmp_path / "out", workers=-1)


def _local_index(root: Path) -> str:
    """A PEP 503 index as pip serves ``file://`` ones: a project list, a page per project linking to its
    files (relative, with a hash fragment), one project whose page is missing, links that lead elsewhere,
    and a wheel in the files folder that no page lists. Returns the index's URL."""
    code = SAMPLE.read_bytes()
    _wheel(root / "files" / "sample-1.0-py3-none-any.whl", {"sample/mod.py": code})
    _sdist(root / "files" / "other-2.0.tar.gz", {"other-2.0/other/mod.py": code.replace(b"def ", b"def o_")})
    _wheel(root / "files" / "unlisted-1.0-py3-none-any.whl", {"unlisted/mod.py": b"def u():\n    pass\n"})
    pages = {"": '<a href="sample/">sample</a>\n<a href="other/">other</a>\n<a href="gone/">gone</a>\n',
             "sample/": '<a href="../../files/sample-1.0-py3-none-any.whl#sha256=00">sample-1.0</a>\n'
                        '<a href="https://files.example.org/sample-0.9-py3-none-any.whl">remote</a>\n'
                        '<a href="../../files/sample-0.8-py3-none-any.whl">deleted</a>\n',
             "other/": '<a href="../../files/other-2.0.tar.gz">other-2.0</a><a>no href</a>\n'}
    for folder, links in pages.items():
        page = root / "simple" / folder / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n", encoding="utf-8")
    return (root / "simple").as_uri()


def test_a_local_index_gives_the_archives_its_pages_link_to(tmp_path):
    url = _local_index(tmp_path / "index")
    files = tmp_path / "index" / "files"

    found, unlisted = find_files([url])

    assert unlisted == []
    assert [f.name for f in found] == [f"{files / 'other-2.0.tar.gz'}!other-2.0/other/mod.py",
                                      f"{files / 'sample-1.0-py3-none-any.whl'}!sample/mod.py"]
    assert find_files([url + "/"])[0] == found   # with or without the trailing slash, as pip takes it


def test_a_local_index_gives_the_same_dataset_as_the_archives_it_lists(tmp_path):
    url = _local_index(tmp_path / "index")
    files = tmp_path / "index" / "files"
    (files / "unlisted-1.0-py3-none-any.whl").unlink()
    from_index = make_dataset([url], tmp_path / "a", seed=2, with_test=True)
    from_folder = make_dataset([str(files)], tmp_path / "b", seed=2, with_test=True)
    assert _split_files(tmp_path / "a") == _split_files(tmp_path / "b")
    assert from_index["sources"] == [url] and from_index["files"] == from_folder["files"]


@pytest.mark.parametrize(("source", "expected"), [
    ("https://pypi.org/simple", "only a local package index (a file:// URL)"),
    ("file:///nowhere/simple", "no package index there (expected /nowhere/simple/index.html"),
])
def test_cli_refuses_an_index_it_cannot_read_in_one_line(tmp_path, source, expected):
    result = run_cli("make-dataset", "--source", source, "--out", str(tmp_path / "out"))
    assert result.returncode != 0 and not (tmp_path / "out").exists()
    assert expected in result.stderr and source in result.stderr and len(result.stderr.strip().splitlines()) == 1
