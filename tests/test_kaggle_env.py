"""The notebook's library: finding datasets on Kaggle (mounted, auto-extracted or zipped), checking the data,
generating pre-training pairs, building the training command, resuming from an earlier run, and a summary
that never crashes."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

from codeqa import runfiles
from codeqa.data import available_splits, read_split
from codeqa.errors import CodeQAError
from codeqa.kaggle import layout, session, summary, training_run
from codeqa.kaggle.archive import safe_extract
from codeqa.vocab import Vocab
from tests.conftest import TINY_ROWS, write_codeqa

KAGGLE_ENV = {"KAGGLE_KERNEL_RUN_TYPE": "Batch"}


def make_data_bundle(root: Path, with_vocab: bool = True) -> Path:
    write_codeqa(root, "train", TINY_ROWS * 2)
    write_codeqa(root, "dev", TINY_ROWS)
    (root / layout.DATA_MARKER).write_text("{}", encoding="utf-8")
    if with_vocab:
        Vocab(["<pad>", "<unk>", "<bos>", "<eos>", "<sep>", "the"]).save(root / "vocab.json")
    return root


def zip_folder(folder: Path, zip_path: Path) -> Path:
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return zip_path


@pytest.mark.parametrize("mount", ["datasets/alice/codeqa-data", "codeqa-data", "codeqa-data/codeqa_data"])
def test_setup_paths_finds_the_data_wherever_kaggle_mounts_it(tmp_path, mount):
    # today's /kaggle/input/datasets/<owner>/<slug>/, the older /kaggle/input/<slug>/, and a zip Kaggle
    # extracted into a folder of its own
    make_data_bundle(tmp_path / "input" / mount)
    paths = session.setup_paths(KAGGLE_ENV, input_root=tmp_path / "input", kaggle_working=tmp_path / "working")
    assert paths.on_kaggle
    assert paths.data_dir == tmp_path / "input" / mount
    assert paths.vocab == paths.data_dir / "vocab.json"
    assert paths.work_dir == tmp_path / "working"
    summary = session.verify_data(paths)
    assert summary["counts"] == {"train": 12, "dev": 6}
    assert summary["vocab_size"] == 6


def test_setup_paths_extracts_a_zip_kaggle_left_packed(tmp_path):
    bundle = make_data_bundle(tmp_path / "bundle")
    (tmp_path / "input" / "datasets" / "alice" / "codeqa-data").mkdir(parents=True)
    zip_folder(bundle, tmp_path / "input" / "datasets" / "alice" / "codeqa-data" / layout.DATA_ZIP)
    paths = session.setup_paths(KAGGLE_ENV, input_root=tmp_path / "input", kaggle_working=tmp_path / "working")
    assert paths.data_dir == tmp_path / "working" / layout.BUNDLE_DIR / "data"
    assert session.verify_data(paths)["counts"]["train"] == 12
    # a second run of the cell reuses the extracted copy
    again = session.setup_paths(KAGGLE_ENV, input_root=tmp_path / "input", kaggle_working=tmp_path / "working")
    assert again.data_dir == paths.data_dir


def test_setup_paths_accepts_raw_codeqa_layout_uploaded_by_hand(tmp_path):
    write_codeqa(tmp_path / "input" / "my-codeqa", "train", TINY_ROWS)
    write_codeqa(tmp_path / "input" / "my-codeqa", "dev", TINY_ROWS)
    paths = session.setup_paths(KAGGLE_ENV, input_root=tmp_path / "input", kaggle_working=tmp_path / "w")
    assert paths.data_dir == tmp_path / "input" / "my-codeqa"
    assert paths.vocab is None


def test_verify_data_names_what_is_missing_and_where_it_looked(tmp_path):
    (tmp_path / "input").mkdir()
    paths = session.setup_paths(KAGGLE_ENV, input_root=tmp_path / "input", kaggle_working=tmp_path / "w")
    with pytest.raises(CodeQAError) as err:
        session.verify_data(paths)
    assert str(tmp_path / "input") in str(err.value)
    assert "Add Input" in str(err.value)

    write_codeqa(tmp_path / "data", "train", TINY_ROWS)  # no dev split
    off = session.setup_paths({"CODEQA_DATA": str(tmp_path / "data"), "CODEQA_WORK_DIR": str(tmp_path / "o")})
    with pytest.raises(CodeQAError) as err:
        session.verify_data(off)
    assert str(tmp_path / "data" / "python" / "dev" / "dev.question") in str(err.value)
    assert "CODEQA_DATA" in str(err.value)


def test_setup_paths_off_kaggle_uses_environment(tmp_path):
    make_data_bundle(tmp_path / "data", with_vocab=False)
    paths = session.setup_paths({"CODEQA_DATA": str(tmp_path / "data"), "CODEQA_WORK_DIR": str(tmp_path / "o")})
    assert not paths.on_kaggle and paths.input_root is None
    assert paths.data_dir == (tmp_path / "data").resolve()
    assert paths.work_dir == (tmp_path / "o").resolve() and paths.work_dir.is_dir()
    assert session.verify_data(paths)["vocab"] is None


def test_safe_extract_refuses_members_escaping_the_folder(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../outside.txt", "x")
    with pytest.raises(CodeQAError, match="escape the archive root"):
        safe_extract(evil, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists()


def test_safe_extract_refuses_links_and_never_writes_through_one(tmp_path):
    import stat

    linked = tmp_path / "linked.zip"
    with zipfile.ZipFile(linked, "w") as archive:
        info = zipfile.ZipInfo("wheels/evil")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(CodeQAError, match="it is a link"):
        safe_extract(linked, tmp_path / "dest")
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("wheels/a.whl", "new")
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest2"
    dest.mkdir()
    (dest / "wheels").symlink_to(outside)  # planted before the extraction
    with pytest.raises(CodeQAError, match="a link in the extraction folder"):
        safe_extract(plain, dest)
    assert not (outside / "a.whl").exists()


def test_remove_checkpoints_keeps_the_log_and_metrics(tmp_path):
    run = tmp_path / "quick"
    (run / "pretrain").mkdir(parents=True)
    for name in ("last.pt", "best_model_python.pt", "pretrain/best_model_python.pt", "logs.txt", "metrics.jsonl"):
        (run / name).write_bytes(b"x" * 100)
    assert training_run.remove_checkpoints(run) == 300
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()) == ["logs.txt",
                                                                                           "metrics.jsonl"]


def test_train_command_uses_torchrun_for_two_gpus(tmp_path):
    single = training_run.train_command("quick", tmp_path / "d", tmp_path / "o", epochs=1, nproc=1, python="py")
    assert single[:4] == ["py", "-m", "codeqa", "train"]
    assert single[4:] == ["--config", "quick", "--data-dir", str(tmp_path / "d"), "--out-dir", str(tmp_path / "o"),
                          "--set", "epochs=1"]
    double = training_run.train_command("kaggle_t4", "D", "O", vocab=Path("v.json"), epochs=20,
                                      overrides=["batch_size=64"], nproc=2, resume="auto", torchrun="torchrun")
    assert double == ["torchrun", "--nproc_per_node=2", "-m", "codeqa", "train", "--config", "kaggle_t4",
                      "--data-dir", "D", "--out-dir", "O", "--vocab", "v.json", "--set", "epochs=20",
                      "--set", "batch_size=64", "--resume", "auto"]
    with pytest.raises(CodeQAError, match="key=value"):
        training_run.train_command("quick", "D", "O", overrides=["oops"])


def test_plan_training_gives_two_runs_in_their_own_folders(tmp_path):
    make_data_bundle(tmp_path / "data")
    paths = session.setup_paths({"CODEQA_DATA": str(tmp_path / "data"), "CODEQA_WORK_DIR": str(tmp_path / "o")})
    plan = training_run.plan_training(paths, "quick", full_epochs=3, quick_epochs=1, overrides={"batch_size": 8},
                                    quick_overrides={"max_train_examples": 10}, nproc=1)
    assert plan.quick_out != plan.full_out
    assert plan.quick_cmd[plan.quick_cmd.index("--out-dir") + 1] == str(plan.quick_out)
    assert "max_train_examples=10" in plan.quick_cmd and "max_train_examples=10" not in plan.full_cmd
    assert "batch_size=8" in plan.quick_cmd and "batch_size=8" in plan.full_cmd
    assert plan.full_cmd[-2:] == ["--resume", "auto"] and "--resume" not in plan.quick_cmd
    assert "epochs=3" in plan.full_cmd and "--vocab" in plan.full_cmd
    assert "python -m codeqa train" in plan.describe().replace(sys.executable, "python")


def _documented_functions(folder: Path, files: int = 4, per_file: int = 5) -> Path:
    for k in range(files):
        (folder / f"mod{k}").mkdir(parents=True)
        (folder / f"mod{k}" / "funcs.py").write_text("".join(
            f'def fetch_{k}_{i}(url):\n    """Return the page {i} of the site {k} using the given url."""\n'
            f"    return url * {k} + {i}\n\n\n" for i in range(per_file)), encoding="utf-8")
    return folder


def test_add_pretrain_split_generates_one_beside_links_to_the_data(tmp_path, capsys):
    data = make_data_bundle(tmp_path / "data")
    write_codeqa(data, "test", TINY_ROWS[:2])
    source = _documented_functions(tmp_path / "src")
    paths = session.setup_paths({"CODEQA_DATA": str(data), "CODEQA_WORK_DIR": str(tmp_path / "work")})
    before = {p: p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()}

    made = training_run.add_pretrain_split(paths, "small", sources=[str(source)], max_files=3, workers=1)
    generated = tmp_path / "work" / layout.GENERATED_DATA_DIR
    assert made.data_dir == generated and paths.data_dir == data
    assert {p: p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()} == before   # the data: untouched
    assert available_splits(generated, "python") == ["dev", "pretrain", "test", "train"]
    assert (generated / "python" / "train" / "train.question").is_symlink() and made.vocab.is_symlink()
    assert made.vocab.resolve() == (data / "vocab.json").resolve()
    stats = json.loads((generated / "python" / "pretrain" / "stats.json").read_text(encoding="utf-8"))
    assert stats["files"]["sampled"] == 3 and stats["functions"]["pretrain"] == 15
    assert stats["excluded_near_duplicates"]["held_out_snippets"] > 0                # dev and test: decontaminated
    assert len(read_split(generated, "python", "pretrain")) == stats["pairs"]["total"] > 0
    assert "generating one from" in capsys.readouterr().out

    again = training_run.add_pretrain_split(paths, "small", sources=[str(source)], max_files=3, workers=1)
    assert again.data_dir == generated and "generated earlier" in capsys.readouterr().out
    more = training_run.add_pretrain_split(paths, "small", sources=[str(source)], max_files=4, workers=1)
    assert "generating one from" in capsys.readouterr().out                           # another max_files: made again
    assert more.data_dir == generated and len(read_split(generated, "python", "pretrain")) > stats["pairs"]["total"]
    # nothing to do: a config that does not pre-train, pre-training turned off, data that has the split
    assert training_run.add_pretrain_split(paths, "quick") is paths
    assert training_run.add_pretrain_split(paths, "small", {"pretrain_epochs": 0}) is paths
    assert training_run.add_pretrain_split(made, "small") is made
    assert "does not pre-train" in capsys.readouterr().out
    with pytest.raises(CodeQAError, match="GENERATE_PRETRAIN = False"):   # nothing to read: a clear way out
        training_run.add_pretrain_split(paths, "small", sources=[str(tmp_path / "nowhere")], workers=1)


def test_restore_previous_run_copies_the_last_checkpoint(tmp_path):
    old = tmp_path / "input" / "codeqa-train" / layout.FULL_OUT
    old.mkdir(parents=True)
    for name in ("last.pt", "checkpoint_epoch10.pt", "metrics.jsonl", "best_model_python.pt"):
        (old / name).write_text(name, encoding="utf-8")
    (tmp_path / "input" / "codeqa-train" / layout.QUICK_OUT).mkdir()
    (tmp_path / "input" / "codeqa-train" / layout.QUICK_OUT / "last.pt").write_text("quick", encoding="utf-8")
    out = tmp_path / "working" / layout.FULL_OUT
    assert training_run.restore_previous_run(tmp_path / "input", out) == old
    assert (out / "last.pt").read_text(encoding="utf-8") == "last.pt"  # the full run's, not the quick test's
    assert (out / "checkpoint_epoch10.pt").is_file()
    (out / "last.pt").write_text("newer", encoding="utf-8")
    assert training_run.restore_previous_run(tmp_path / "input", out) is None  # never over a newer run
    assert (out / "last.pt").read_text(encoding="utf-8") == "newer"
    assert training_run.restore_previous_run(None, tmp_path / "elsewhere") is None


def test_restore_previous_run_copies_a_run_stopped_while_pre_training(tmp_path):
    old = tmp_path / "input" / "codeqa-train" / layout.FULL_OUT
    (old / "pretrain").mkdir(parents=True)
    for name in ("last.pt", "metrics.jsonl"):
        (old / "pretrain" / name).write_text(name, encoding="utf-8")
    (old / "vocab.json").write_text("{}", encoding="utf-8")
    out = tmp_path / "working" / layout.FULL_OUT
    assert training_run.restore_previous_run(tmp_path / "input", out) == old
    assert (out / "pretrain" / "last.pt").read_text(encoding="utf-8") == "last.pt" and (out / "vocab.json").is_file()
    assert training_run.restore_previous_run(tmp_path / "input", out) is None  # its own stage-1 checkpoint now


def test_restore_previous_run_copies_a_finished_pre_training_stage(tmp_path):
    # stage 1 done (its resume files deleted), the session ended before stage 2 saved anything
    old = tmp_path / "input" / "codeqa-train" / layout.FULL_OUT
    (old / "pretrain").mkdir(parents=True)
    for name in ("best_model_python.pt", "finished.json", "metrics.jsonl"):
        (old / "pretrain" / name).write_text(name, encoding="utf-8")
    out = tmp_path / "working" / layout.FULL_OUT
    assert training_run.restore_previous_run(tmp_path / "input", out) == old
    assert (out / "pretrain" / "finished.json").is_file() and (out / "pretrain" / "best_model_python.pt").is_file()


def test_summary_never_crashes(tmp_path, capsys):
    report = summary.show_summary(tmp_path / "does-not-exist")
    assert report["missing"] == runfiles.expected_outputs(0, 0) and report["metrics"] is None
    assert "missing: best_model_python.pt" in capsys.readouterr().out
    run = tmp_path / "run"
    run.mkdir()
    (run / "best_model_python.pt").write_bytes(b"x" * 2048)
    (run / "metrics.jsonl").write_text('{"epoch": 1, "val_f1": 12.5}\n{"epoch": 2, "val_f1": 20.25}\n\n')
    report = summary.show_summary(run, save_every=1)
    text = capsys.readouterr().out
    assert report["metrics"] == {"epoch": 2, "val_f1": 20.25}
    assert "val_f1: 20.25" in text and "2.0 KB" in text
    # what 2 epochs give: the checkpoints of epochs 1 and 2 are expected, none of a later epoch
    assert {"checkpoint_epoch1.pt", "checkpoint_epoch2.pt"} <= set(report["missing"])
    assert not any(name.startswith("checkpoint_epoch3") for name in report["missing"])
    assert not any("checkpoint" in name for name in summary.show_summary(run, save_every=10)["missing"])
    (run / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": 2, "val_f1"', encoding="utf-8")  # cut off
    assert summary.show_summary(run)["metrics"] == '{"epoch": 2, "val_f1"'
    (run / "training_curves.png").write_bytes(b"not a png")  # displayed only inside IPython; never fatal
    summary.show_summary(run)
    (run / "decoding.json").write_text('{"chosen": {"beam_size": 4, "length_penalty": 1.5}, "grid": ['
                                       '{"beam_size": 1, "length_penalty": 1.0, "f1": 20.0, "rouge_l": 19.0}, '
                                       '{"beam_size": 4, "length_penalty": 1.5, "f1": 22.5, "rouge_l": 21.0}]}')
    assert summary.show_summary(run)["decoding"]["f1"] == 22.5  # a run from before reranking
    assert "beam 4, length penalty 1.5, rerank score (F1 22.50" in capsys.readouterr().out
    (run / "decoding.json").write_text('{"chosen": {"beam_size": 4, "length_penalty": 1.5, "rerank": "mbr"}, '
                                       '"grid": [{"beam_size": 4, "length_penalty": 1.5, "rerank": "score", '
                                       '"f1": 22.5, "rouge_l": 21.0}, {"beam_size": 4, "length_penalty": 1.5, '
                                       '"rerank": "mbr", "f1": 24.0, "rouge_l": 22.0}]}')
    assert summary.show_summary(run)["decoding"] == {"beam_size": 4, "length_penalty": 1.5, "rerank": "mbr",
                                                        "f1": 24.0, "rouge_l": 22.0}
    assert "rerank mbr (F1 24.00" in capsys.readouterr().out
    (run / "decoding.json").write_text('{"chosen": {}}')
    assert summary.show_summary(run)["decoding"] is None


def test_run_command_streams_output_and_reports_failure(tmp_path, capsys):
    ok = [sys.executable, "-c", "import sys; print('hello'); sys.stderr.write('progress\\r'); print('done')"]
    assert training_run.run_command(ok) == 0
    out = capsys.readouterr().out
    assert "hello" in out and "progress" in out and "done" in out
    bad = [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"]
    assert training_run.run_command(bad, check=False) == 3
    with pytest.raises(CodeQAError, match="exit status 3"):
        training_run.run_command(bad)
