"""The command line explains itself: every subcommand has a description, every option a help text, and the
bundled configs are named."""

import argparse

from codeqa.cli import build_parser
from codeqa.config import config_names
from tests.conftest import run_cli


def _parsers(parser: argparse.ArgumentParser, name: str = "codeqa"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_subcommand_has_a_description_and_every_option_a_help():
    undocumented = []
    for name, parser in _parsers(build_parser()):
        if not parser.description:
            undocumented.append(f"{name}: no description")
        undocumented += [f"{name} {action.option_strings or action.dest}: no help" for action in parser._actions
                         if not action.help and not isinstance(action, argparse._HelpAction)]
    assert not undocumented


def test_train_help_names_every_bundled_config():
    names = config_names()
    assert {"quick", "small", "kaggle_t4", "paper_lstm"} <= set(names)
    result = run_cli("train", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert all(name in text for name in names)
