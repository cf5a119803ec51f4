# %% [markdown]
# # CodeQA on Kaggle: train a model that answers questions about code
#
# Generated from `notebooks/kaggle_train.py` by `python build_notebook.py`: edit the `.py`, not the `.ipynb`.
#
# Before running: **Settings → Accelerator → GPU T4 x2**, and add the two datasets made by
# `codeqa kaggle prepare` (code + data) as inputs; `codeqa kaggle run` does both for you. Internet may be off:
# everything installs from the code dataset. Every cell calls the `codeqa` package; no model or training
# code lives here. Outputs go to `/kaggle/working/codeqa_quick` (cell 6) and `/kaggle/working/codeqa_full`
# (cell 7). Off Kaggle, set `CODEQA_DATA` (data folder) and `CODEQA_WORK_DIR` (outputs) before starting.

# %% [markdown]
# ## 1. Install packages

# %%
import glob
import importlib
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import zipfile

ON_KAGGLE = bool(os.environ.get("KAGGLE_KERNEL_RUN_TYPE"))
BUNDLE = "/kaggle/working/codeqa_bundle/code"


def pip_install(wheels, find_links):
    """Exactly these wheels, --no-deps and --no-index: Kaggle's CUDA torch is never touched, nothing is
    downloaded (works with Internet off)."""
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                             "--force-reinstall", "--find-links", find_links, *wheels],
                            check=False, capture_output=True, text=True)
    print(result.stdout + result.stderr)  # into the notebook: a child's own output would go to the server log
    if result.returncode != 0:
        raise RuntimeError(f"pip could not install {', '.join(map(os.path.basename, wheels))} (output above)")
    importlib.invalidate_caches()


def code_bundle(root="/kaggle/input"):
    """The folder with CODEQA_CODE.json: mounted by Kaggle, or extracted from codeqa_code.zip. From a zip,
    the codeqa wheel (the one member read before codeqa is installed, by its exact name) is installed first,
    so that codeqa's own checked extraction unpacks the rest."""
    for pattern in (f"{root}/**/CODEQA_CODE.json", f"{BUNDLE}/CODEQA_CODE.json"):
        found = glob.glob(pattern, recursive=True)
        if found:
            return os.path.dirname(min(found, key=len))
    zips = sorted(glob.glob(f"{root}/**/codeqa_code.zip", recursive=True), key=len)
    if not zips:
        raise FileNotFoundError(f"no CODEQA_CODE.json or codeqa_code.zip under {root}: add the code dataset "
                                "made by `codeqa kaggle prepare` to this notebook (Add Input)")
    with zipfile.ZipFile(zips[0]) as archive:
        name = next(n for n in archive.namelist() if re.fullmatch(r"wheels/codeqa-[\w.+!]+-py3-none-any\.whl", n))
        os.makedirs(BUNDLE, exist_ok=True)
        wheel = os.path.join(BUNDLE, os.path.basename(name))
        with open(wheel, "wb") as handle:
            handle.write(archive.read(name))
    pip_install([wheel], BUNDLE)
    from codeqa.kaggle.archive import safe_extract

    safe_extract(zips[0], BUNDLE)
    return BUNDLE


if ON_KAGGLE:
    # codeqa is always (re)installed; a bundled dependency only when Kaggle's image lacks it
    wheel_dir = os.path.join(code_bundle(), "wheels")
    wheels = []
    for wheel in sorted(glob.glob(os.path.join(wheel_dir, "*.whl"))):
        name = os.path.basename(wheel).split("-")[0]
        try:
            importlib.metadata.version(name)
            present = name != "codeqa"
        except importlib.metadata.PackageNotFoundError:
            present = False
        if not present:
            wheels.append(wheel)
    print("installing:", ", ".join(os.path.basename(w) for w in wheels), flush=True)
    pip_install(wheels, wheel_dir)
elif importlib.util.find_spec("codeqa") is None:
    raise ModuleNotFoundError("codeqa is not installed here: run `pip install -e .` in the repository")
else:
    print("codeqa is already importable: nothing to install")

from codeqa.kaggle import session, summary, training_run  # noqa: E402 - installed just above

N_GPUS = session.print_runtime_report()

# %% [markdown]
# ## 2. Setup files

# %%
paths = session.setup_paths()
print(paths.describe())

# %% [markdown]
# ## 3. Verify data

# %%
data_summary = session.verify_data(paths)

# %% [markdown]
# ## 4. Configuration
#
# The only cell to edit. `CONFIG` is a bundled config (`quick`, `small`, `kaggle_t4`, `paper_lstm`, or a
# pretrained CodeT5: `codet5_small`, `codet5p_220m`, which need Internet or `codeqa kaggle prepare --pretrained
# DIR`) or a YAML path;
# `OVERRIDES` are config settings for both runs (e.g. `{"batch_size": 64}`; each becomes `--set key=value`),
# `QUICK_OVERRIDES` only for the quick test. `NPROC = 0` starts one process per visible GPU.
# `GENERATE_PRETRAIN`: when `CONFIG` pre-trains (`kaggle_t4` does) and the data has no `pretrain` split, cell 5
# first generates one from the docstrings of this machine's standard library and installed packages.

# %% tags=["parameters"]
CONFIG = "kaggle_t4"
FULL_EPOCHS = 20
QUICK_EPOCHS = 1
OVERRIDES = {}
QUICK_OVERRIDES = {"max_train_examples": 5000, "max_valid_examples": 500, "pretrain_epochs": 1, "tune_beam_sizes": ""}
NPROC = 0
RUN_QUICK_TEST = True
RUN_FULL_TRAINING = True
GENERATE_PRETRAIN = True

# %% [markdown]
# ## 5. Build command

# %%
if GENERATE_PRETRAIN:
    paths = training_run.add_pretrain_split(paths, CONFIG, OVERRIDES)
plan = training_run.plan_training(paths, CONFIG, full_epochs=FULL_EPOCHS, quick_epochs=QUICK_EPOCHS,
                                overrides=OVERRIDES, quick_overrides=QUICK_OVERRIDES, nproc=NPROC)
print(plan.describe())

# %% [markdown]
# ## 6. Quick test
#
# `QUICK_EPOCHS` on a sample of the data (`QUICK_OVERRIDES`), without the decoding grid, to see the whole
# pipeline work in minutes. Once it has passed, its checkpoints are deleted (its log and metrics stay).

# %%
if RUN_QUICK_TEST:
    training_run.run_command(plan.quick_cmd, cwd=paths.work_dir)
    summary.show_summary(plan.quick_out, expected=("last.pt", "metrics.jsonl", "logs.txt"))
    training_run.remove_checkpoints(plan.quick_out)
else:
    print("skipped (RUN_QUICK_TEST = False)")

# %% [markdown]
# ## 7. Full training
#
# `FULL_EPOCHS` epochs of `CONFIG` (with `OVERRIDES`).
# With `kaggle_t4` and a `pretrain` split (generated pairs: in the data, or made by cell 5), this first
# pre-trains on the generated pairs (`codeqa_full/pretrain/`), then fine-tunes on the real ones.
# `--resume auto` continues from `last.pt` of whichever stage was running: after a session ends, run the
# notebook again (or `codeqa kaggle run --resume-from OWNER/KERNEL`, whose earlier output is copied in first).

# %%
status = 0
if RUN_FULL_TRAINING:
    training_run.restore_previous_run(paths.input_root, plan.full_out)
    status = training_run.run_command(plan.full_cmd, cwd=paths.work_dir, check=False)
else:
    print("skipped (RUN_FULL_TRAINING = False)")
summary.show_summary(plan.full_out, plan.save_every)
if status != 0:
    raise RuntimeError(f"training stopped with exit status {status}: see its output above and "
                       f"{plan.full_out / 'logs.txt'}")
