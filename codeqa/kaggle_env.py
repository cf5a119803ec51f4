"""What the Kaggle notebook runs: find the datasets, check the data, build and run the training command.

``notebooks/kaggle_train.py`` is a thin sequence of calls into this module, so that the logic is tested
here rather than inside a notebook. It imports only the standard library at import time (torch is imported
lazily), and never touches credentials.

Where things are:

* On Kaggle (``KAGGLE_KERNEL_RUN_TYPE`` is set) the code and data datasets are found by searching
  ``/kaggle/input`` for their marker files (``CODEQA_CODE.json``, ``CODEQA_DATA.json``): datasets mount at
  ``/kaggle/input/datasets/<owner>/<slug>/`` today and at ``/kaggle/input/<slug>/`` in older setups, and
  Kaggle may or may not have extracted the uploaded zip. When only the zip is there it is extracted into
  ``/kaggle/working/codeqa_bundle/``. Outputs go to ``/kaggle/working``.
* Elsewhere the data comes from ``$CODEQA_DATA`` (or ``data/`` of the repository checkout) and outputs go to
  ``$CODEQA_WORK_DIR`` (or ``runs/kaggle_notebook/``).
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from codeqa.errors import CodeQAError
from codeqa.fileio import human_size, write_json

KAGGLE_INPUT = Path("/kaggle/input")
KAGGLE_WORKING = Path("/kaggle/working")
CODE_MARKER = "CODEQA_CODE.json"
DATA_MARKER = "CODEQA_DATA.json"
CODE_ZIP = "codeqa_code.zip"
DATA_ZIP = "codeqa_data.zip"
VOCAB_FILE = "vocab.json"
BUNDLE_DIR = "codeqa_bundle"  # under the work dir: where zips that Kaggle did not extract are extracted
QUICK_OUT = "codeqa_quick"
FULL_OUT = "codeqa_full"
EXPECTED_OUTPUTS = ("best_model_python.pt", "checkpoint_epoch10.pt", "checkpoint_epoch20.pt",
                    "training_curves.png", "logs.txt")
REQUIRED_SPLITS = ("train", "dev")
MAX_SEARCH_DEPTH = 7
STAGE1_DIR = "pretrain"  # = codeqa.train.PRETRAIN_DIR, not imported: importing train loads torch
GENERATED_DATA_DIR = "codeqa_data"  # under the work dir: the data with a generated pretrain split
# The 457k-pair runs that lift kaggle_t4 most read 64,755 files (README, "Results"); a Kaggle image holds
# several times more, so a sample of this many bounds the parsing (minutes) and the pre-training epoch.
PRETRAIN_MAX_FILES = 65_000


def on_kaggle(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("KAGGLE_KERNEL_RUN_TYPE"))


def repo_root() -> Path | None:
    """The repository checkout this package runs from (an editable install), or None."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "codeqa").is_dir() else None


# ---------------------------------------------------------------- finding things
def find_files(root: Path, name: str, max_depth: int = MAX_SEARCH_DEPTH) -> list[Path]:
    """Every file called ``name`` under ``root`` (at most ``max_depth`` folders down), shallowest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found: list[Path] = []
    base_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        depth = len(Path(dirpath).parts) - base_depth
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < max_depth else []
        if name in filenames:
            found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: (len(p.parts), str(p)))


def safe_extract(zip_path: Path, dest: Path) -> Path:
    """Extract a zip into ``dest``, refusing members that are absolute or climb out with ``..``."""
    dest = Path(dest)
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.namelist():
            pure = PurePosixPath(member)
            if pure.is_absolute() or ".." in pure.parts or "\\" in member or ":" in member:
                raise CodeQAError(f"{zip_path}: refusing to extract {member!r}: it would land outside {dest}")
        dest.mkdir(parents=True, exist_ok=True)
        archive.extractall(dest)
    return dest


def find_bundle(input_root: Path, marker: str, zip_name: str, extract_to: Path) -> Path | None:
    """The folder with ``marker``: as Kaggle mounted it, or extracted from ``zip_name`` to ``extract_to``."""
    markers = find_files(input_root, marker)
    if markers:
        return markers[0].parent
    if (extract_to / marker).is_file():  # extracted by an earlier run of this cell
        return extract_to
    zips = find_files(input_root, zip_name)
    if not zips:
        return None
    print(f"extracting {zips[0]} → {extract_to}")
    safe_extract(zips[0], extract_to)
    markers = find_files(extract_to, marker)
    return markers[0].parent if markers else None


def find_raw_layout(root: Path, lang: str = "python") -> Path | None:
    """A folder holding ``<lang>/train/train.question`` (data uploaded without ``codeqa kaggle prepare``)."""
    for question in find_files(root, "train.question"):
        candidate = question.parent.parent.parent
        if question.parent.name == "train" and question.parent.parent.name == lang:
            return candidate
    return None


# ---------------------------------------------------------------- cell 2: setup files
@dataclass
class Paths:
    """Where the notebook reads and writes; ``searched`` says where the data was looked for."""

    on_kaggle: bool
    work_dir: Path
    data_dir: Path | None
    code_dir: Path | None = None
    input_root: Path | None = None
    lang: str = "python"
    searched: list[str] = field(default_factory=list)

    @property
    def vocab(self) -> Path | None:
        if self.data_dir is None:
            return None
        for candidate in (self.data_dir / VOCAB_FILE, self.data_dir / self.lang / VOCAB_FILE):
            if candidate.is_file():
                return candidate
        return None

    def describe(self) -> str:
        not_found = f"(not found; looked in {', '.join(self.searched)})"
        lines = [f"running on Kaggle: {'yes' if self.on_kaggle else 'no'}",
                 f"code bundle:  {self.code_dir or '(not needed: codeqa is installed)'}",
                 f"data:         {self.data_dir or not_found}",
                 f"vocabulary:   {self.vocab or '(none: training builds the one its config asks for)'}",
                 f"outputs:      {self.work_dir}"]
        return "\n".join(lines)


def setup_paths(env: Mapping[str, str] | None = None, input_root: Path = KAGGLE_INPUT,
                kaggle_working: Path = KAGGLE_WORKING, lang: str = "python") -> Paths:
    """Find the code and data and make the output folder; never fails (``verify_data`` reports problems)."""
    env = os.environ if env is None else env
    if on_kaggle(env):
        work = Path(kaggle_working)
        work.mkdir(parents=True, exist_ok=True)
        bundles = work / BUNDLE_DIR
        code = find_bundle(input_root, CODE_MARKER, CODE_ZIP, bundles / "code")
        data = (find_bundle(input_root, DATA_MARKER, DATA_ZIP, bundles / "data")
                or find_raw_layout(input_root, lang))
        searched = [f"{input_root} (for {DATA_MARKER}, {DATA_ZIP} or {lang}/train/train.question)"]
        return Paths(True, work, data, code, Path(input_root), lang, searched)

    root = repo_root()
    searched = []
    data = None
    if env.get("CODEQA_DATA"):
        searched.append(f"$CODEQA_DATA={env['CODEQA_DATA']}")
        data = Path(env["CODEQA_DATA"]).expanduser()
    elif root is not None:
        searched.append(f"{root / 'data'} (set CODEQA_DATA to use another folder)")
        data = root / "data"
    else:
        searched.append("$CODEQA_DATA (not set)")
    if env.get("CODEQA_WORK_DIR"):
        work = Path(env["CODEQA_WORK_DIR"]).expanduser()
    else:
        work = (root or Path.cwd()) / "runs" / "kaggle_notebook"
    work.mkdir(parents=True, exist_ok=True)
    data = data.resolve() if data is not None else None
    return Paths(False, work.resolve(), data, None, None, lang, searched)


# ---------------------------------------------------------------- cell 1: runtime report
def runtime_report() -> tuple[str, int]:
    """A description of Python, torch, CUDA and the visible GPUs, and how many GPUs there are."""
    import codeqa

    lines = [f"python {sys.version.split()[0]}",
             f"codeqa {codeqa.__version__} from {Path(codeqa.__file__).parent}"]
    try:
        import torch
    except ImportError:
        return "\n".join([*lines, "torch: NOT INSTALLED"]), 0
    lines.append(f"torch {torch.__version__}, built for CUDA {torch.version.cuda or '(none: CPU build)'}")
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    arch_list = torch.cuda.get_arch_list() if n else []
    for i in range(n):
        props = torch.cuda.get_device_properties(i)
        major, minor = props.major, props.minor
        line = (f"GPU {i}: {props.name}, {props.total_memory / 2**30:.1f} GiB, "
                f"compute capability {major}.{minor}")
        if arch_list and f"sm_{major}{minor}" not in arch_list and not any(
                a.startswith(f"sm_{major}") for a in arch_list):
            line += (f"  ← WARNING: this torch build has no kernels for sm_{major}{minor} "
                     f"(it has {', '.join(arch_list)}); pick GPU T4 x2")
        lines.append(line)
    if n == 0:
        lines += ["", "!" * 78,
                  "!!  NO GPU VISIBLE: training would run on the CPU and take days.",
                  "!!  On Kaggle: Settings → Accelerator → GPU T4 x2, then run the notebook again.",
                  "!" * 78]
    return "\n".join(lines), n


def print_runtime_report() -> int:
    text, n = runtime_report()
    print(text, flush=True)
    return n


# ---------------------------------------------------------------- cell 3: verify data
def verify_data(paths: Paths) -> dict:
    """Count the examples of each split and load the vocabulary; a clear error when something is missing."""
    from codeqa.data import PRETRAIN_SPLIT, SPLITS, read_split, split_file
    from codeqa.vocab import Vocab

    where = "; ".join(paths.searched) or "nowhere"
    if paths.data_dir is None or not paths.data_dir.is_dir():
        hint = ("add the data dataset made by `codeqa kaggle prepare` to this notebook (Add Input)"
                if paths.on_kaggle else "set CODEQA_DATA to a folder in the CodeQA layout")
        raise CodeQAError(f"data folder not found (looked in {where}); expected "
                          f"<data>/{paths.lang}/{{train,dev}}/<split>.{{question,code,answer}}: {hint}")
    missing = [str(split_file(paths.data_dir, paths.lang, split, "question")) for split in REQUIRED_SPLITS
               if not split_file(paths.data_dir, paths.lang, split, "question").is_file()]
    if missing:
        raise CodeQAError(f"in {paths.data_dir} (found by looking in {where}): missing {', '.join(missing)} "
                          f"(training needs the {' and '.join(REQUIRED_SPLITS)} splits)")
    counts = {}
    for split in (*SPLITS, PRETRAIN_SPLIT):
        if split in REQUIRED_SPLITS or split_file(paths.data_dir, paths.lang, split, "question").is_file():
            counts[split] = len(read_split(paths.data_dir, paths.lang, split))
    summary: dict = {"data_dir": str(paths.data_dir), "counts": counts, "vocab": None, "vocab_size": None}
    print(f"data: {paths.data_dir}")
    for split, n in counts.items():
        print(f"  {paths.lang}/{split}: {n:,} examples")
    if PRETRAIN_SPLIT not in counts:
        print("  (no pretrain split: when CONFIG pre-trains, as kaggle_t4 does, cell 5 generates one from the "
              "standard library and the installed packages, GENERATE_PRETRAIN; or add one with `codeqa "
              "make-dataset --source stdlib PACKAGES_DIR --pretrain-for DATA_DIR` before `codeqa kaggle prepare`)")
    vocab_path = paths.vocab
    if vocab_path is not None:
        vocab = Vocab.load(vocab_path)
        summary.update(vocab=str(vocab_path), vocab_size=len(vocab))
        print(f"vocabulary: {len(vocab):,} tokens from {vocab_path}")
    else:
        print(f"vocabulary: none in {paths.data_dir} ({VOCAB_FILE}); training builds the one its config asks "
              "for from the train (and pretrain) splits")
    return summary


# ---------------------------------------------------------------- cell 5: pre-training pairs, the command
def package_dirs() -> list[str]:
    """This interpreter's installed-package folders (site-packages / dist-packages) that exist."""
    import site
    import sysconfig

    found = [*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return [d for d in dict.fromkeys(str(Path(d).resolve()) for d in found) if Path(d).is_dir()]


def add_pretrain_split(paths: Paths, config: str, overrides: Mapping[str, object] | Sequence[str] | None = None,
                       sources: Sequence[str] | None = None, max_files: int = PRETRAIN_MAX_FILES,
                       workers: int = 0) -> Paths:
    """``paths`` with a data folder that has the pretrain split ``config`` pre-trains on.

    When the config pre-trains and the data has no such split, the pairs are generated here with
    ``codeqa make-dataset --pretrain-for`` from ``sources`` (default: the standard library and this
    environment's installed packages, at most ``max_files`` of their files), decontaminated against the
    data's dev and test splits. The data itself is never written: the generated split goes into
    ``<work dir>/codeqa_data/``, beside links to the data's own files, and is reused while data, sources and ``max_files`` stay the same.
    Otherwise ``paths`` is returned unchanged.
    """
    from codeqa.config import load_config
    from codeqa.data import SPLITS, available_splits

    if paths.data_dir is None:
        raise CodeQAError("no data folder: run the 'Setup files' and 'Verify data' cells first")
    settings = load_config(config, as_settings(overrides))
    split = settings.pretrain_split
    if not (split and settings.pretrain_epochs):
        print(f"config {config} does not pre-train: no pre-training pairs needed")
        return paths
    if split in available_splits(paths.data_dir, paths.lang):
        print(f"the data has a {split} split: pre-training uses it")
        return paths
    generated = paths.work_dir / GENERATED_DATA_DIR
    sources = list(sources) if sources is not None else ["stdlib", *package_dirs()]
    origin = {"data_dir": str(paths.data_dir), "sources": sources, "max_files": max_files}
    marker = generated / "GENERATED_FROM.json"
    made = dataclasses.replace(paths, data_dir=generated)
    if split in available_splits(generated, paths.lang) and _read_json_or_none(marker) == origin:
        print(f"using the {split} split generated earlier: {generated / paths.lang / split}")
        return made
    if generated.exists():
        shutil.rmtree(generated)
    for name in SPLITS:  # links to the data's own files: nothing is copied, the data is never written
        source_dir = paths.data_dir / paths.lang / name
        if source_dir.is_dir():
            (generated / paths.lang / name).mkdir(parents=True)
            for item in sorted(source_dir.iterdir()):
                (generated / paths.lang / name / item.name).symlink_to(item.resolve())
    if paths.vocab is not None:
        link = generated / paths.vocab.relative_to(paths.data_dir)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(paths.vocab.resolve())
    print(f"the data has no {split} split and {config} pre-trains: generating one from {', '.join(sources)}"
          f" (at most {max_files:,} files)", flush=True)
    status = run_command([sys.executable, "-m", "codeqa", "make-dataset", "--source", *sources, "--pretrain-for",
                          str(generated), "--lang", paths.lang, "--max-files", str(max_files),
                          "--workers", str(workers)], check=False)
    if status != 0:
        raise CodeQAError(f"generating the {split} split failed (exit status {status}; its output is above): "
                          "set GENERATE_PRETRAIN = False in cell 4 to train in one stage, or add a "
                          f"{split} split to the data with `codeqa make-dataset --pretrain-for`")
    write_json(marker, origin)
    return made


def _read_json_or_none(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def visible_gpus() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def train_command(config: str, data_dir: Path, out_dir: Path, *, vocab: Path | None = None,
                  epochs: int | None = None, overrides: Sequence[str] = (), nproc: int = 1,
                  resume: str | None = None, python: str | None = None,
                  torchrun: str | None = None) -> list[str]:
    """The exact ``codeqa train`` command: ``torchrun --nproc_per_node=N -m codeqa train ...`` for N > 1."""
    python = python or sys.executable
    if nproc > 1:
        if torchrun is None:
            torchrun = shutil.which("torchrun")
        launcher = ([torchrun] if torchrun else [python, "-m", "torch.distributed.run"])
        cmd = [*launcher, f"--nproc_per_node={nproc}", "-m", "codeqa", "train"]
    else:
        cmd = [python, "-m", "codeqa", "train"]
    cmd += ["--config", str(config), "--data-dir", str(data_dir), "--out-dir", str(out_dir)]
    if vocab is not None:
        cmd += ["--vocab", str(vocab)]
    settings = [f"epochs={int(epochs)}"] if epochs is not None else []
    settings += [str(s) for s in overrides]
    for item in settings:
        if "=" not in item:
            raise CodeQAError(f"config override {item!r}: expected key=value")
        cmd += ["--set", item]
    if resume:
        cmd += ["--resume", resume]
    return cmd


@dataclass
class Plan:
    quick_cmd: list[str]
    full_cmd: list[str]
    quick_out: Path
    full_out: Path
    nproc: int

    def describe(self) -> str:
        return "\n".join([
            f"processes: {self.nproc}" + (" (one per GPU, with torchrun)" if self.nproc > 1 else ""),
            f"quick test (cell 6) → {self.quick_out}", "  " + shlex.join(self.quick_cmd),
            f"full training (cell 7) → {self.full_out}", "  " + shlex.join(self.full_cmd)])


def as_settings(overrides: Mapping[str, object] | Sequence[str] | None) -> list[str]:
    """``{"batch_size": 64}`` or ``["batch_size=64"]`` → ``["batch_size=64"]`` (for ``--set``)."""
    if not overrides:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={'' if value is None else value}" for key, value in overrides.items()]
    if isinstance(overrides, str):
        return [overrides]
    return [str(item) for item in overrides]


def plan_training(paths: Paths, config: str, full_epochs: int = 20, quick_epochs: int = 1,
                  overrides: Mapping[str, object] | Sequence[str] | None = None,
                  quick_overrides: Mapping[str, object] | Sequence[str] | None = None,
                  nproc: int = 0) -> Plan:
    """Both training commands: the quick test into ``codeqa_quick/``, the full run into ``codeqa_full/``."""
    overrides, quick_overrides = as_settings(overrides), as_settings(quick_overrides)
    if paths.data_dir is None:
        raise CodeQAError("no data folder: run the 'Setup files' and 'Verify data' cells first")
    if nproc <= 0:
        nproc = max(1, visible_gpus())
    quick_out = paths.work_dir / QUICK_OUT
    full_out = paths.work_dir / FULL_OUT
    common = {"vocab": paths.vocab, "nproc": nproc}
    quick = train_command(config, paths.data_dir, quick_out, epochs=quick_epochs,
                          overrides=[*overrides, *quick_overrides], **common)
    full = train_command(config, paths.data_dir, full_out, epochs=full_epochs, overrides=overrides,
                         resume="auto", **common)
    return Plan(quick, full, quick_out, full_out, nproc)


# ---------------------------------------------------------------- cells 6-7: running
def run_command(cmd: Sequence[str], cwd: Path | None = None, check: bool = True) -> int:
    """Run ``cmd``, streaming its output (progress bars included) into the notebook as it comes."""
    print("$ " + shlex.join(cmd), flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(65536):
            sys.stdout.write(decoder.decode(chunk))
            sys.stdout.flush()
        sys.stdout.write(decoder.decode(b"", final=True))
        rc = proc.wait()
    except BaseException:  # the cell was interrupted: stop the training too
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    if rc != 0 and check:
        raise CodeQAError(f"command failed with exit status {rc}: {shlex.join(cmd)}")
    return rc


def restore_previous_run(input_root: Path | None, out_dir: Path, run_name: str = FULL_OUT) -> Path | None:
    """Copy an earlier session's outputs (from a kernel added as input) into ``out_dir`` before resuming.

    ``codeqa kaggle run --resume-from owner/kernel`` adds the earlier run's output under ``/kaggle/input``;
    its ``<run_name>/last.pt`` and the files beside it are copied here (never over existing files), so
    ``--resume auto`` continues from the last checkpoint. Does nothing when ``out_dir`` has a ``last.pt``.
    """
    out_dir = Path(out_dir)
    if input_root is None or (out_dir / "last.pt").is_file() or (out_dir / STAGE1_DIR / "last.pt").is_file():
        return None
    runs = {}  # run folder → its newest last.pt (a two-stage run may only have reached pretrain/last.pt)
    for path in find_files(Path(input_root), "last.pt"):
        run = path.parent if path.parent.name == run_name else path.parent.parent
        if run.name == run_name and (path.parent == run or path.parent.name == STAGE1_DIR):
            runs[run] = max(runs.get(run, 0.0), path.stat().st_mtime)
    if not runs:
        return None
    source = max(runs, key=runs.get)
    out_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for item in sorted(source.rglob("*")):  # with pretrain/, the first stage of a two-stage run
        target = out_dir / item.relative_to(source)
        if item.is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(item, target)
            copied.append(item.relative_to(source).as_posix())
    print(f"resuming from the earlier run in {source}: copied {', '.join(copied) or 'nothing'} → {out_dir}")
    return source


def final_metrics(out_dir: Path) -> dict | str | None:
    """The last line of ``metrics.jsonl`` (parsed when it is JSON), or None."""
    path = Path(out_dir) / "metrics.jsonl"
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return None
    if not lines:
        return None
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        return lines[-1]


def summarize_run(out_dir: Path, expected: Sequence[str] = EXPECTED_OUTPUTS) -> dict:
    """What a run left: expected files present / missing, other files, final metrics. Never raises."""
    out_dir = Path(out_dir)
    try:
        files = {p.name: p.stat().st_size for p in sorted(out_dir.iterdir()) if p.is_file()}
    except OSError:
        files = {}
    return {"out_dir": str(out_dir),
            "present": {name: files[name] for name in expected if name in files},
            "missing": [name for name in expected if name not in files],
            "other": {name: size for name, size in files.items() if name not in expected},
            "metrics": final_metrics(out_dir), "decoding": decoding_choice(out_dir)}


def decoding_choice(out_dir: Path) -> dict | None:
    """The decoding (beam size, length penalty, rerank) chosen on validation F1 (decoding.json) with its
    scores, or None."""
    try:
        report = json.loads((Path(out_dir) / "decoding.json").read_text(encoding="utf-8"))
        chosen = {"beam_size": report["chosen"]["beam_size"], "length_penalty": report["chosen"]["length_penalty"],
                  "rerank": report["chosen"].get("rerank", "score")}  # runs before reranking have no rerank
        row = next(r for r in report["grid"] if {k: r.get(k, "score") for k in chosen} == chosen)
        return {**chosen, "f1": float(row["f1"]), "rouge_l": float(row["rouge_l"])}
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None


def format_summary(summary: dict) -> str:
    lines = [f"outputs in {summary['out_dir']}:"]
    lines += [f"  {name:28s} {human_size(size)}" for name, size in summary["present"].items()]
    lines += [f"  {name:28s} {human_size(size)}" for name, size in summary["other"].items()]
    if summary["missing"]:
        lines.append(f"missing: {', '.join(summary['missing'])}")
    metrics = summary["metrics"]
    if metrics is None:
        lines.append("final metrics: none (no metrics.jsonl yet)")
    elif isinstance(metrics, dict):
        lines.append("final metrics (last line of metrics.jsonl):")
        lines += [f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}"
                  for key, value in metrics.items()]
    else:
        lines.append(f"final metrics (last line of metrics.jsonl, not JSON): {metrics}")
    decoding = summary.get("decoding")
    if decoding:
        lines.append(f"decoding chosen on validation F1: beam {decoding['beam_size']}, length penalty "
                     f"{decoding['length_penalty']}, rerank {decoding['rerank']} (F1 {decoding['f1']:.2f}, ROUGE-L {decoding['rouge_l']:.2f}); "
                     "stored in best_model_*.pt")
    return "\n".join(lines)


def show_summary(out_dir: Path, expected: Sequence[str] = EXPECTED_OUTPUTS) -> dict:
    """Show training_curves.png (inside a notebook), the final metrics and the files; never raises."""
    summary = summarize_run(out_dir, expected)
    curves = Path(out_dir) / "training_curves.png"
    if curves.is_file():
        try:
            from IPython import get_ipython
            from IPython.display import Image, display
        except ImportError:  # not in a notebook: the file list below names it
            get_ipython = None
        try:
            if get_ipython is not None and get_ipython() is not None:
                display(Image(filename=str(curves)))
        except Exception as err:  # noqa: BLE001 - a summary must never crash after hours of training
            print(f"(cannot display {curves}: {err})")
    print(format_summary(summary), flush=True)
    return summary
