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
from codeqa.config import config_names
from codeqa.errors import CodeQAError
from codeqa.rerank import RERANKS


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, as codeqa's own are."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def at_least(low: float, kind: type = int):
    """An argparse type: a number of ``kind`` that is at least ``low``."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {text}")
        return value

    return parse


# ---------------------------------------------------------------- build-vocab
def _add_build_vocab(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-vocab", help="build the JSON vocabulary from a training split",
                       description="Build the token vocabulary from one split (the training split: never "
                                   "from validation or test data) and save it as JSON.")
    p.add_argument("--data-dir", required=True, action="append",
                   help="root of the CodeQA layout <data_dir>/<lang>/<split>/; repeat it to pool several "
                        "datasets' training splits (e.g. generated pre-training data and CodeQA)")
    p.add_argument("--lang", default="python", help="the language folder under each data dir (default python)")
    p.add_argument("--split", default="train", help="the split to count tokens in (default train)")
    p.add_argument("--code-field", default="code", choices=["code", "code.original"],
                   help="read <split>.code (identifiers split into words) or <split>.code.original")
    p.add_argument("--min-freq", type=at_least(1), default=2, help="keep tokens seen at least this often (default 2)")
    p.add_argument("--kind", choices=["word", "bpe"], default="word",
                   help="word: the whitespace-separated words; bpe: subword pieces (the config key vocab_type)")
    p.add_argument("--max-size", type=at_least(5), default=50000, help="at most this many tokens, specials included")
    p.add_argument("--out", required=True, help="the vocabulary JSON file to write")
    p.set_defaults(run=_run_build_vocab)


def _run_build_vocab(args: argparse.Namespace) -> int:
    from codeqa.data import read_split
    from codeqa.vocab import build_vocab

    examples = [ex for data_dir in args.data_dir for ex in read_split(data_dir, args.lang, args.split,
                                                                        args.code_field)]
    vocab = build_vocab(examples, args.kind, min_freq=args.min_freq, max_size=args.max_size)
    vocab.save(args.out)
    print(f"vocabulary of {len(vocab)} tokens from {len(examples)} {args.split} examples → {args.out}")
    return 0


# ---------------------------------------------------------------- train
def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="kaggle_t4",
                   help=f"a bundled config ({', '.join(config_names())}) or a YAML file (default kaggle_t4)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set epochs=2 (repeatable; unknown keys are an error)")


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (single process, or one per GPU under torchrun)",
                       description="Train on <data-dir>/<lang>/train, validate on <data-dir>/<lang>/dev. "
                                   "Multi-GPU: torchrun --nproc_per_node=N -m codeqa train ...")
    _add_config_args(p)
    p.add_argument("--data-dir", required=True, help="root of the CodeQA layout <data-dir>/<lang>/<split>/")
    p.add_argument("--out-dir", required=True,
                   help="where the checkpoints, metrics.jsonl, logs.txt and curves go (one run at a time)")
    p.add_argument("--vocab", help="a vocabulary JSON (default: built from the training splits by the config's "
                                   "min_freq and max_vocab)")
    p.add_argument("--resume", metavar="auto|PATH",
                   help="continue from a checkpoint; auto = the newest in --out-dir (or start fresh if none)")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from codeqa.config import load_config
    from codeqa.training import train

    config = load_config(args.config, args.overrides)
    train(config, args.data_dir, args.out_dir, vocab_path=args.vocab, resume=args.resume)
    return 0


# ---------------------------------------------------------------- evaluate
def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="decode a split with a checkpoint and score the answers",
                       description="Write one predicted answer a line (aligned with the split) and print "
                                   "F1, ROUGE-L, exact match, official BLEU and sacreBLEU, by question type.")
    p.add_argument("--checkpoint", required=True, help="a model saved by `codeqa train` (best_model_<lang>.pt)")
    p.add_argument("--data-dir", required=True, help="root of the CodeQA layout <data-dir>/<lang>/<split>/")
    p.add_argument("--lang", default=None, help="default: the checkpoint's")
    p.add_argument("--split", default="test", help="the split to answer (default test)")
    p.add_argument("--beam", type=at_least(1), default=None,
                   help="beam size (default: the checkpoint's config; 1 = greedy)")
    p.add_argument("--length-penalty", type=at_least(0, float), default=None,
                   help="a finished answer scores log-probability / length ** this (default: the checkpoint's)")
    p.add_argument("--rerank", choices=RERANKS, default=None,
                   help="which beam hypothesis answers: score (the beam's best) or mbr (the one that agrees "
                        "most with the others, by token F1); default: the checkpoint's config")
    p.add_argument("--no-repeat-ngram-size", type=at_least(0), default=None, metavar="N",
                   help="no answer repeats N tokens in a row (1: no word twice; 0: no limit); default: the "
                        "checkpoint's config")
    p.add_argument("--batch-size", type=at_least(1), default=None,
                   help="examples decoded at once (default: the checkpoint config's decode_batch_size)")
    p.add_argument("--out", required=True, help="the predictions file to write")
    p.add_argument("--metrics-out", help="also save the metrics as JSON here")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from codeqa.evaluate import evaluate

    evaluate(args.checkpoint, args.data_dir, args.split, args.out, metrics_out=args.metrics_out, lang=args.lang,
             beam_size=args.beam, length_penalty=args.length_penalty, rerank=args.rerank,
             no_repeat_ngram_size=args.no_repeat_ngram_size, batch_size=args.batch_size, device=args.device)
    return 0


# ---------------------------------------------------------------- bench
def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure training and decoding speed; prints one JSON line",
                       description="Time training steps and greedy / beam decoding of a config on this machine "
                                   "(examples/s, tokens/s, peak GPU memory) and print them as one JSON line.")
    _add_config_args(p)
    p.add_argument("--data-dir", required=True, help="root of the CodeQA layout: its train split is timed")
    p.add_argument("--steps", type=at_least(1), default=50, help="timed training steps")
    p.add_argument("--warmup", type=at_least(0), default=None,
                   help="untimed training steps first (default 10, or 40 with compile_mode: enough to compile "
                        "every graph)")
    p.add_argument("--decode-examples", type=at_least(0), default=None,
                   help="validation examples to decode, cycled (default 16384 on a GPU, 512 on a CPU; 0: "
                        "time training alone)")
    p.add_argument("--checkpoint", help="time decoding with this trained model (default: the benchmark's own)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--profile", metavar="FILE",
                   help="also profile 20 training steps and write torch.profiler's table of the operators "
                        "that cost the most host time (where a GPU that is not kept busy loses its time)")
    p.set_defaults(run=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    import json

    from codeqa.bench import run_bench
    from codeqa.config import load_config

    config = load_config(args.config, args.overrides)
    print(json.dumps(run_bench(config, args.data_dir, steps=args.steps, warmup=args.warmup,
                               decode_examples=args.decode_examples, device=args.device,
                               checkpoint=args.checkpoint, profile=args.profile)))
    return 0


# ---------------------------------------------------------------- kaggle
def _add_kaggle(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kaggle", help="package for Kaggle, upload, run the notebook, fetch its outputs",
                       description="Kaggle automation. prepare builds the upload folder; push, run, status and "
                                   "download call the `kaggle` command line (pip install 'codeqa[kaggle]').")
    actions = p.add_subparsers(dest="kaggle_command", metavar="ACTION", required=True, help="the step to run")
    upload_help = "the folder made by `codeqa kaggle prepare` (default kaggle_upload)"

    a = actions.add_parser("prepare", help="build codeqa_code.zip, codeqa_data.zip and the upload folders",
                           description="Build the upload folder: the code dataset (codeqa's wheel, its "
                                       "dependencies, the configs and the notebook), the data dataset (the "
                                       "validated splits) and the kernel (the notebook and its metadata for a "
                                       "GPU T4 x2). Nothing is uploaded.")
    a.add_argument("--data-dir", required=True, help="CodeQA layout root: <data-dir>/<lang>/{train,dev[,test]}/")
    a.add_argument("--owner", help="your Kaggle user name (default: $KAGGLE_USERNAME)")
    a.add_argument("--out", default="kaggle_upload", help="where to write (default kaggle_upload)")
    a.add_argument("--internet", action=argparse.BooleanOptionalAction, default=False,
                   help="turn the notebook's Internet on (default off: everything it needs is bundled)")
    a.add_argument("--lang", default="python", help="the language folder of the data to ship (default python)")
    a.add_argument("--vocab", help="vocabulary JSON to ship (default <data-dir>/vocab.json, else none: training "
                                   "builds the one its config asks for)")
    a.add_argument("--wheels-from", metavar="DIR",
                   help="take the dependency wheels (sacrebleu, portalocker, colorama, tabulate) from DIR "
                        "instead of downloading them")
    a.add_argument("--wheel-cache", metavar="DIR", help="download cache (default <out>/.wheel-cache)")
    a.add_argument("--no-deps-wheels", dest="deps_wheels", action="store_false",
                   help="bundle only the codeqa wheel (the notebook then needs Internet or Kaggle's packages)")
    a.add_argument("--resume-from", metavar="OWNER/KERNEL", action="append", default=[],
                   help="add an earlier run's output as kernel source; the notebook resumes from its last.pt")
    a.add_argument("--code-slug", default="codeqa-code", help="the code dataset's slug (default codeqa-code)")
    a.add_argument("--data-slug", default="codeqa-data", help="the data dataset's slug (default codeqa-data)")
    a.add_argument("--kernel-slug", default="codeqa-train", help="the notebook's slug (default codeqa-train)")
    a.add_argument("--license", default="CC0-1.0", help="dataset license name (default CC0-1.0)")
    a.add_argument("--repo", help="the codeqa source checkout to build the wheel from (default: this one)")
    a.add_argument("--notebook", help="the notebook to ship (default notebooks/kaggle_train.ipynb)")
    a.add_argument("--pretrained", metavar="DIR",
                   help="a save_pretrained model folder to bundle in the code dataset, for hf_seq2seq configs "
                        "with pretrained=<its folder name> (else they load from the hub: --internet)")

    a = actions.add_parser("push", help="create both datasets, or upload a new version of them",
                           description="Upload the code and data datasets of a prepared folder: create them, or "
                                       "add a new version to those that exist.")
    a.add_argument("--upload-dir", default="kaggle_upload", help=upload_help)
    a.add_argument("-m", "--message", help="version notes (default: codeqa version and date)")

    a = actions.add_parser("run", help="push the notebook as a kernel, which starts it on a T4 x2",
                           description="Push the notebook as a kernel with both datasets as inputs; Kaggle starts "
                                       "it on a GPU T4 x2 machine.")
    a.add_argument("--upload-dir", default="kaggle_upload", help=upload_help)
    a.add_argument("--resume-from", metavar="OWNER/KERNEL",
                   help="an earlier run to continue: its output becomes an input and training resumes from it")
    a.add_argument("--kernel-slug", help="push under another kernel slug (e.g. codeqa-train-2 to resume into)")
    a.add_argument("--internet", action=argparse.BooleanOptionalAction, default=None,
                   help="override the notebook's Internet setting")

    a = actions.add_parser("status", help="the datasets' and the kernel's status",
                           description="Show whether the datasets are ready and whether the kernel is queued, "
                                       "running, complete or failed.")
    a.add_argument("--upload-dir", default="kaggle_upload", help=upload_help)
    a.add_argument("--kernel", metavar="OWNER/KERNEL", help="default: the id in kernel-metadata.json")

    a = actions.add_parser("download", help="download the kernel's outputs (best model, curves, logs, metrics)",
                           description="Download what a user needs from the kernel's full run (the best model, "
                                       "metrics.jsonl, training_curves.png, logs.txt, decoding.json) and "
                                       "summarise it; --with-resume also fetches what continues the run.")
    a.add_argument("--upload-dir", default="kaggle_upload", help=upload_help)
    a.add_argument("--kernel", metavar="OWNER/KERNEL", help="default: the id in kernel-metadata.json")
    a.add_argument("--out", help="where to put them (default runs/kaggle/<kernel-slug>)")
    a.add_argument("--with-resume", action="store_true",
                   help="the whole run folder: last.pt (with the optimizer state) and the checkpoints too, to "
                        "continue the run elsewhere")
    p.set_defaults(run=_run_kaggle)


def _run_kaggle(args: argparse.Namespace) -> int:
    from codeqa.kaggle import commands, prepare

    if args.kaggle_command == "prepare":
        prepared = prepare.prepare(
            args.data_dir, args.out, args.owner, internet=args.internet, lang=args.lang, vocab=args.vocab,
            repo=args.repo, notebook=args.notebook, wheels_from=args.wheels_from, deps_wheels=args.deps_wheels,
            wheel_cache=args.wheel_cache, code_slug=args.code_slug, data_slug=args.data_slug,
            kernel_slug=args.kernel_slug, license_name=args.license, resume_from=args.resume_from,
            pretrained=args.pretrained)
        print(prepare.prepare_report(prepared))
    elif args.kaggle_command == "push":
        commands.push(args.upload_dir, args.message)
    elif args.kaggle_command == "run":
        commands.run(args.upload_dir, args.resume_from, args.kernel_slug, args.internet)
    elif args.kaggle_command == "status":
        commands.status(args.upload_dir, args.kernel)
    else:
        commands.download(args.upload_dir, args.out, args.kernel, args.with_resume)
    return 0


# ---------------------------------------------------------------- make-dataset
def _add_make_dataset(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("make-dataset", help="make CodeQA-style QA pairs from Python source (e.g. the stdlib)",
                       description="Make CodeQA-style question/answer pairs from the docstrings of the functions "
                                   "under Python source trees and write them in the CodeQA layout "
                                   "<out>/<lang>/<split>/<split>.{question,answer,code,code.original}, split by "
                                   "function; counts per split and question type go to <out>/<lang>/stats.json.")
    p.add_argument("--source", nargs="+", required=True, metavar="stdlib|PATH|URL",
                   help="folders, .py files, wheels, zips or sdist tarballs to read (archives are read in "
                        "place, also inside folders: e.g. the wheels of 'pip download -d DIR PACKAGE...'); "
                        "the file:// URL of a local package index (as 'pip config list' shows) for the "
                        "archives it lists; 'stdlib' is this Python's standard library")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", help="root of the CodeQA layout to write")
    target.add_argument("--pretrain-for", metavar="DATA_DIR",
                        help="write every pair as the pretrain split of this CodeQA-layout dataset "
                             "(DATA_DIR/<lang>/pretrain/), leaving out near-duplicates of its held-out "
                             "(--exclude-splits) code: what configs with pretrain_split pre-train on")
    p.add_argument("--lang", default="python", choices=["python"], help="the language folder to write (python)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split: same sources and seed, same bytes")
    p.add_argument("--split", default="0.8,0.1,0.1", help="train,dev,test shares of the functions")
    p.add_argument("--with-test", action="store_true",
                   help="also write the test split (without it the test share is left out)")
    p.add_argument("--exclude-like", action="append", default=[], metavar="DATA_DIR",
                   help="leave out functions that are near-duplicates of the held-out examples (--exclude-splits) "
                        "of this CodeQA-layout dataset: pre-training data must not contain validation or test "
                        "code (repeatable)")
    p.add_argument("--exclude-splits", default="dev,test", help="which splits --exclude-like reads (default dev,test)")
    p.add_argument("--workers", type=at_least(0), default=0, metavar="N",
                   help="processes that parse the files (default 0: one per CPU core); the output is the same")
    p.add_argument("--max-files", type=at_least(0), default=0, metavar="N",
                   help="read at most N of the .py files found, a sample drawn with --seed (default 0: all)")
    p.add_argument("--summaries", action=argparse.BooleanOptionalAction, default=False,
                   help="also give every documented function a code → docstring pair: the question "
                        "'What does the docstring say ?' answered with its docstring's first sentence")
    p.set_defaults(run=_run_make_dataset)


def _run_make_dataset(args: argparse.Namespace) -> int:
    import time

    from codeqa.synth.dataset import format_stats, make_dataset

    start = time.perf_counter()
    exclude_like = [*args.exclude_like, *([args.pretrain_for] if args.pretrain_for else [])]
    exclude = None
    if exclude_like:
        from codeqa.synth.overlap import held_out_index

        exclude = held_out_index(exclude_like, args.lang, tuple(args.exclude_splits.split(",")))
    out = args.pretrain_for or args.out
    stats = make_dataset(args.source, out, lang=args.lang, seed=args.seed, split=args.split,
                         with_test=args.with_test, exclude=exclude, pretrain_for=bool(args.pretrain_for),
                         workers=args.workers, progress=True, max_files=args.max_files,
                         summaries=args.summaries)
    print(format_stats(stats))
    written = f"{out}/{args.lang}/pretrain/" if args.pretrain_for else f"{out}/{args.lang}/"
    print(f"wrote {written} in {time.perf_counter() - start:.1f} s")
    return 0


# ---------------------------------------------------------------- answer
def _add_answer(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("answer", help="answer a question about a piece of Python with a trained model",
                       description="Turn raw Python (its first function) into the training data's code format "
                                   "and print the model's answer; with --top-k, the K best with their scores.")
    p.add_argument("--checkpoint", required=True, help="a model saved by `codeqa train` (best_model_<lang>.pt)")
    code = p.add_mutually_exclusive_group(required=True)
    code.add_argument("--code", dest="code_file", metavar="FILE", help="a Python file")
    code.add_argument("--code-text", metavar="TEXT", help="Python source given on the command line")
    p.add_argument("--question", required=True, help='the question, e.g. "What does the code return ?"')
    p.add_argument("--top-k", type=at_least(1), default=1,
                   help="print the K best answers with their scores (default 1)")
    p.add_argument("--beam", type=at_least(1), default=None, help="beam size (default: the checkpoint's config)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.set_defaults(run=_run_answer)


def _run_answer(args: argparse.Namespace) -> int:
    from codeqa.answer import answer

    options = answer(args.checkpoint, args.question, code=args.code_text, code_file=args.code_file,
                     top_k=args.top_k, beam_size=args.beam, device=args.device)
    if args.top_k == 1:
        print(options[0][0] if options else "")
    else:
        for text, score in options:
            print(f"{score:8.3f}  {text}")
    return 0


# ---------------------------------------------------------------- the parser
SUBCOMMANDS = [_add_make_dataset, _add_build_vocab, _add_train, _add_evaluate, _add_answer, _add_bench,
               _add_kaggle]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="codeqa", description="Train and run models that answer questions "
                                     "about source code (the CodeQA benchmark).")
    parser.add_argument("--version", action="version", version=f"codeqa {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, help="what to do")
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
