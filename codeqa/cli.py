"""The ``codeqa`` command line: one subcommand per job, each a thin layer over the library.

Each subcommand has an ``_add_<name>`` function that declares its arguments and a ``_run_<name>`` that
imports what it needs lazily (so ``codeqa --help`` stays fast and never imports torch needlessly).
A :class:`CodeQAError` becomes ``error: <message>`` on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import sys

from codeqa import __version__
from codeqa.errors import CodeQAError


# ---------------------------------------------------------------- build-vocab
def _add_build_vocab(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-vocab", help="build the JSON vocabulary from a training split",
                       description="Build the token vocabulary from one split (the training split: never "
                                   "from validation or test data) and save it as JSON.")
    p.add_argument("--data-dir", required=True, help="root of the CodeQA layout <data_dir>/<lang>/<split>/")
    p.add_argument("--lang", default="python")
    p.add_argument("--split", default="train")
    p.add_argument("--code-field", default="code", choices=["code", "code.original"],
                   help="read <split>.code (identifiers split into words) or <split>.code.original")
    p.add_argument("--min-freq", type=int, default=2, help="keep tokens seen at least this often (default 2)")
    p.add_argument("--max-size", type=int, default=50000, help="at most this many tokens, specials included")
    p.add_argument("--out", required=True, help="the vocabulary JSON file to write")
    p.set_defaults(run=_run_build_vocab)


def _run_build_vocab(args: argparse.Namespace) -> int:
    from codeqa.data import read_split
    from codeqa.vocab import Vocab

    examples = read_split(args.data_dir, args.lang, args.split, args.code_field)
    vocab = Vocab.build(examples, min_freq=args.min_freq, max_size=args.max_size)
    vocab.save(args.out)
    print(f"vocabulary of {len(vocab)} tokens from {len(examples)} {args.split} examples → {args.out}")
    return 0


# ---------------------------------------------------------------- the parser
SUBCOMMANDS = [_add_build_vocab]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codeqa", description="Train and run models that answer questions "
                                     "about source code (the CodeQA benchmark).")
    parser.add_argument("--version", action="version", version=f"codeqa {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        return args.run(args) or 0
    except CodeQAError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
