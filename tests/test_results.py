"""The committed measured runs (results/) agree with what results/README.md, docs/results.md and the README's
results table say of them."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codeqa.data import read_split
from codeqa.metrics import normalize_answer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
RESULTS_DOC = ROOT / "docs" / "results.md"
RUNS = sorted(p for p in RESULTS.iterdir() if p.is_dir())


def table_scores() -> dict[str, list[float]]:
    """folder name → the F1 / ROUGE-L / EM / BLEU its row in results/README.md states."""
    rows = {}
    for line in (RESULTS / "README.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `([\w.-]+)/` \|.*\| ([\d.]+) / ([\d.]+) / ([\d.]+) / ([\d.]+) \|$", line)
        if match:
            rows[match.group(1)] = [float(x) for x in match.groups()[1:]]
    return rows


def test_every_run_has_a_row_and_only_those():
    assert RUNS and set(table_scores()) == {p.name for p in RUNS}


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_row_states_the_runs_own_scores(run):
    overall = json.loads((run / "dev_chosen.json").read_text())["overall"]
    measured = [round(overall[k], 1) for k in ("f1", "rouge_l", "exact_match", "bleu")]
    assert table_scores()[run.name] == measured


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_chosen_decoding_is_the_grids_best_f1_and_was_evaluated(run):
    report = json.loads((run / "decoding.json").read_text())
    best = max(report["grid"], key=lambda r: (r["f1"], r["rouge_l"]))
    assert report["chosen"] == {k: best[k] for k in ("beam_size", "length_penalty", "rerank")}
    evaluated = json.loads((run / "dev_chosen.json").read_text())
    assert (evaluated["beam_size"], evaluated["rerank"]) == (best["beam_size"], best["rerank"])
    assert evaluated["overall"]["count"] == report["examples"] == 1000


@pytest.mark.parametrize("run", [p for p in RUNS if (p / "metrics.jsonl").is_file()], ids=lambda p: p.name)
def test_fine_tuning_curve_selects_its_best_epoch(run):
    curve = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    best = max(curve, key=lambda r: r["val_f1"])
    assert curve[-1]["best_epoch"] == best["epoch"] == json.loads((run / "decoding.json").read_text())["epoch"]


def test_readme_rows_are_measured_runs():
    """Each measured row of the README's results table states the scores of a committed run, or of a row of
    docs/results.md (the runs measured before results/ kept their files); the reference rows are other
    systems'."""
    measured = {tuple(round(json.loads((run / "dev_chosen.json").read_text())["overall"][k], 1)
                      for k in ("f1", "rouge_l", "exact_match", "bleu")) for run in RUNS}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Results"):readme.index("## More")]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) >= 3
    doc = RESULTS_DOC.read_text(encoding="utf-8").replace("**", "")
    for row in rows:
        cells = [cell.strip().strip("*") for cell in row.strip("|").split("|")]
        scores = tuple(float(x) for x in cells[1:5])
        assert scores in measured or f"| {' | '.join(cells[1:5])} |" in doc, row


def test_share_of_answer_words_in_neither_question_nor_code(real_data_root):
    """docs/results.md's reason the targets are out of reach, recomputed: the share of the 1,000 held-out answers'
    words (lower-cased, as F1 compares them) that occur in neither their question nor their code."""
    held_out = read_split(real_data_root, "python", "dev")[6000:]  # recipes/split_dev.sh: lines 6001-7000
    assert len(held_out) == 1000
    total = missing = 0
    for example in held_out:
        seen = set(normalize_answer(example.question).split()) | set(normalize_answer(example.code).split())
        words = normalize_answer(example.answer).split()
        total += len(words)
        missing += sum(word not in seen for word in words)
    stated = re.search(r"(\d+)% of the held-out answer\s+words", RESULTS_DOC.read_text(encoding="utf-8"))
    assert stated and int(stated.group(1)) == round(100 * missing / total)


def test_yes_no_counts_of_the_split(real_data_root):
    """docs/results.md's point on exact match: CodeQA's yes/no answers cluster in the dev file's first 1,000."""
    answers = [normalize_answer(e.answer) for e in read_split(real_data_root, "python", "dev")]
    yes_no = [i for i, answer in enumerate(answers) if answer in ("yes", "no")]
    assert len(yes_no) == 201 and sum(i < 1000 for i in yes_no) == 117
    assert [answers[i] for i in yes_no if i >= 6000] == ["no"] * 5
    doc = " ".join(RESULTS_DOC.read_text(encoding="utf-8").split())
    stated = re.search(r"(\d+) of its (\d+) are in the first 1,000 examples, (\d+) \(all \"no\"\) in the last", doc)
    assert stated and [int(n) for n in stated.groups()] == [117, 201, 5]


def test_sibling_answer_shares_of_the_held_out_slices(real_data_root, tmp_path):
    """docs/results.md's note that each question is answered alone: how many held-out answers sit in another
    question about the same code, on the last 1,000 and on examples 3,001-4,000, recomputed."""
    found = []
    for block in ("6", "3"):
        data = tmp_path / block
        subprocess.run(["bash", str(ROOT / "recipes" / "split_dev.sh"), str(real_data_root), str(data), block],
                       check=True)
        run = subprocess.run([sys.executable, str(ROOT / "recipes" / "sibling_answers.py"), str(data)],
                             check=True, capture_output=True, text=True)
        found.append(re.search(r"(\d+) share their code .*?; (\d+) \(([\d.]+)%\)", run.stdout).groups())
    doc = " ".join(RESULTS_DOC.read_text(encoding="utf-8").split())
    (shared, last, last_share), (_, _, block3_share) = found
    assert (f"{shared} share their code with another question, and {last} ({last_share}%; {block3_share}% for "
            "examples 3,001-4,000)") in doc


@pytest.mark.parametrize("curve_file, suffix", [("learning_curve_small_cpu_frozen.json", ""),
                                                ("learning_curve_small_cpu.json", ", embeddings fine-tuned too")])
def test_learning_curve_table_states_the_measured_points(curve_file, suffix):
    """docs/results.md's learning-curve table: the F1, ROUGE-L and EM of each point and the extrapolation, as
    recipes/learning_curve.py wrote them, for `small` as it ships and as it was before freezing the embeddings."""
    curve = json.loads((RESULTS / curve_file).read_text())
    doc = RESULTS_DOC.read_text(encoding="utf-8")
    for key, label in (("f1", "F1"), ("rouge_l", "ROUGE-L"), ("exact_match", "EM")):
        row = re.search(rf"^\| {re.escape(label + suffix)} \|(.*)\|$", doc, re.MULTILINE)
        assert row, label + suffix
        cells = [cell.strip() for cell in row.group(1).split("|")]
        assert cells[:4] == [f"{p[key]:.1f}" for p in curve["points"]]
        if key != "exact_match":
            assert cells[4] == f"{curve['extrapolation'][key]['at_56085']:.1f}"
    assert (RESULTS / curve_file).with_suffix(".png").is_file()


def test_lever_table_states_each_runs_files():
    """The rows of docs/results.md's #22 table that name a results/ folder state its pre-training curve (where it
    ran one), its greedy F1 / ROUGE-L and its chosen decoding's F1 / ROUGE-L / EM / BLEU."""
    row = re.compile(r"^\| [^|]+ \| ([^|]+) \| ([\d.]+) / ([\d.]+) \| ([\d.]+) / ([\d.]+) / ([\d.]+) / ([\d.]+) \| "
                     r"`results/([\w.-]+)/` \|$", re.MULTILINE)
    rows = row.findall(RESULTS_DOC.read_text(encoding="utf-8"))
    assert len(rows) >= 8
    for pretraining, *scores, name in rows:
        run = RESULTS / name
        greedy = json.loads((run / "dev_greedy.json").read_text())["overall"]
        chosen = json.loads((run / "dev_chosen.json").read_text())["overall"]
        assert [float(x) for x in scores] == [round(greedy["f1"], 1), round(greedy["rouge_l"], 1)] + [
            round(chosen[k], 1) for k in ("f1", "rouge_l", "exact_match", "bleu")], name
        curve = run / "pretrain" / "metrics.jsonl"
        if curve.is_file():
            stated = [float(x) for x in pretraining.split(", ")]
            assert stated == [round(json.loads(line)["val_f1"], 1) for line in curve.read_text().splitlines()], name


@pytest.mark.parametrize("name", ["seed_study_small_cpu.json", "seed_study_dropout_six_seeds_small_cpu.json"])
def test_seed_study_table_states_each_seeds_scores(name):
    """docs/results.md's seed-study tables: for each slice and fine-tuning, the chosen F1 / ROUGE-L of each seed, their
    mean and the greedy mean, as recipes/seed_study.py wrote them (gathered in one results/ file per table)."""
    study = json.loads((RESULTS / name).read_text())
    doc = RESULTS_DOC.read_text(encoding="utf-8")
    rows = 0
    for slice_name, entry in study["slices"].items():
        for arm in entry["arms"].values():
            seeds, means = arm["seeds"], arm["over_seeds"]
            cells = [f"{row['chosen']['f1']:.2f} / {row['chosen']['rouge_l']:.2f}" for row in seeds.values()]
            cells += [f"{means[kind]['f1']['mean']:.2f} / {means[kind]['rouge_l']['mean']:.2f}"
                      for kind in ("chosen", "greedy")]
            row = f"| {slice_name} | {arm['label']} | {' | '.join(cells)} |"
            assert row in doc, row
            rows += 1
    assert rows >= 4


def test_gpu_sweep_ensembles_add_up_to_what_the_results_doc_says():
    """results/gpu_sweep_h200.json: each member's chosen score is the better of its greedy and beam-16 MBR rows, the
    members' mean and the pooled gain follow from them, the rule's verdict from the gain, and docs/results.md
    states the same numbers."""
    sweep = json.loads((RESULTS / "gpu_sweep_h200.json").read_text())
    doc = RESULTS_DOC.read_text(encoding="utf-8")
    for ensemble in sweep["ensembles"].values():
        members = list(ensemble["members"].values())
        assert len(members) == 6
        for member in members:
            rows = [{k: member[row][k] for k in ("f1", "rouge_l")} for row in ("greedy_bf16", "beam16_mbr_fp32")]
            assert member["chosen"] == max(rows, key=lambda r: (r["f1"], r["rouge_l"]))
        mean = {k: round(sum(m["chosen"][k] for m in members) / 6, 2) for k in ("f1", "rouge_l")}
        six = ensemble["pooled_mbr_six"]
        assert ensemble["members_mean_chosen"] == mean
        assert ensemble["gain_six_over_members_mean"] == {k: round(six[k] - mean[k], 2) for k in mean}
        assert ensemble["rule_passed"] == (six["f1"] - mean["f1"] >= 0.5 and six["rouge_l"] >= mean["rouge_l"])
        assert f"| {six['f1']:.2f} / {six['rouge_l']:.2f} |" in doc
        assert f"| {mean['f1']:.2f} / {mean['rouge_l']:.2f} |" in doc
    assert [e["rule_passed"] for e in sweep["ensembles"].values()] == [False, True]
