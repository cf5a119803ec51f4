"""`codeqa kaggle ...`: the upload zips hold an allow-list of files, the metadata passes the kaggle CLI's own
checks, credentials never enter a produced file or a log, and the wrappers call the `kaggle` command line
with the right arguments (a fake executable on PATH: no network) and report its failures clearly."""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from codeqa.errors import CodeQAError
from codeqa.kaggle import commands, credentials, layout, metadata, prepare, wheels
from codeqa.kaggle.archive import check_member, write_zip
from tests.conftest import TINY_ROWS, run_cli, write_codeqa

ROOT = Path(__file__).resolve().parent.parent
PLANTED_KEY = "planted0kaggle0key0d41d8cd98f00b204e9800998ecf8427e"
ENV_KEY = "env0kaggle0key0e3b0c44298fc1c149afbf4c8996fb92427ae4"
DEP_WHEELS = ("sacrebleu-2.4.3-py3-none-any.whl", "portalocker-2.10.1-py3-none-any.whl",
              "colorama-0.4.6-py2.py3-none-any.whl", "tabulate-0.9.0-py3-none-any.whl")

FAKE_KAGGLE = '''#!{python}
"""A stand-in for the kaggle CLI: records its argv, answers like the real one, fails on request."""
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_KAGGLE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
line = " ".join(args)
if os.environ.get("FAKE_KAGGLE_ECHO_KEY"):
    print("debug: using key " + os.environ.get("KAGGLE_KEY", ""))
if os.environ.get("FAKE_KAGGLE_OLD") and "--accelerator" in args:
    print("usage: kaggle [-h] [-v] [-W] ...", file=sys.stderr)
    print("kaggle: error: unrecognized arguments: --accelerator NvidiaTeslaT4", file=sys.stderr)
    sys.exit(2)
fail = os.environ.get("FAKE_KAGGLE_FAIL")
if fail and fail in line:
    print("403 Client Error: Forbidden for url: https://www.kaggle.com/api/v1/" + args[0], file=sys.stderr)
    sys.exit(1)
soft = os.environ.get("FAKE_KAGGLE_SOFT_FAIL")
if soft and soft in line:
    print("Dataset creation error: The requested slug is already in use")
    sys.exit(0)
if args[:2] == ["datasets", "status"]:
    if args[2] in os.environ.get("FAKE_KAGGLE_EXISTING", "").split(","):
        print("ready")
        sys.exit(0)
    print("404 Client Error: Not Found", file=sys.stderr)
    sys.exit(1)
if args[:2] == ["kernels", "status"]:
    print(args[2] + ' has status "KernelWorkerStatus.COMPLETE"')
elif args[:2] == ["kernels", "output"]:
    import re
    out = args[args.index("-p") + 1]
    pattern = args[args.index("--file-pattern") + 1] if "--file-pattern" in args else ""
    outputs = {{"codeqa_full/" + name: "x" for name in ("best_model_python.pt", "training_curves.png", "logs.txt",
                                                        "last.pt", "checkpoint_epoch10.pt")}}
    outputs["codeqa_full/metrics.jsonl"] = '{{"epoch": 20, "val_f1": 31.5}}\\n'
    outputs["codeqa_quick/last.pt"] = "x"
    for name, text in outputs.items():
        if re.search(pattern, name):  # as the real CLI: the pattern is searched in each output's path
            os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
            open(os.path.join(out, name), "w").write(text)
            print("Output file downloaded to " + os.path.join(out, name))
else:
    print("ok")
'''


def make_wheel(folder: Path, name: str) -> Path:
    """A small valid pure-Python wheel (a zip with a module and dist-info)."""
    folder.mkdir(parents=True, exist_ok=True)
    dist, version = name.split("-")[:2]
    with zipfile.ZipFile(folder / name, "w") as archive:
        archive.writestr(f"{dist}/__init__.py", "")
        archive.writestr(f"{dist}-{version}.dist-info/METADATA", f"Name: {dist}\nVersion: {version}\n")
    return folder / name


def clean_env(home: Path, **extra: str) -> dict:
    """The process environment without any real Kaggle setting, with HOME in tmp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), **extra)
    return env


def all_bytes(path: Path) -> bytes:
    """A file's bytes plus, recursively, those of every member when it is a zip (wheels inside zips too)."""
    data = path.read_bytes()
    return data + b"".join(_members(data))


def _members(data: bytes) -> list[bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            out = []
            for info in archive.infolist():
                inner = archive.read(info)
                out += [info.filename.encode(), inner, *_members(inner)]
            return out
    except zipfile.BadZipFile:
        return []


@pytest.fixture(scope="module")
def upload(tmp_path_factory) -> dict:
    """One `codeqa kaggle prepare` (a real codeqa wheel, fake dependency wheels) with credentials planted."""
    tmp = tmp_path_factory.mktemp("kaggle")
    home, config_dir = tmp / "home", tmp / "kaggle-config"
    for folder in (home / ".kaggle", config_dir):
        folder.mkdir(parents=True)
        (folder / "kaggle.json").write_text(json.dumps({"username": "alice", "key": PLANTED_KEY}))
    (home / ".kaggle" / "access_token").write_text("planted0access0token0" + PLANTED_KEY[:20])
    (home / ".kaggle" / "credentials.json").write_text(json.dumps(
        {"refresh_token": "planted0refresh0" + PLANTED_KEY[:24], "access_token": "", "username": "alice"}))
    data = tmp / "data"
    write_codeqa(data, "train", TINY_ROWS * 4)
    write_codeqa(data, "dev", TINY_ROWS)
    write_codeqa(data, "test", TINY_ROWS[:3])
    # strays that must stay out of the data zip: a credential file, notes, a java split not asked for
    (data / "kaggle.json").write_text(json.dumps({"username": "alice", "key": PLANTED_KEY}))
    (data / "python" / "train" / "kaggle.json").write_text(json.dumps({"key": PLANTED_KEY}))
    (data / "python" / "train" / "notes.txt").write_text("scratch")
    write_codeqa(data, "train", TINY_ROWS, lang="java")
    wheels = tmp / "wheels"
    for name in DEP_WHEELS:
        make_wheel(wheels, name)
    (wheels / "kaggle.json").write_text(json.dumps({"key": PLANTED_KEY}))
    env = clean_env(home, KAGGLE_CONFIG_DIR=str(config_dir), KAGGLE_USERNAME="alice", KAGGLE_KEY=ENV_KEY)
    out = tmp / "kaggle_upload"
    result = run_cli("kaggle", "prepare", "--data-dir", str(data), "--out", str(out), "--wheels-from", str(wheels),
                     "--resume-from", "alice/codeqa-train-old", env=env, cwd=tmp)
    assert result.returncode == 0, result.stderr
    return {"tmp": tmp, "out": out, "data": data, "env": env, "stdout": result.stdout, "stderr": result.stderr,
            "wheels": wheels}


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_code_zip_holds_exactly_the_allow_list(upload):
    names = zip_names(upload["out"] / "codeqa_code.zip")
    configs = sorted(f"configs/{p.name}" for p in (ROOT / "codeqa" / "configs").glob("*.yaml"))
    wheels = [n for n in names if n.startswith("wheels/")]
    assert sorted(names) == sorted(["CODEQA_CODE.json", "notebooks/kaggle_train.ipynb", *configs, *wheels])
    assert sorted(n.split("/")[1] for n in wheels if not n.startswith("wheels/codeqa-")) == sorted(DEP_WHEELS)
    assert [n for n in wheels if n.startswith("wheels/codeqa-") and n.endswith("-py3-none-any.whl")]
    manifest = json.loads(zipfile.ZipFile(upload["out"] / "codeqa_code.zip").read("CODEQA_CODE.json"))
    assert manifest["format"] == "codeqa-kaggle-code" and len(manifest["wheels"]) == 5
    with zipfile.ZipFile(upload["out"] / "codeqa_code.zip") as archive:
        notebook = archive.read("notebooks/kaggle_train.ipynb")
    assert notebook == (ROOT / "notebooks" / "kaggle_train.ipynb").read_bytes()


def test_codeqa_wheel_holds_only_package_files(upload):
    with zipfile.ZipFile(upload["out"] / "codeqa_code.zip") as archive:
        name = next(n for n in archive.namelist() if n.startswith("wheels/codeqa-"))
        wheel = zipfile.ZipFile(io.BytesIO(archive.read(name)))
    members = wheel.namelist()
    assert "codeqa/kaggle/prepare.py" in members and "codeqa/configs/quick.yaml" in members
    assert all(wheels.CODEQA_WHEEL_ALLOW.match(m) for m in members), members


def test_data_zip_holds_exactly_the_splits_and_no_vocabulary_of_its_own(upload):
    """Without one given, no vocabulary is shipped: training builds its config's (kaggle_t4: 30,000 tokens)."""
    names = zip_names(upload["out"] / "codeqa_data.zip")
    expected = ["CODEQA_DATA.json"] + [
        f"python/{split}/{split}.{field}" for split in ("train", "dev", "test")
        for field in ("question", "code", "answer", "code.original")]
    assert sorted(names) == sorted(expected)
    with zipfile.ZipFile(upload["out"] / "codeqa_data.zip") as archive:
        manifest = json.loads(archive.read("CODEQA_DATA.json"))
        assert archive.read("python/dev/dev.question") == (upload["data"] / "python/dev/dev.question").read_bytes()
    assert manifest["examples"] == {"train": 24, "dev": 6, "test": 3}
    assert manifest["vocab"] is None and manifest["vocab_source"].startswith("none: training builds")


def test_data_zip_carries_a_pretrain_split(tiny_data):
    write_codeqa(tiny_data, "pretrain", [("What does the code do ?", "def zebra x return x", "a zebra")] * 3)
    members, manifest = prepare.collect_data(tiny_data, "python", None)
    assert manifest["examples"]["pretrain"] == 3 and "python/pretrain/pretrain.code" in members
    assert "vocab.json" not in members
    assert all(any(p.match(name) for p in prepare.DATA_ALLOW) for name in members)


def test_dataset_folders_and_metadata_are_valid(upload):
    out = upload["out"]
    for folder, slug, zip_name in (("code_dataset", "codeqa-code", "codeqa_code.zip"),
                                   ("data_dataset", "codeqa-data", "codeqa_data.zip")):
        assert sorted(p.name for p in (out / folder).iterdir()) == sorted(["dataset-metadata.json", zip_name])
        assert (out / folder / zip_name).read_bytes() == (out / zip_name).read_bytes()
        meta = json.loads((out / folder / "dataset-metadata.json").read_text())
        metadata.validate_dataset_metadata(meta)
        assert meta["id"] == f"alice/{slug}"
        assert 6 <= len(meta["title"]) <= 50  # the kaggle CLI's limits
        assert 6 <= len(meta["id"].split("/")[1]) <= 50
        assert meta["licenses"] == [{"name": "CC0-1.0"}]


def test_kernel_metadata_is_valid(upload):
    folder = upload["out"] / "kernel"
    assert sorted(p.name for p in folder.iterdir()) == ["kaggle_train.ipynb", "kernel-metadata.json"]
    meta = json.loads((folder / "kernel-metadata.json").read_text())
    metadata.validate_kernel_metadata(meta, folder)
    assert meta["id"] == "alice/codeqa-train" and meta["code_file"] == "kaggle_train.ipynb"
    assert meta["kernel_type"] == "notebook" and meta["language"] == "python"
    assert meta["enable_gpu"] is True and meta["machine_shape"] == "NvidiaTeslaT4"
    assert meta["enable_internet"] is False  # everything is bundled
    assert meta["dataset_sources"] == ["alice/codeqa-code", "alice/codeqa-data"]
    assert meta["kernel_sources"] == ["alice/codeqa-train-old"]
    assert meta["title"].lower().replace(" ", "-") == "codeqa-train"  # kaggle slugifies the title to the id


def test_prepare_prints_sizes_and_next_step(upload):
    assert "codeqa_code.zip" in upload["stdout"] and "KB" in upload["stdout"]
    assert "next: codeqa kaggle push" in upload["stdout"]
    assert "pretrain split: none (the notebook's cell 5 generates one" in upload["stdout"]   # the fixture has none
    out = upload["out"]
    with_pretrain = prepare.Prepared(out, out / "codeqa_code.zip", out / "codeqa_data.zip", out, out, out / "kernel",
                                    [], ["python/train/train.question", "python/pretrain/pretrain.question"])
    assert "pretrain split: shipped" in prepare.prepare_report(with_pretrain)


def test_no_credential_enters_any_produced_file_or_log(upload):
    produced = [p for p in upload["out"].rglob("*") if p.is_file()]
    assert len(produced) >= 7
    for path in produced:
        assert path.name not in ("kaggle.json", "access_token", "credentials.json")
        content = all_bytes(path)
        for secret in (PLANTED_KEY, ENV_KEY, PLANTED_KEY[:20], "planted0refresh0"):
            assert secret.encode() not in content, f"{secret} found in {path}"
    for secret in (PLANTED_KEY, ENV_KEY):
        assert secret not in upload["stdout"] + upload["stderr"]


def test_prepare_refuses_a_file_that_contains_a_credential(upload, tmp_path):
    data = tmp_path / "data"
    write_codeqa(data, "train", [*TINY_ROWS, ("What is the key ?", f"key = {ENV_KEY}", "a secret")])
    write_codeqa(data, "dev", TINY_ROWS)
    result = run_cli("kaggle", "prepare", "--data-dir", str(data), "--out", str(tmp_path / "up"),
                     "--no-deps-wheels", env=upload["env"])
    assert result.returncode == 1
    assert "contains a Kaggle credential value" in result.stderr
    assert ENV_KEY not in result.stderr + result.stdout
    assert not (tmp_path / "up" / "codeqa_data.zip").exists()


def test_prepare_refuses_a_dependency_wheel_that_contains_a_credential(upload, tmp_path):
    import shutil

    wheels = tmp_path / "wheels"
    shutil.copytree(upload["wheels"], wheels)
    with zipfile.ZipFile(wheels / DEP_WHEELS[0], "a") as archive:
        archive.writestr("sacrebleu/leak.py", f"KEY = {PLANTED_KEY!r}\n")
    result = run_cli("kaggle", "prepare", "--data-dir", str(upload["data"]), "--out", str(tmp_path / "up"),
                     "--wheels-from", str(wheels), env=upload["env"])
    assert result.returncode == 1 and "contains a Kaggle credential value" in result.stderr
    assert not (tmp_path / "up" / "codeqa_code.zip").exists()


def test_prepare_keeps_stray_repo_files_out_of_the_wheel(upload, tmp_path):
    repo = tmp_path / "repo"
    for name in ("pyproject.toml", "README.md"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes((ROOT / name).read_bytes())
    for path in (ROOT / "codeqa").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            target = repo / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (repo / "codeqa" / "kaggle.json").write_text(json.dumps({"key": PLANTED_KEY}))
    (repo / "codeqa" / "configs" / "secret.txt").write_text(PLANTED_KEY)
    wheel = wheels.build_codeqa_wheel(repo, tmp_path / "out")
    names = zip_names(wheel)
    assert "codeqa/kaggle.json" not in names and "codeqa/configs/secret.txt" not in names
    assert PLANTED_KEY.encode() not in all_bytes(wheel)


def test_prepare_without_owner_says_how_to_give_one(upload, tmp_path):
    env = clean_env(tmp_path)
    result = run_cli("kaggle", "prepare", "--data-dir", str(upload["data"]), "--out", str(tmp_path / "up"),
                     "--no-deps-wheels", env=env)
    assert result.returncode == 1
    assert "--owner" in result.stderr and "KAGGLE_USERNAME" in result.stderr


def test_prepare_with_existing_vocab_and_missing_dependency_wheels(upload, tmp_path):
    from codeqa.vocab import Vocab

    vocab = Vocab(["<pad>", "<unk>", "<bos>", "<eos>", "<sep>", "the", "code"])
    vocab.save(tmp_path / "my_vocab.json")
    empty = tmp_path / "empty-wheels"
    empty.mkdir()
    result = run_cli("kaggle", "prepare", "--data-dir", str(upload["data"]), "--out", str(tmp_path / "up"),
                     "--owner", "bob", "--wheels-from", str(empty), env=clean_env(tmp_path))
    assert result.returncode == 1 and "no wheel for sacrebleu" in result.stderr and "pip download" in result.stderr
    result = run_cli("kaggle", "prepare", "--data-dir", str(upload["data"]), "--out", str(tmp_path / "up"),
                     "--owner", "bob", "--no-deps-wheels", "--vocab", str(tmp_path / "my_vocab.json"),
                     "--internet", env=clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "up" / "codeqa_data.zip") as archive:
        assert Vocab.from_dict(json.loads(archive.read("vocab.json"))) == vocab
    meta = json.loads((tmp_path / "up" / "kernel" / "kernel-metadata.json").read_text())
    assert meta["enable_internet"] is True and meta["id"] == "bob/codeqa-train"


@pytest.mark.parametrize("name", ["../evil.py", "/etc/passwd", "python/train/../../x", "a\\b", "C:/x", "./vocab.json",
                                  "python//train/train.question", ""])
def test_archive_names_escaping_the_root_are_refused(name):
    with pytest.raises(CodeQAError, match="escape"):
        check_member(name, prepare.DATA_ALLOW)


@pytest.mark.parametrize("name", ["kaggle.json", "python/train/kaggle.json", "python/train/notes.txt",
                                  "python/train/dev.question", "wheels/codeqa.whl"])
def test_archive_names_off_the_allow_list_are_refused(name):
    with pytest.raises(CodeQAError, match="allow-list"):
        check_member(name, prepare.DATA_ALLOW)


def test_write_zip_refuses_credential_files(tmp_path):
    planted = tmp_path / "kaggle.json"
    planted.write_text("{}")
    with pytest.raises(CodeQAError, match="credential"):
        write_zip(tmp_path / "x.zip", {"vocab.json": planted}, prepare.DATA_ALLOW)
    assert not (tmp_path / "x.zip").exists()


def test_metadata_limits_match_the_kaggle_cli():
    with pytest.raises(CodeQAError):
        metadata.dataset_metadata("alice", "short", "A good title")  # dataset slugs: 6-50 characters
    with pytest.raises(CodeQAError):
        metadata.dataset_metadata("alice", "codeqa-data", "Tiny")  # titles: 6-50 characters
    with pytest.raises(CodeQAError):
        metadata.validate_dataset_metadata({"title": "CodeQA data", "id": "alice/codeqa-data",
                                          "licenses": [{"name": "CC0-1.0"}, {"name": "ODbL-1.0"}]})
    with pytest.raises(CodeQAError):
        metadata.kernel_metadata("alice", "abc", [])  # kernel slugs: at least 5 characters
    with pytest.raises(CodeQAError, match="OWNER/SLUG"):
        metadata.kernel_metadata("alice", "codeqa-train", [], kernel_sources=["not a ref"])


# ---------------------------------------------------------------- the wrappers, with a fake kaggle
@pytest.fixture
def fake(tmp_path, upload):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "kaggle"
    exe.write_text(FAKE_KAGGLE.format(python=sys.executable))
    exe.chmod(0o755)
    log = tmp_path / "kaggle-calls.jsonl"
    env = dict(upload["env"], PATH=f"{bin_dir}{os.pathsep}{upload['env'].get('PATH', '')}",
               FAKE_KAGGLE_LOG=str(log))

    def calls() -> list[list[str]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []

    return {"env": env, "calls": calls, "out": upload["out"], "tmp": tmp_path}


def test_push_creates_both_datasets(fake):
    result = run_cli("kaggle", "push", "--upload-dir", str(fake["out"]), env=fake["env"])
    assert result.returncode == 0, result.stderr
    code, data = str(fake["out"] / "code_dataset"), str(fake["out"] / "data_dataset")
    assert fake["calls"]() == [["datasets", "status", "alice/codeqa-code"],
                               ["datasets", "create", "-p", code, "--dir-mode", "zip"],
                               ["datasets", "status", "alice/codeqa-data"],
                               ["datasets", "create", "-p", data, "--dir-mode", "zip"]]


def test_push_adds_a_version_to_existing_datasets(fake):
    env = dict(fake["env"], FAKE_KAGGLE_EXISTING="alice/codeqa-code,alice/codeqa-data")
    result = run_cli("kaggle", "push", "--upload-dir", str(fake["out"]), "-m", "more data", env=env)
    assert result.returncode == 0, result.stderr
    calls = fake["calls"]()
    assert calls[1] == ["datasets", "version", "-p", str(fake["out"] / "code_dataset"), "-m", "more data",
                        "--dir-mode", "zip"]
    assert calls[3][:3] == ["datasets", "version", "-p"]


def test_run_pushes_the_kernel_and_resume_from_adds_the_earlier_run(fake, tmp_path):
    import shutil

    upload_dir = tmp_path / "upload"
    shutil.copytree(fake["out"], upload_dir)
    result = run_cli("kaggle", "run", "--upload-dir", str(upload_dir), "--resume-from", "alice/codeqa-train",
                     "--kernel-slug", "codeqa-train-2", env=fake["env"])
    assert result.returncode == 0, result.stderr
    assert fake["calls"]()[-1] == ["kernels", "push", "-p", str(upload_dir / "kernel"),
                                   "--accelerator", "NvidiaTeslaT4"]
    meta = json.loads((upload_dir / "kernel" / "kernel-metadata.json").read_text())
    assert meta["kernel_sources"] == ["alice/codeqa-train"]
    assert meta["id"] == "alice/codeqa-train-2" and meta["title"] == "Codeqa Train 2"
    assert "https://www.kaggle.com/code/alice/codeqa-train-2" in result.stdout
    assert "not ready" in result.stderr  # the fake says the datasets do not exist yet


def test_status_and_download(fake):
    result = run_cli("kaggle", "status", "--upload-dir", str(fake["out"]), env=fake["env"])
    assert result.returncode == 0, result.stderr
    assert ["kernels", "status", "alice/codeqa-train"] in fake["calls"]()
    assert "COMPLETE" in result.stdout
    target = fake["tmp"] / "results"
    result = run_cli("kaggle", "download", "--upload-dir", str(fake["out"]), "--out", str(target), env=fake["env"])
    assert result.returncode == 0, result.stderr
    call = fake["calls"]()[-1]
    assert call[:5] == ["kernels", "output", "alice/codeqa-train", "-p", str(target)] and "--file-pattern" in call
    assert (target / "codeqa_full" / "best_model_python.pt").is_file()
    # what a user needs, not the resume files (last.pt holds the optimizer state too) nor the quick test
    assert not (target / "codeqa_full" / "last.pt").exists() and not (target / "codeqa_quick").exists()
    result = run_cli("kaggle", "download", "--upload-dir", str(fake["out"]), "--out", str(target / "all"),
                     "--with-resume", env=fake["env"])
    assert result.returncode == 0, result.stderr
    assert (target / "all" / "codeqa_full" / "last.pt").is_file()
    assert (target / "all" / "codeqa_full" / "checkpoint_epoch10.pt").is_file()
    assert not (target / "all" / "codeqa_quick").exists()
    assert "val_f1: 31.5" in result.stdout and "missing" not in result.stdout  # all that a run must leave


def test_kaggle_failures_are_reported_clearly(fake):
    env = dict(fake["env"], FAKE_KAGGLE_FAIL="kernels push")
    result = run_cli("kaggle", "run", "--upload-dir", str(fake["out"]), env=env)
    assert result.returncode == 1
    assert "error: `kaggle kernels push -p" in result.stderr and "failed (exit status 1)" in result.stderr
    assert "403 Client Error: Forbidden" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_kaggle_cli_too_old_to_choose_the_t4_machine_is_refused(fake):
    result = run_cli("kaggle", "run", "--upload-dir", str(fake["out"]), env=dict(fake["env"], FAKE_KAGGLE_OLD="1"))
    assert result.returncode == 1
    assert "too old to ask for the GPU T4 x2" in result.stderr and "pip install -U kaggle" in result.stderr


def test_errors_the_kaggle_cli_prints_with_exit_status_zero_are_caught(fake):
    env = dict(fake["env"], FAKE_KAGGLE_SOFT_FAIL="datasets create")
    result = run_cli("kaggle", "push", "--upload-dir", str(fake["out"]), env=env)
    assert result.returncode == 1
    assert "it reported an error" in result.stderr and "Dataset creation error" in result.stderr


def test_kaggle_output_is_shown_with_credentials_masked(fake):
    env = dict(fake["env"], FAKE_KAGGLE_ECHO_KEY="1")
    result = run_cli("kaggle", "status", "--upload-dir", str(fake["out"]), "--kernel", "alice/codeqa-train",
                     env=env)
    assert result.returncode == 0, result.stderr
    out = credentials.redact(f"using key {ENV_KEY}", [ENV_KEY])
    assert out == "using key ***"
    assert ENV_KEY not in result.stdout + result.stderr


@pytest.mark.parametrize("setup", ["kaggle.json", "config_dir", "env", "token", "none"])
def test_credentials_are_checked_before_calling_kaggle(fake, tmp_path, setup):
    home = tmp_path / "fresh-home"
    home.mkdir()
    env = clean_env(home, PATH=fake["env"]["PATH"], FAKE_KAGGLE_LOG=fake["env"]["FAKE_KAGGLE_LOG"])
    if setup == "kaggle.json":
        (home / ".kaggle").mkdir()
        (home / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": "alice", "key": PLANTED_KEY}))
    elif setup == "config_dir":
        (tmp_path / "cfg").mkdir()
        (tmp_path / "cfg" / "kaggle.json").write_text(json.dumps({"username": "alice", "key": PLANTED_KEY}))
        env["KAGGLE_CONFIG_DIR"] = str(tmp_path / "cfg")
    elif setup == "env":
        env.update(KAGGLE_USERNAME="alice", KAGGLE_KEY=ENV_KEY)
    elif setup == "token":
        (home / ".kaggle").mkdir()
        (home / ".kaggle" / "access_token").write_text("KGAT_" + PLANTED_KEY)
    result = run_cli("kaggle", "status", "--kernel", "alice/codeqa-train", env=env)
    if setup == "none":
        assert result.returncode == 1
        assert "no Kaggle credentials found" in result.stderr and "kaggle.json" in result.stderr
        assert "KAGGLE_USERNAME" in result.stderr and result.stderr.count("error:") == 1
        assert fake["calls"]() == []  # the kaggle CLI was never started
    else:
        assert result.returncode == 0, result.stderr
        assert fake["calls"]() == [["kernels", "status", "alice/codeqa-train"]]


def test_missing_kaggle_executable_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # no kaggle beside the interpreter either
    with pytest.raises(CodeQAError, match=r"pip install 'codeqa\[kaggle\]'"):
        commands.run_kaggle(["kernels", "list"], env={"PATH": str(tmp_path), "KAGGLE_USERNAME": "a", "KAGGLE_KEY": "b"})


def test_commands_need_a_prepared_folder(fake, tmp_path):
    result = run_cli("kaggle", "push", "--upload-dir", str(tmp_path / "nothing"), env=fake["env"])
    assert result.returncode == 1 and "codeqa kaggle prepare" in result.stderr
    assert fake["calls"]() == []


def test_markers_are_on_the_upload_allow_lists():
    # the notebook looks for the marker files that `codeqa kaggle prepare` puts into the zips
    check_member(layout.CODE_MARKER, prepare.CODE_ALLOW)
    check_member(layout.DATA_MARKER, prepare.DATA_ALLOW)


def test_kaggle_module_never_imports_the_kaggle_package():
    import subprocess

    code = "import sys, codeqa.kaggle, codeqa.cli; sys.exit('kaggle' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
