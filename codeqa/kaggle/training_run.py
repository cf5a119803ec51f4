"""The Kaggle notebook's training cells: the pre-training pairs when the data has none, the two training
commands (a quick test, then the full run), running them with their output streamed into the notebook,
and continuing an earlier session's run."""

from __future__ import annotations

import codecs
import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from codeqa import runfiles
from codeqa.errors import CodeQAError
from codeqa.fileio import human_size, read_json, write_json
from codeqa.kaggle.layout import FULL_OUT, GENERATED_DATA_DIR, MODELS_DIR, QUICK_OUT
from codeqa.kaggle.session import Paths, find_files

# The 457k-pair pre-training runs read about this many files (docs/results.md); a Kaggle image holds
# several times more, so a seeded sample bounds the parsing and the pre-training epoch.
PRETRAIN_MAX_FILES = 65_000


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

    When the config pre-trains and the data has no such split, the pairs are generated here, as ``codeqa
    make-dataset --pretrain-for`` does, from ``sources`` (default: the standard library and this
    environment's installed packages, at most ``max_files`` of their files), decontaminated against the
    data's dev and test splits. The data itself is never written: the generated split goes into
    ``<work dir>/codeqa_data/``, beside links to the data's own files, and is reused while data, sources
    and ``max_files`` stay the same. Otherwise ``paths`` is returned unchanged.
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
    if split in available_splits(generated, paths.lang) and _recorded(marker) == origin:
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
    from codeqa.synth.dataset import format_stats, make_dataset
    from codeqa.synth.overlap import held_out_index

    try:
        stats = make_dataset(sources, generated, lang=paths.lang, exclude=held_out_index([generated], paths.lang),
                             pretrain_for=True, workers=workers, progress=True, max_files=max_files)
    except CodeQAError as err:
        raise CodeQAError(f"generating the {split} split failed ({err}): set GENERATE_PRETRAIN = False in cell 4 "
                          f"to train in one stage, or add a {split} split to the data with `codeqa make-dataset "
                          "--pretrain-for`") from None
    print(format_stats(stats), flush=True)
    write_json(marker, origin)
    return made


def _recorded(marker: Path) -> object:
    """What an earlier generation recorded in its marker, or None."""
    try:
        return read_json(marker)
    except CodeQAError:
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
    save_every: int = 0  # the full run's, so that its summary expects the numbered checkpoints it makes

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


def resolve_pretrained(name: str, code_dir: Path | None) -> str:
    """Where ``pretrained`` loads from here: a folder that exists, the one of that name bundled in the code
    dataset (``codeqa kaggle prepare --pretrained DIR``), else a hub name, checked now: without Internet it
    stops with one line saying what to do."""
    from codeqa.models.hf_seq2seq import check_pretrained

    if Path(name).is_dir():
        return name
    bundled = code_dir / MODELS_DIR / Path(name).name if code_dir is not None else None
    if bundled is not None and bundled.is_dir():
        print(f"pretrained: {name} → the bundled folder {bundled}")
        return str(bundled)
    check_pretrained(name)
    return name


def plan_training(paths: Paths, config: str, full_epochs: int = 20, quick_epochs: int = 1,
                  overrides: Mapping[str, object] | Sequence[str] | None = None,
                  quick_overrides: Mapping[str, object] | Sequence[str] | None = None,
                  nproc: int = 0) -> Plan:
    """Both training commands: the quick test into ``codeqa_quick/``, the full run into ``codeqa_full/``. The
    config is loaded with the overrides first, so that a bad setting stops here, before any training."""
    from codeqa.config import load_config

    overrides, quick_overrides = as_settings(overrides), as_settings(quick_overrides)
    if paths.data_dir is None:
        raise CodeQAError("no data folder: run the 'Setup files' and 'Verify data' cells first")
    full_config = load_config(config, [*overrides, f"epochs={int(full_epochs)}"])
    load_config(config, [*overrides, *quick_overrides, f"epochs={int(quick_epochs)}"])
    if full_config.model == "hf_seq2seq":
        pretrained = resolve_pretrained(full_config.pretrained, paths.code_dir)
        if pretrained != full_config.pretrained:
            overrides = [*overrides, f"pretrained={pretrained}"]
    if nproc <= 0:
        nproc = max(1, visible_gpus())
    quick_out = paths.work_dir / QUICK_OUT
    full_out = paths.work_dir / FULL_OUT
    common = {"vocab": paths.vocab, "nproc": nproc}
    quick = train_command(config, paths.data_dir, quick_out, epochs=quick_epochs,
                          overrides=[*overrides, *quick_overrides], **common)
    full = train_command(config, paths.data_dir, full_out, epochs=full_epochs, overrides=overrides,
                         resume="auto", **common)
    return Plan(quick, full, quick_out, full_out, nproc, full_config.save_every)


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


def remove_checkpoints(out_dir: Path) -> int:
    """Delete the ``.pt`` files of a run that is no longer needed (the quick test once it has passed), so that
    the notebook's output stays small; returns how many bytes that freed."""
    freed = 0
    for path in sorted(Path(out_dir).rglob("*.pt")):
        freed += path.stat().st_size
        path.unlink()
    print(f"removed the checkpoints of {out_dir} ({human_size(freed)}); its log and metrics stay")
    return freed


def restore_previous_run(input_root: Path | None, out_dir: Path, run_name: str = FULL_OUT) -> Path | None:
    """Copy an earlier session's outputs (from a kernel added as input) into ``out_dir`` before resuming.

    ``codeqa kaggle run --resume-from owner/kernel`` adds the earlier run's output under ``/kaggle/input``;
    its ``<run_name>/`` files (a ``last.pt``, or a finished pre-training stage) are copied here, never over
    existing files, so that ``--resume auto`` continues it. Does nothing when ``out_dir`` has a run of its own.
    """
    out_dir = Path(out_dir)
    pre_dir = runfiles.PRETRAIN_DIR
    marks = (out_dir / runfiles.LAST, out_dir / pre_dir / runfiles.LAST, out_dir / pre_dir / runfiles.PRETRAIN_FINISHED)
    if input_root is None or any(mark.is_file() for mark in marks):
        return None
    runs = {}  # run folder → its newest mark: last.pt, or pretrain/last.pt or finished.json of a two-stage run
    found = find_files(Path(input_root), runfiles.LAST) + find_files(Path(input_root), runfiles.PRETRAIN_FINISHED)
    for path in found:
        run = path.parent if path.parent.name == run_name else path.parent.parent
        if run.name == run_name and (path.parent == run or path.parent.name == pre_dir):
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
