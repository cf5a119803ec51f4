"""``codeqa kaggle push | run | status | download``: the ``kaggle`` command line in a subprocess, its output
streamed with credentials masked, its failures (those it prints with exit status 0 too) stopped with its
message."""

from __future__ import annotations

import datetime
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from codeqa import __version__, runfiles
from codeqa.errors import CodeQAError
from codeqa.fileio import read_json, write_json
from codeqa.kaggle.credentials import CREDENTIALS_HELP, credential_source, redact, secret_values
from codeqa.kaggle.layout import CODE_FOLDER, DATA_FOLDER, FULL_OUT, KERNEL_FOLDER
from codeqa.kaggle.metadata import (
    check_ref,
    check_slug,
    title_for,
    validate_dataset_metadata,
    validate_kernel_metadata,
)
from codeqa.kaggle.prepare import DEFAULT_OUT
from codeqa.kaggle.summary import format_summary, summarize_run

# Failures the kaggle CLI prints while exiting with status 0 (a dataset that cannot be created, a push refused)
KAGGLE_FAILURE_RE = re.compile(r"(creation error|push error|^\s*error\b|\b4\d\d client error\b)",
                               re.IGNORECASE | re.MULTILINE)
PREPARE_HINT = "run `codeqa kaggle prepare` first"


def kaggle_executable(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    found = shutil.which("kaggle", path=env.get("PATH"))
    if found:
        return found
    sibling = Path(sys.executable).parent / "kaggle"
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    raise CodeQAError("the `kaggle` command is not installed (or not on PATH): pip install 'codeqa[kaggle]'")


def run_kaggle(args: Sequence[str], env: Mapping[str, str] | None = None, quiet: bool = False,
               check: bool = True) -> subprocess.CompletedProcess:
    """Run ``kaggle ARGS``, streaming its output with credentials masked; a clear error when it fails."""
    env = dict(os.environ if env is None else env)
    exe = kaggle_executable(env)
    if credential_source(env) is None:
        raise CodeQAError(CREDENTIALS_HELP)
    secrets = secret_values(env)
    shown = "kaggle " + shlex.join(list(args))
    if not quiet:
        print(f"$ {shown}", flush=True)
    proc = subprocess.Popen([exe, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace")
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = redact(line, secrets)
        lines.append(line)
        if not quiet:
            print(line, end="", flush=True)
    rc = proc.wait()
    output = "".join(lines)
    failed = rc != 0 or bool(KAGGLE_FAILURE_RE.search(output))
    if failed and check:
        tail = "".join(lines[-15:]).strip() or "(no output)"
        reason = f"exit status {rc}" if rc != 0 else "it reported an error"
        raise CodeQAError(f"`{shown}` failed ({reason}):\n{tail}")
    return subprocess.CompletedProcess([exe, *args], 1 if failed and rc == 0 else rc, output, "")


def push(upload_dir: str | Path = DEFAULT_OUT, message: str | None = None,
         env: Mapping[str, str] | None = None) -> list[str]:
    """Create both datasets, or add a new version to those that exist; returns the dataset ids."""
    upload_dir = Path(upload_dir)
    message = message or f"codeqa {__version__}, {datetime.date.today().isoformat()}"
    refs = []
    for folder_name in (CODE_FOLDER, DATA_FOLDER):
        folder = upload_dir / folder_name
        meta = read_json(folder / "dataset-metadata.json", PREPARE_HINT)
        validate_dataset_metadata(meta)
        ref = meta["id"]
        exists = run_kaggle(["datasets", "status", ref], env=env, quiet=True, check=False).returncode == 0
        if exists:
            run_kaggle(["datasets", "version", "-p", str(folder), "-m", message, "--dir-mode", "zip"],
                       env=env)
        else:
            run_kaggle(["datasets", "create", "-p", str(folder), "--dir-mode", "zip"], env=env)
        refs.append(ref)
    print(f"pushed {', '.join(refs)}; Kaggle processes new versions for a minute or two "
          f"(`codeqa kaggle status --upload-dir {upload_dir}`), "
          f"then: codeqa kaggle run --upload-dir {upload_dir}")
    return refs


def run(upload_dir: str | Path = DEFAULT_OUT, resume_from: str | None = None, kernel_slug: str | None = None,
        internet: bool | None = None, env: Mapping[str, str] | None = None) -> str:
    """Push the notebook as a kernel (which starts a run); ``resume_from`` adds an earlier run as input."""
    folder = Path(upload_dir) / KERNEL_FOLDER
    meta_path = folder / "kernel-metadata.json"
    meta = read_json(meta_path, PREPARE_HINT)
    if kernel_slug:
        check_slug(kernel_slug, "kernel", 5)
        meta["id"] = f"{meta['id'].split('/')[0]}/{kernel_slug}"
        meta["title"] = title_for(kernel_slug)
    if resume_from:
        check_ref(resume_from, "--resume-from")
        meta["kernel_sources"] = [resume_from]
    if internet is not None:
        meta["enable_internet"] = internet
    validate_kernel_metadata(meta, folder)
    if kernel_slug or resume_from or internet is not None:
        write_json(meta_path, meta)  # kept, so that status and download follow this kernel
        print(f"{meta_path}: id {meta['id']}, kernel_sources {meta['kernel_sources']}, "
              f"internet {'on' if meta['enable_internet'] else 'off'}")
    for ref in meta.get("dataset_sources", []):
        status = run_kaggle(["datasets", "status", ref], env=env, quiet=True, check=False)
        if status.returncode != 0 or "ready" not in status.stdout.lower():
            print(f"warning: dataset {ref} is not ready ({status.stdout.strip() or 'no status'}); "
                  "the run may start without it: `codeqa kaggle push` first", file=sys.stderr)
    # --accelerator as well as machine_shape: kaggle CLIs older than the flag ignore machine_shape too, and
    # Kaggle then hands out a P100 that today's torch cannot use; better to stop here with a clear message.
    try:
        run_kaggle(["kernels", "push", "-p", str(folder), "--accelerator", meta["machine_shape"]], env=env)
    except CodeQAError as err:
        if "unrecognized arguments" in str(err) and "--accelerator" in str(err):
            raise CodeQAError(f"{err}\nThis kaggle CLI is too old to ask for the GPU T4 x2 machine (it "
                              "would silently run on a P100, which today's torch cannot use): "
                              "pip install -U kaggle") from None
        raise
    ref = meta["id"]
    print(f"started {ref}: https://www.kaggle.com/code/{ref}\n"
          f"follow it with `codeqa kaggle status --upload-dir {upload_dir}`, "
          f"then `codeqa kaggle download --upload-dir {upload_dir}`")
    return ref


def _kernel_ref(upload_dir: str | Path, kernel: str | None) -> str:
    if kernel:
        return check_ref(kernel, "--kernel")
    meta = read_json(Path(upload_dir) / KERNEL_FOLDER / "kernel-metadata.json", PREPARE_HINT)
    return check_ref(str(meta.get("id", "")), "kernel-metadata.json id")


def status(upload_dir: str | Path = DEFAULT_OUT, kernel: str | None = None,
           env: Mapping[str, str] | None = None) -> str:
    ref = _kernel_ref(upload_dir, kernel)
    if kernel is None:
        for folder_name in (CODE_FOLDER, DATA_FOLDER):
            meta_path = Path(upload_dir) / folder_name / "dataset-metadata.json"
            if meta_path.is_file():
                dataset = read_json(meta_path, PREPARE_HINT)["id"]
                result = run_kaggle(["datasets", "status", dataset], env=env, quiet=True, check=False)
                print(f"dataset {dataset}: {result.stdout.strip() or '(no answer)'}")
    result = run_kaggle(["kernels", "status", ref], env=env, quiet=True)
    print(f"kernel {ref}: {result.stdout.strip()}")
    return result.stdout


def download_pattern(with_resume: bool = False) -> str:
    """The ``kaggle kernels output --file-pattern`` regex (matched against each output file's path) for what
    a user needs from the full run: the best model, its metrics, curves, log and decoding choice; with
    ``with_resume``, the whole run folder, whose last.pt and checkpoints continue it in a new session."""
    full = re.escape(FULL_OUT)
    if with_resume:
        return rf"^{full}/"
    needed = "|".join(re.escape(name) for name in (runfiles.METRICS, runfiles.CURVES, runfiles.LOGS,
                                                    runfiles.DECODING, runfiles.VOCAB))
    stage1 = "|".join(re.escape(name) for name in (runfiles.METRICS, runfiles.PRETRAIN_FINISHED))
    return rf"^{full}/(best_model_\w+\.pt|{needed}|{re.escape(runfiles.PRETRAIN_DIR)}/({stage1}))$"


def download(upload_dir: str | Path = DEFAULT_OUT, out: str | Path | None = None, kernel: str | None = None,
             with_resume: bool = False, env: Mapping[str, str] | None = None) -> Path:
    """Download what the kernel's full run left that a user needs (:func:`download_pattern`) into ``out``."""
    ref = _kernel_ref(upload_dir, kernel)
    out = Path(out) if out else Path("runs") / "kaggle" / ref.split("/")[1]
    out.mkdir(parents=True, exist_ok=True)
    try:
        run_kaggle(["kernels", "output", ref, "-p", str(out), "--file-pattern", download_pattern(with_resume)],
                   env=env)
    except CodeQAError as err:
        if "unrecognized arguments" in str(err) and "--file-pattern" in str(err):
            raise CodeQAError(f"{err}\nThis kaggle CLI is too old to download some of the outputs only: "
                              "pip install -U kaggle") from None
        raise
    run_dir = out / FULL_OUT
    print(format_summary(summarize_run(run_dir if run_dir.is_dir() else out)))
    return out
