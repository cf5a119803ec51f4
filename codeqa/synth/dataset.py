"""Source tree → a CodeQA-layout dataset: find files, read functions, make pairs, split, write atomically."""

from __future__ import annotations

import ast
import gc
import io
import itertools
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import tokenize
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codeqa.codeformat import ParsedSource, has_real_body
from codeqa.data import PRETRAIN_SPLIT, SPLITS, write_split
from codeqa.errors import CodeQAError
from codeqa.fileio import write_json
from codeqa.qtypes import QUESTION_TYPES, question_type
from codeqa.synth.overlap import OverlapIndex
from codeqa.synth.questions import qa_pairs
from codeqa.synth.sources import SourceFile, find_files, read_sources, stdlib_root
from codeqa.synth.summaries import SUMMARY_QUESTION, summary_pair

GENERATOR = "codeqa make-dataset"
FIELDS = ("question", "answer", "code", "code.original")
PARSE_BATCH = 64          # files a worker parses per round: large enough to amortise the pickling
MAX_CODE_TOKENS = 400   # CodeQA's longest .code line has 258 tokens; longer functions are left out


@dataclass
class Function:
    code: str
    code_original: str
    pairs: list[tuple[str, str]]


def parse_functions(raw: bytes, filename: str, seed: int, summaries: bool = False) -> list[Function]:
    """The documented functions of one file's bytes that give at least one pair (with ``summaries``, a
    code → docstring pair too). Raises SyntaxError, UnicodeDecodeError, LookupError or ValueError for
    bytes that cannot be decoded or parsed."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    text = raw.decode(encoding)
    source = ParsedSource.parse(text, filename=filename)
    functions = []
    for node in _functions(source.tree):
        docstring = ast.get_docstring(node)
        if not docstring or not has_real_body(node):
            continue
        pairs = qa_pairs(docstring, seed=seed)
        summary = summary_pair(docstring) if summaries else None
        if summary:
            pairs.append(summary)
        if not pairs:
            continue
        code, code_original = source.function_code(node)
        if len(code.split()) > MAX_CODE_TOKENS:
            continue
        functions.append(Function(code, code_original, pairs))
    return functions


def _parse_or_reason(job: tuple[str, bytes | Exception, int, bool]) -> list[Function] | str:
    """One file's functions, or why it was skipped (a string: it crosses process boundaries as is)."""
    name, raw, seed, summaries = job
    try:
        if isinstance(raw, Exception):
            raise raw
        return parse_functions(raw, name, seed, summaries)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError, LookupError) as err:
        return f"{type(err).__name__}: {err}".splitlines()[0][:200]


def _parsed(files: list[SourceFile], seed: int, workers: int,
            summaries: bool) -> Iterator[tuple[SourceFile, list[Function] | str]]:
    """Each file with its functions or the reason it was skipped, in the order of ``files`` whatever the
    number of worker processes. Files are read here and parsed in batches, so that at most one batch of
    file contents is in flight.

    Before each batch, what the caller has kept so far is frozen (:func:`gc.freeze`): else the cyclic
    collector rescans the growing list of functions again and again while the parser allocates, which
    took 40% of a serial run over the standard library and site-packages (222 s → 138 s)."""
    jobs = ((file, (file.name, raw, seed, summaries)) for file, raw in read_sources(files))
    workers = min(workers or available_cores(), max(1, len(files) // PARSE_BATCH))
    try:
        if workers <= 1:
            while batch := list(itertools.islice(jobs, PARSE_BATCH)):
                gc.freeze()
                yield from ((file, _parse_or_reason(job)) for file, job in batch)
            return
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            while batch := list(itertools.islice(jobs, PARSE_BATCH * workers)):
                gc.freeze()
                results = pool.map(_parse_or_reason, [job for _, job in batch], chunksize=PARSE_BATCH // 4)
                yield from zip((file for file, _ in batch), results)
    finally:
        gc.unfreeze()


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _functions(tree: ast.AST):
    """Function nodes in source order, methods and nested functions included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node
        yield from _functions(node)


def parse_split(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` → shares of train, dev, test (non-negative, summing to 1)."""
    try:
        shares = tuple(float(part) for part in text.split(","))
    except ValueError:
        shares = ()
    if len(shares) != 3 or any(s < 0 for s in shares) or abs(sum(shares) - 1) > 1e-6:
        raise CodeQAError(f"--split must be three non-negative shares of train,dev,test summing to 1 "
                          f"(e.g. 0.8,0.1,0.1), got {text!r}")
    return shares  # type: ignore[return-value]


def _assign(functions: list[Function], shares: tuple[float, float, float], seed: int) -> dict[str, list]:
    """Shuffle the functions (random.Random(seed)) and cut them by the shares: a function, with all its
    pairs, lands in exactly one split. Every split with a share gets at least one function."""
    order = list(functions)
    random.Random(seed).shuffle(order)
    n = len(order)
    sizes = [round(n * s) for s in shares[1:]]
    sizes = [max(size, 1) if share > 0 else 0 for size, share in zip(sizes, shares[1:])]
    if n - sum(sizes) < (1 if shares[0] > 0 else 0):
        raise CodeQAError(f"only {n} usable function(s): too few to fill the train, dev and test splits")
    dev_end = n - sum(sizes) + sizes[0]
    train_end = n - sum(sizes)
    return {"train": order[:train_end], "dev": order[train_end:dev_end], "test": order[dev_end:]}


def make_dataset(sources: list[str], out: str | Path, lang: str = "python", seed: int = 0,
                 split: str = "0.8,0.1,0.1", with_test: bool = False,
                 exclude: OverlapIndex | None = None, pretrain_for: bool = False, workers: int = 0,
                 progress: bool = False, max_files: int = 0, summaries: bool = False) -> dict:
    """Build ``out/<lang>/<split>/<split>.{question,answer,code,code.original}`` and ``out/<lang>/stats.json``
    from the Python files under ``sources`` (``"stdlib"``: this interpreter's standard library).

    The same sources and seed give byte-identical files. Everything is written to a temporary folder
    beside the destination and renamed into place at the end, so a failure leaves nothing half-written.
    Returns the statistics that are also saved as ``stats.json``. With ``exclude``, functions that are
    near-duplicates of held-out examples are left out (and counted).

    With ``pretrain_for``, ``out`` is an existing dataset (real CodeQA data, say) and every pair goes into
    its ``pretrain`` split, ``out/<lang>/pretrain/`` (stats.json beside the files): the split that configs
    with ``pretrain_split: pretrain`` pre-train on. Only that folder is written or replaced.

    ``workers`` processes parse the files (0: one per available CPU core); the output does not depend on it.
    ``progress`` shows a progress bar of the files on stderr. With ``max_files``, at most that many of the
    files found are read: a sample drawn with ``seed``, in their listing order (it bounds the time and the
    size of the pre-training split over a large environment, such as a Kaggle image's packages).
    """
    shares = parse_split(split)
    if workers < 0:
        raise CodeQAError(f"--workers must be 0 (one per CPU core) or more, got {workers}")
    if max_files < 0:
        raise CodeQAError(f"--max-files must be 0 (every file) or more, got {max_files}")
    files, unlisted = find_files(sources)
    if not files:
        unreadable = "".join(f"; {u['path']}: {u['reason']}" for u in unlisted[:3])
        raise CodeQAError(f"no .py files found under {', '.join(sources)}{unreadable}")
    listed = len(files) + len(unlisted)
    if max_files and len(files) > max_files:
        files = [files[i] for i in sorted(random.Random(seed).sample(range(len(files)), max_files))]
    skipped: list[dict[str, str]] = list(unlisted)   # archives that could not be listed count as skipped
    functions: list[Function] = []
    seen_code: set[str] = set()
    excluded = 0
    parsed = _parsed(files, seed, workers, summaries)
    if progress:
        from tqdm import tqdm

        parsed = tqdm(parsed, total=len(files), desc="parse", unit="file", leave=False, file=sys.stderr,
                      mininterval=1.0 if sys.stderr.isatty() else 30.0)
    for file, found in parsed:
        if isinstance(found, str):
            skipped.append({"path": file.name, "reason": found})
            continue
        for function in found:
            if function.code_original in seen_code:   # the same code twice would leak across splits
                continue
            seen_code.add(function.code_original)
            if exclude is not None and exclude.contains(function.code_original):
                excluded += 1
                continue
            functions.append(function)
    if not functions:
        raise CodeQAError(f"no documented function under {', '.join(sources)} gave a question")
    if pretrain_for:  # all of them, shuffled like any split
        assigned, written = {PRETRAIN_SPLIT: _assign(functions, (1.0, 0.0, 0.0), seed)["train"]}, [PRETRAIN_SPLIT]
    else:
        assigned = _assign(functions, shares, seed)
        written = [s for s in SPLITS if assigned[s] and (s != "test" or with_test)]

    stats = {
        "generator": GENERATOR,
        "sources": [f"stdlib ({stdlib_root()})" if s == "stdlib" else s for s in sources],
        "lang": lang, "seed": seed, "with_test": with_test, "summaries": summaries,
        "split": {PRETRAIN_SPLIT: 1.0} if pretrain_for else dict(zip(SPLITS, shares)),
        "files": {"found": listed, "read": len(files) + len(unlisted) - len(skipped), "skipped": len(skipped),
                  **({"sampled": len(files)} if len(files) + len(unlisted) < listed else {})},
        "skipped_files": skipped,
        "excluded_near_duplicates": {"held_out_snippets": len(exclude), "functions": excluded} if exclude else None,
        "functions": {s: len(assigned[s]) for s in written},
        "pairs": {s: sum(len(f.pairs) for f in assigned[s]) for s in written},
        "question_types": {},
    }
    stats["pairs"]["total"] = sum(stats["pairs"].values())
    kinds = ("summary", *QUESTION_TYPES)  # a summary pair is counted apart from the "what" questions
    for s in written:
        counts = Counter("summary" if q == SUMMARY_QUESTION else question_type(q)
                         for f in assigned[s] for q, _ in f.pairs)
        stats["question_types"][s] = {t: counts[t] for t in kinds if counts[t]}
    total = Counter()
    for counts in stats["question_types"].values():
        total.update(counts)
    stats["question_types"]["total"] = {t: total[t] for t in kinds if total[t]}

    out = Path(out)
    if pretrain_for:
        if not (out / lang).is_dir():
            raise CodeQAError(f"--pretrain-for {out}: no {lang}/ folder there (expected a CodeQA-layout "
                              f"dataset: {out}/{lang}/<split>/<split>.question ...)")
        _write(out / lang / PRETRAIN_SPLIT, assigned, stats, "choose another dataset", split_folder=True)
    else:
        _write(out / lang, {s: assigned[s] for s in written}, stats, "choose another --out")
    return stats


def _write(final: Path, splits: dict[str, list[Function]], stats: dict, hint: str,
           split_folder: bool = False) -> None:
    """Write the splits and stats.json as ``final`` through a staging folder renamed into place, replacing an
    earlier ``final`` only if this command made it. ``final`` is a language folder (``<out>/python``, one
    subfolder a split), or with ``split_folder`` the folder of its one split (``<data>/python/pretrain``)."""
    if final.exists() and not _ours(final):
        raise CodeQAError(f"{final} exists and was not made by {GENERATOR}: refusing to replace it ({hint})")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        for name, functions in splits.items():
            rows = [{"question": q, "answer": a, "code": f.code, "code.original": f.code_original}
                    for f in functions for q, a in f.pairs]
            write_split(staging, "layout", name, rows)
        built = staging / "layout" / final.name if split_folder else staging / "layout"
        write_json(built / "stats.json", stats)
        old = staging / "old"
        if final.exists():
            final.rename(old)
        try:
            built.rename(final)
        except OSError:
            if old.exists():
                old.rename(final)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _ours(folder: Path) -> bool:
    """A folder this command wrote before (its stats.json says so), which a new run may replace."""
    import json

    try:
        return json.loads((folder / "stats.json").read_text(encoding="utf-8")).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def format_stats(stats: dict) -> str:
    """The statistics as a short text report: files, functions and pairs per split, question types."""
    files, splits = stats["files"], list(stats["functions"])
    read = f"read {files['read']} of {files['found']} files"
    if "sampled" in files:
        read += f" (a sample of {files['sampled']}: --max-files)"
    lines = [f"{read} ({files['skipped']} skipped: unreadable or not Python)"]
    lines += [f"  skipped {s['path']}: {s['reason']}" for s in stats["skipped_files"][:10]]
    if files["skipped"] > 10:
        lines.append(f"  ... and {files['skipped'] - 10} more (see stats.json)")
    excluded = stats.get("excluded_near_duplicates")
    if excluded:
        lines.append(f"left out {excluded['functions']} function(s): near-duplicates of "
                     f"{excluded['held_out_snippets']} held-out snippet(s)")
    lines.append(f"{'':20s}" + "".join(f"{s:>8s}" for s in splits) + f"{'total':>8s}{'share':>8s}")
    lines.append(f"{'functions':20s}" + "".join(f"{stats['functions'][s]:8d}" for s in splits)
                 + f"{sum(stats['functions'].values()):8d}")
    lines.append(f"{'QA pairs':20s}" + "".join(f"{stats['pairs'][s]:8d}" for s in splits)
                 + f"{stats['pairs']['total']:8d}")
    total = stats["question_types"]["total"]
    for qtype, count in total.items():
        per_split = "".join(f"{stats['question_types'][s].get(qtype, 0):8d}" for s in splits)
        lines.append(f"  {qtype:18s}{per_split}{count:8d}{100 * count / stats['pairs']['total']:7.1f}%")
    return "\n".join(lines)
