"""`crosstask` command line: a thin shell over the Python API. This module only builds the parser and
dispatches; each module of `COMMAND_MODULES` registers its sub-commands with `register(commands)`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from crosstask.cli.options import add_config_arg, apply_config, leaf_parsers
from crosstask.cli.validation import OneLineParser, validate
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
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    for leaf in leaf_parsers(parser):  # every command takes --config FILE.yaml
        add_config_arg(leaf)
    return parser


def _quiet_libraries() -> None:
    """Keep library chatter (load reports, length warnings, deprecations) out of the user's way."""
    import warnings
    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        from transformers.utils import logging as hf_logging
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at emit time (not the one of the first `main()` call), so
    in-process callers that swap stderr (tests, notebooks) never see a closed stream."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; the property ignores that
        pass


def _show_crosstask_log() -> None:
    """crosstask's own log lines (e.g. which precision `auto` chose) on stderr, once per process."""
    logger = logging.getLogger("crosstask")
    if not any(isinstance(h, _CurrentStderrHandler) for h in logger.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("crosstask: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


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
    _show_crosstask_log()
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
