"""recipes/split_dev.sh: which 1,000 of the 7,000 dev examples validate, and that the rest train, in order;
recipes/codeqa_dev.sh: the whole recipe, run small; recipes/gpu_sweep.sh: prepared on one machine, run on another."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from codeqa.data import read_split
from codeqa.synth.sources import find_files
from tests.conftest import write_codeqa

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
SPLIT_DEV = RECIPES / "split_dev.sh"
SAMPLE = Path(__file__).parent / "fixtures" / "sample_module.py"


@pytest.fixture()
def numbered_dev(tmp_path) -> Path:
    """A CodeQA root whose 7,000 dev examples say their own line number (the real files end without a newline)."""
    write_codeqa(tmp_path / "root", "dev", [(f"q{i} ?", f"def f{i}", f"a{i}") for i in range(1, 7001)])
    return tmp_path / "root"


@pytest.mark.parametrize("block", [None, "0", "3"])
def test_split_dev_holds_out_one_block_and_trains_on_the_rest(numbered_dev, tmp_path, block):
    data = tmp_path / "data"
    subprocess.run(["bash", str(SPLIT_DEV), str(numbered_dev), str(data), *([block] if block else [])], check=True)
    held_out = int(block) if block else 6  # by default the last 1,000, as the README's numbers
    dev = [int(e.answer[1:]) for e in read_split(data, "python", "dev")]
    train = [int(e.answer[1:]) for e in read_split(data, "python", "train")]
    assert dev == list(range(held_out * 1000 + 1, held_out * 1000 + 1001))
    assert train == [i for i in range(1, 7001) if i not in set(dev)]
    assert [e.code for e in read_split(data, "python", "dev", "code.original")] == [f"def f{i}" for i in dev]


def test_split_dev_refuses_a_block_past_the_end(numbered_dev, tmp_path):
    run = subprocess.run(["bash", str(SPLIT_DEV), str(numbered_dev), str(tmp_path / "data"), "7"],
                         check=False, capture_output=True, text=True)
    assert run.returncode == 2 and "BLOCK 0-6" in run.stderr and not (tmp_path / "data").exists()


@pytest.mark.slow
def test_codeqa_dev_recipe_runs_end_to_end_with_several_package_sources(numbered_dev, tmp_path):
    """The recipe as README "Results" runs it, cut to seconds: PACKAGES lists a wheel and a folder beside the
    standard library, and the pretrain split, the training and both evaluations come out of one command."""
    wheel = tmp_path / "sample-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(SAMPLE, "sample/mod.py")
    work = tmp_path / "work"
    settings = ("pretrain_split=pretrain pretrain_epochs=1 epochs=1 max_train_examples=300 max_valid_examples=50 "
                "tune_beam_sizes=1 tune_length_penalties=1.0 tune_reranks=score")
    env = {"PATH": "/usr/bin:/bin", "CODEQA": f"{sys.executable} -m codeqa", "SETTINGS": settings,
           "PACKAGES": f"{wheel} {SAMPLE.parent}"}
    run = subprocess.run(["bash", str(RECIPES / "codeqa_dev.sh"), str(numbered_dev), str(work), "quick"],
                         check=False, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    stats = json.loads((work / "real" / "python" / "pretrain" / "stats.json").read_text(encoding="utf-8"))
    assert stats["sources"][1:] == [str(wheel), str(SAMPLE.parent)] and stats["sources"][0].startswith("stdlib")
    answers = read_split(work / "real", "python", "pretrain")
    assert any(e.answer == "the sum of a and b" for e in answers)   # from the wheel's (and the folder's) sample
    for name in ("dev_greedy", "dev_chosen"):
        assert json.loads((work / "run" / f"{name}.json").read_text(encoding="utf-8"))["overall"]["count"] == 1000
    assert (work / "run" / "pretrain" / "finished.json").is_file()
    # lever 4 of #22 from the same work dir: the pre-trained model fine-tuned on 100 of the 6,000 real pairs
    curve = subprocess.run([sys.executable, str(RECIPES / "learning_curve.py"), str(work), str(tmp_path / "curve"),
                            "--sizes", "100,6000", "--config", "quick"], check=False, capture_output=True, text=True,
                           timeout=600)
    assert curve.returncode == 0, curve.stderr[-3000:]
    report = json.loads((tmp_path / "curve" / "learning_curve.json").read_text(encoding="utf-8"))
    assert [p["train_pairs"] for p in report["points"]] == [100, 6000]
    assert "100 train" in (tmp_path / "curve" / "n100" / "logs.txt").read_text(encoding="utf-8")
    assert (tmp_path / "curve" / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    # a fine-tuning lever over two seeds from the same pre-trained model
    lever = ["epochs=1", "max_train_examples=100", "max_valid_examples=50", "dropout=0.05"]
    study = subprocess.run([sys.executable, str(RECIPES / "seed_study.py"), str(work), str(tmp_path / "seeds"),
                            "--seeds", "1,2", "--config", "quick", *[arg for kv in lever for arg in ("--set", kv)]],
                           check=False, capture_output=True, text=True, timeout=600)
    assert study.returncode == 0, study.stderr[-3000:]
    report = json.loads((tmp_path / "seeds" / "seed_study.json").read_text(encoding="utf-8"))
    assert sorted(report["seeds"]) == ["1", "2"] and report["overrides"] == lever
    for seed in (1, 2):
        logs = (tmp_path / "seeds" / f"seed{seed}" / "logs.txt").read_text(encoding="utf-8")
        assert "100 train" in logs and (tmp_path / "seeds" / f"seed{seed}" / "checkpoint_epoch1.pt").is_file()
    chosen = report["over_seeds"]["chosen"]["f1"]
    assert chosen["min"] <= chosen["mean"] <= chosen["max"]
    assert chosen["mean"] >= report["over_seeds"]["greedy"]["f1"]["mean"]


def _system_python_with_pip() -> bool:
    if not Path("/usr/bin/python3").is_file():
        return False
    found = subprocess.run(["/usr/bin/python3", "-m", "pip", "--version"], check=False, capture_output=True)
    return found.returncode == 0


FAST_SETTINGS = ("epochs=1 max_train_examples=300 max_valid_examples=50 tune_beam_sizes=1 "
                 "tune_length_penalties=1.0 tune_reranks=score")


@pytest.mark.slow
@pytest.mark.skipif(not _system_python_with_pip(), reason="needs /usr/bin/python3 with pip: its site-packages "
                    "are empty, so the recipe's default sources stay small")
def test_codeqa_dev_recipe_adds_the_wheels_of_pips_local_index_by_default(numbered_dev, tmp_path):
    """Without PACKAGES the sources are the standard library, the installed packages and each local (file://)
    index that pip is configured with; a sample of the files is read (MAX_FILES here), and small keeps its
    config's one pre-training pass."""
    index = tmp_path / "index"
    (index / "files").mkdir(parents=True)
    with zipfile.ZipFile(index / "files" / "sample-1.0-py3-none-any.whl", "w") as zf:
        zf.write(SAMPLE, "sample/mod.py")
    for folder, link in (("", "sample/"), ("sample/", "../../files/sample-1.0-py3-none-any.whl#sha256=00")):
        (index / "simple" / folder).mkdir(parents=True, exist_ok=True)
        (index / "simple" / folder / "index.html").write_text(f'<a href="{link}">x</a>\n', encoding="utf-8")
    url = (index / "simple").as_uri()
    work = tmp_path / "work"
    env = {"PATH": "/usr/bin:/bin", "CODEQA": f"{sys.executable} -m codeqa", "MAX_FILES": "400",
           "PIP_CONFIG_FILE": os.devnull, "PIP_EXTRA_INDEX_URL": f"https://pypi.example.org/simple {url}",
           "SETTINGS": FAST_SETTINGS}
    run = subprocess.run(["bash", str(RECIPES / "codeqa_dev.sh"), str(numbered_dev), str(work), "small"],
                         check=False, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    stats = json.loads((work / "real" / "python" / "pretrain" / "stats.json").read_text(encoding="utf-8"))
    purelib = subprocess.run(["/usr/bin/python3", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    assert stats["sources"][0].startswith("stdlib") and stats["sources"][1:] == [purelib, url]
    assert stats["files"]["found"] == len(find_files(["stdlib", purelib])[0]) + 1   # + the wheel's one file
    assert stats["files"]["sampled"] == 400
    assert "pre-training 1 epoch(s)" in (work / "run" / "logs.txt").read_text(encoding="utf-8")


@pytest.mark.slow
def test_codeqa_dev_recipe_without_a_local_index_pretrains_small_three_epochs(numbered_dev, tmp_path):
    """Where pip has no local index, small keeps the sources and schedule it was measured with before its
    config's one pass over the larger sources."""
    work = tmp_path / "work"
    env = {"PATH": "/usr/bin:/bin", "CODEQA": f"{sys.executable} -m codeqa", "PIP_CONFIG_FILE": os.devnull,
           "SETTINGS": FAST_SETTINGS}
    run = subprocess.run(["bash", str(RECIPES / "codeqa_dev.sh"), str(numbered_dev), str(work), "small"],
                         check=False, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    stats = json.loads((work / "real" / "python" / "pretrain" / "stats.json").read_text(encoding="utf-8"))
    assert len(stats["sources"]) == 2 and "sampled" not in stats["files"]
    assert "pre-training 3 epoch(s)" in (work / "run" / "logs.txt").read_text(encoding="utf-8")


def test_learning_curve_refuses_sizes_it_cannot_fit_before_training(tmp_path):
    run = subprocess.run([sys.executable, str(RECIPES / "learning_curve.py"), str(tmp_path), str(tmp_path / "out"),
                          "--sizes", "4000"], check=False, capture_output=True, text=True)
    assert run.returncode == 2 and "--sizes '4000': a curve needs at least two" in run.stderr
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert not (tmp_path / "out").exists()


def test_seed_study_refuses_seeds_that_are_not_numbers_before_training(tmp_path):
    run = subprocess.run([sys.executable, str(RECIPES / "seed_study.py"), str(tmp_path), str(tmp_path / "out"),
                          "--seeds", "1,two"], check=False, capture_output=True, text=True)
    assert run.returncode == 2 and "--seeds '1,two': expected comma-separated integers" in run.stderr
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert not (tmp_path / "out").exists()


def test_sibling_answers_counts_answers_found_in_another_question_about_the_same_code(tmp_path):
    """Two questions cut from one sentence give each other's answer; a question about other code, or a word
    that only occurs inside a longer one, does not count."""
    write_codeqa(tmp_path, "dev", [("What does the code add to the index ?", "def f", "a row"),
                                   ("Where does the code add a row ?", "def f", "to the index"),
                                   ("What does the code get ?", "def f", "get"),
                                   ("What does the code add a row to ?", "def g", "the index"),
                                   ("What adds a rower ?", "def h", "x"),
                                   ("What adds it ?", "def h", "row")])
    run = subprocess.run([sys.executable, str(RECIPES / "sibling_answers.py"), str(tmp_path)],
                         check=True, capture_output=True, text=True)
    assert "6 examples, 5 share their code with another question; 2 (33.3%) have their answer" in run.stdout


@pytest.mark.slow
def test_gpu_sweep_prepares_its_pairs_on_one_machine_and_runs_from_them_on_another(numbered_dev, tmp_path):
    """recipes/gpu_sweep.sh as a device session runs it, shrunk by SMOKE=1: PREPARE_ONLY=1 splits the dev file
    twice (the last 1,000 and block 3 held out), generates each split's pretrain pairs and trains nothing; the
    copy, without the unread *.code.original, then gives the sweep's table: every variant on both slices with its
    scores, each model shape's training speed, and the ensemble of base and its extra fine-tunings."""
    work = tmp_path / "work"
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "CODEQA": f"{sys.executable} -m codeqa",
           "CODEQA_PYTHON": sys.executable, "SMOKE": "1"}
    sweep = ["bash", str(RECIPES / "gpu_sweep.sh"), str(numbered_dev), str(work), str(SAMPLE.parent)]
    prepared = subprocess.run(sweep, check=False, capture_output=True, text=True, env={**env, "PREPARE_ONLY": "1"},
                              timeout=600)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    assert not (work / "sweep.tsv").exists() and not (work / "base").exists()
    held_out = {name: [int(e.answer[1:]) for e in read_split(work / name, "python", "dev")]
                for name in ("real", "real_b3")}
    assert held_out == {"real": list(range(6001, 7001)), "real_b3": list(range(3001, 4001))}
    copied = tmp_path / "gpu_work"
    for name in ("real", "real_b3"):
        pretrain = copied / name / "python" / "pretrain"
        pretrain.mkdir(parents=True)
        for field in ("question", "answer", "code"):
            (pretrain / f"pretrain.{field}").write_bytes(
                (work / name / "python" / "pretrain" / f"pretrain.{field}").read_bytes())
    ran = subprocess.run(sweep[:3] + [str(copied)], check=False, capture_output=True, text=True, env=env,
                         timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "failed" not in ran.stderr
    for name in ("real", "real_b3"):  # the copied pairs were used, not generated again
        assert not (copied / name / "python" / "pretrain" / "stats.json").exists()
    header, *rows = [line.split("\t") for line in (copied / "sweep.tsv").read_text(encoding="utf-8").splitlines()]
    assert header[:3] == ["variant", "F1", "ROUGE-L"]
    table = {row[0]: row for row in rows}
    ensembles = {name for name in table if name.startswith("ensemble_")}
    assert ensembles == {"ensemble_base:seed_base+seed1", "ensemble_base_b3:seed_base+seed1"}
    assert set(table) - ensembles == {f"{shape}{slice_}" for shape in ("base", "wide") for slice_ in ("", "_b3")}
    for name, row in table.items():
        assert 0 <= float(row[1]) <= 100, row
        if name in ensembles:
            continue
        assert (copied / name / "pretrain" / "finished.json").is_file()  # both stages ran, as on the GPU
        assert (row[5] == "-") == (name not in ("base", "wide")), row  # a benchmark for each shape, on one slice
        grid = json.loads((copied / name / "decoding.json").read_text())["grid"]
        beams = {r["rerank"] for r in grid if r["beam_size"] > 1}
        assert "score" in beams if name.startswith("base") else beams == {"mbr"}  # base: the config's grid
    pooled = json.loads((copied / "ensemble_base" / "beams" / "scores.json").read_text())
    assert set(pooled) == {"seed_base", "seed1", "seed_base+seed1"}
