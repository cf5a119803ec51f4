"""Reading the CodeQA layout: ``<data_dir>/<lang>/<split>/<split>.{question,code,answer}``.

The three files are line-aligned, one example a line; the last line may lack its newline. ``.code`` has
identifiers split into words, ``.code.original`` keeps them (``code_field="code.original"``). Every
problem is reported as a :class:`CodeQAError` naming the file, and the line where there is one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from codeqa.errors import CodeQAError

log = logging.getLogger("codeqa")

CODE_FIELDS = ("code", "code.original")
SPLITS = ("train", "dev", "test")
PRETRAIN_SPLIT = "pretrain"  # generated pairs to pre-train on (`codeqa make-dataset --pretrain-for`)
REQUIRED_SPLITS = ("train", "dev")  # what training reads


@dataclass(frozen=True)
class Example:
    question: str
    code: str
    answer: str


def split_dir(data_dir: str | Path, lang: str, split: str) -> Path:
    return Path(data_dir) / lang / split


def split_file(data_dir: str | Path, lang: str, split: str, field: str) -> Path:
    return split_dir(data_dir, lang, split) / f"{split}.{field}"


def available_splits(data_dir: str | Path, lang: str) -> list[str]:
    root = Path(data_dir) / lang
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / f"{p.name}.question").is_file())


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 file, without their newlines; a missing final newline is fine.

    Lines are split on ``\\n`` only: ``str.splitlines`` would also split on characters such as form
    feed or U+2028 that occur inside code and would break the alignment of the files.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CodeQAError(f"{path}: file not found") from None
    except OSError as err:
        raise CodeQAError(f"{path}: cannot read ({err.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise CodeQAError(
            f"{path}:{line}: bytes that are not UTF-8 ({err.reason} at byte {err.start}); "
            "CodeQA files must be UTF-8 text"
        ) from None
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write: not part of the first word
    if "\x00" in text:
        raise CodeQAError(f"{path}:{text.count(chr(10), 0, text.index(chr(0))) + 1}: a NUL byte; CodeQA files must "
                          "be text, one example a line")
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_split(
    data_dir: str | Path, lang: str = "python", split: str = "train", code_field: str = "code",
    keep_empty: bool = False,
) -> list[Example]:
    """Read one split, validated. Examples with an empty question or answer are dropped with a warning
    (nothing to learn from), unless ``keep_empty``: then every line is an example, as answering needs."""
    if code_field not in CODE_FIELDS:
        raise CodeQAError(f"code_field must be one of {', '.join(CODE_FIELDS)}, got {code_field!r}")
    directory = split_dir(data_dir, lang, split)
    if not directory.is_dir():
        found = available_splits(data_dir, lang)
        hint = f"splits found there: {', '.join(found)}" if found else "no splits found there"
        raise CodeQAError(
            f"{directory}: split folder not found (expected <data_dir>/{lang}/{split}/{split}.question, "
            f".code, .answer; {hint})"
        )
    fields = {"question": "question", "code": code_field, "answer": "answer"}
    columns = {name: read_lines(directory / f"{split}.{suffix}") for name, suffix in fields.items()}
    counts = {directory / f"{split}.{fields[name]}": len(lines) for name, lines in columns.items()}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{path} has {n} lines" for path, n in counts.items())
        raise CodeQAError(f"{directory}: the files of split {split!r} are not line-aligned: {detail}")
    if not columns["question"]:
        raise CodeQAError(f"{directory}: split {split!r} is empty (0 examples)")
    examples = []
    dropped = 0
    for question, code, answer in zip(columns["question"], columns["code"], columns["answer"]):
        if not question.strip() or not answer.strip():
            dropped += 1
            if not keep_empty:
                continue
        examples.append(Example(question.strip(), code.strip(), answer.strip()))
    if dropped:
        what = "kept, one line each," if keep_empty else "dropped"
        log.warning("%s: %s %d example(s) with an empty question or answer", directory, what, dropped)
    if not examples:
        raise CodeQAError(f"{directory}: split {split!r} has no example with a question and an answer")
    return examples


def write_split(data_dir: str | Path, lang: str, split: str, rows: list[dict[str, str]]) -> Path:
    """Write a split in the CodeQA layout (each row maps field name → one-line text), atomically per file.

    The files end without a trailing newline, like CodeQA's own.
    """
    from codeqa.fileio import write_text

    directory = split_dir(data_dir, lang, split)
    if not rows:
        raise CodeQAError(f"{directory}: refusing to write an empty split")
    for field in rows[0]:
        values = []
        for row in rows:
            value = row[field]
            if "\n" in value:
                raise ValueError(f"{field} value contains a newline: {value[:60]!r}")
            values.append(value)
        write_text(directory / f"{split}.{field}", "\n".join(values))
    return directory
