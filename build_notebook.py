#!/usr/bin/env python3
"""Render notebooks/kaggle_train.ipynb from its jupytext source notebooks/kaggle_train.py.

    python build_notebook.py           # write the .ipynb (only when it changed)
    python build_notebook.py --check   # exit 1 when the committed .ipynb is stale against the source

The .py (jupytext percent format) is what is edited, linted and reviewed; the .ipynb is generated. The
output is reproducible: fixed cell ids, only the ``tags`` cell metadata, a fixed kernelspec, no outputs,
so rebuilding an unchanged source gives a byte-identical file. The structure Kaggle users rely on is
checked on every build: seven code cells, each under a markdown heading, the fourth tagged ``parameters``.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "notebooks" / "kaggle_train.py"
TARGET = ROOT / "notebooks" / "kaggle_train.ipynb"
HEADINGS = ("Install packages", "Setup files", "Verify data", "Configuration", "Build command",
            "Quick test", "Full training")
PARAMETERS_CELL = 4  # 1-based index of the code cell tagged "parameters"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


class NotebookError(Exception):
    pass


def render(source: Path = SOURCE) -> str:
    """The .ipynb text for ``source``: validated nbformat 4 JSON with a trailing newline."""
    import jupytext
    import nbformat
    from nbformat import v4

    parsed = jupytext.read(source, fmt="py:percent")
    cells = []
    counts = {"code": 0, "markdown": 0}
    for cell in parsed.cells:
        kind = cell.cell_type
        if kind not in counts:
            raise NotebookError(f"{source}: unexpected {kind} cell")
        counts[kind] += 1
        cell_id = f"{kind}-{counts[kind]:02d}"
        tags = list(cell.metadata.get("tags", []))
        metadata = {"tags": tags} if tags else {}
        if kind == "code":
            cells.append(v4.new_code_cell(cell.source, id=cell_id, metadata=metadata))
        else:
            cells.append(v4.new_markdown_cell(cell.source, id=cell_id, metadata=metadata))
    nb = v4.new_notebook(cells=cells, metadata={"kernelspec": dict(KERNELSPEC),
                                                "language_info": {"name": "python"}})
    check_structure(nb, source)
    nbformat.validate(nb)
    return nbformat.writes(nb, version=4) + "\n"


def check_structure(nb, source: Path) -> None:
    """Seven code cells, in order, each right after a markdown cell whose heading names it."""
    code_positions = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    if len(code_positions) != len(HEADINGS):
        raise NotebookError(f"{source}: {len(code_positions)} code cells, expected {len(HEADINGS)}")
    for number, (position, heading) in enumerate(zip(code_positions, HEADINGS), start=1):
        previous = nb.cells[position - 1] if position else None
        first_line = previous.source.splitlines()[0] if previous is not None and previous.source else ""
        if previous is None or previous.cell_type != "markdown" or first_line != f"## {number}. {heading}":
            raise NotebookError(f"{source}: code cell {number} must follow a markdown cell starting with "
                                f"'## {number}. {heading}' (found {first_line!r})")
        tagged = "parameters" in nb.cells[position].metadata.get("tags", [])
        if tagged != (number == PARAMETERS_CELL):
            raise NotebookError(f"{source}: only code cell {PARAMETERS_CELL} may be tagged 'parameters' "
                                f"(cell {number} {'is' if tagged else 'is not'})")


def write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the .ipynb is stale; write nothing")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--target", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    try:
        text = render(args.source)
    except NotebookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.check:
        current = args.target.read_text(encoding="utf-8") if args.target.is_file() else ""
        if current == text:
            print(f"{args.target} is up to date with {args.source}")
            return 0
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(args.target), "rendered",
                                    lineterm="")
        print("\n".join(list(diff)[:40]), file=sys.stderr)
        print(f"error: {args.target} is stale against {args.source}: run `python build_notebook.py` and "
              "commit both files", file=sys.stderr)
        return 1
    changed = write_if_changed(args.target, text)
    print(f"{'wrote' if changed else 'unchanged:'} {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
