"""`crosstask` command line: a thin shell over the Python API. This module only builds the parser and
dispatches; each module of `COMMAND_MODULES` registers its sub-commands with `register(commands)`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings

from crosstask.cli.options import add_config_arg, apply_config, leaf_parsers
from crosstask.cli.validation import OneLineParser, validate
from crosstask.core import log
from crosstask.core.errors import CrosstaskError, describe_os_error

# Modules that register sub-commands, in --help order: `register(commands)` adds each module's commands.
COMMAND_MODULES = [
    "crosstask.cli.recross",  # recross upstream | distant-supervision | train-reranker | run | report
    "crosstask.cli.data",  # data summary, baselines, report
    "crosstask.cli.superni",  # train, evaluate, demo
    "crosstask.cli.export",  # export --format cross-encoder
]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="crosstask", description="Cross-task generalisation toolkit: "
                                     "SuperNI generator vs. classifier, ReCross retrieval-augmented adaptation.")
    add_verbosity_args(parser, default=logging.INFO)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    for leaf in leaf_parsers(parser):  # every command takes --config FILE.yaml, -v and -q
        add_config_arg(leaf)
        add_verbosity_args(leaf)
    return parser


def _quiet_libraries() -> None:
    """Keep library chatter (load reports, length warnings, deprecations) out of the user's way; download
    progress bars (Hub, transformers) stay."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        from transformers.utils import logging as hf_logging  # heavy: imported only once a command runs
        hf_logging.set_verbosity_error()
    except ImportError:
        pass


def _show_crosstask_log(level: int = logging.INFO) -> None:
    """crosstask's own log lines (e.g. which precision `auto` chose) on the current stderr, from `level` up."""
    log.configure(level)


def add_verbosity_args(parser: argparse.ArgumentParser, default=argparse.SUPPRESS) -> None:
    """-v / -q: on the root parser (default INFO) and on every command (default: keep the root's), so they work
    before or after the sub-command."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", dest="log_level", action="store_const", const=logging.DEBUG,
                       default=default, help="show debug log lines")
    group.add_argument("-q", "--quiet", dest="log_level", action="store_const", const=logging.WARNING,
                       default=default, help="show only warnings and errors (results are still printed)")


def _fail(exc: BaseException) -> int:
    message = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
    print(f"crosstask: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        apply_config(parser, argv)  # --config FILE.yaml: its values become defaults, the command line wins
    except (CrosstaskError, OSError, UnicodeDecodeError) as exc:
        return _fail(exc)
    args = parser.parse_args(argv)
    _quiet_libraries()
    _show_crosstask_log(args.log_level)
    try:
        validate(args)  # every flag, choice and path, before any work
        args.func(args)
    except (CrosstaskError, OSError, UnicodeDecodeError) as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        print("crosstask: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
