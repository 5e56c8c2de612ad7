"""`crosstask recross` argument parsing: every subcommand's help, and the flags of the paper-protocol table."""

from __future__ import annotations

import argparse

import pytest

from crosstask.cli.options import from_args
from crosstask.cli.recross import register
from crosstask.experiments.recross import TargetsConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crosstask")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


@pytest.mark.parametrize("sub", [None, "upstream", "distant-supervision", "train-reranker", "run", "report"])
def test_help_for_every_subcommand(sub, capsys):
    parser = _parser()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["recross", *([sub] if sub else []), "--help"])
    assert exit_info.value.code == 0 and "usage: crosstask recross" in capsys.readouterr().out


def test_run_accepts_all_test_records_and_five_rounds():
    parser = _parser()
    args = parser.parse_args(["recross", "run", "--upstream", "u", "--output", "o", "--test-records", "1000",
                              "--rounds", "5", "--aggregation", "concat", "--expand-options"])
    assert (args.max_test, args.rounds, args.aggregation, args.ceiling) == (1000, 5, "concat", 0)
    assert from_args(TargetsConfig, args).expand_options is True
    defaults = parser.parse_args(["recross", "run", "--upstream", "u", "--output", "o"])
    assert defaults.max_test is None and defaults.rounds == 5 and defaults.aggregation == "fused"
    assert from_args(TargetsConfig, defaults).expand_options is False
