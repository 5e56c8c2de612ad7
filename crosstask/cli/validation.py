"""Everything a command is given is checked before any work starts: before data is loaded beyond a
file's header, before any model loads, before anything is written.

`validate(args)` runs on the parsed command line (called by `crosstask.cli.main`); each problem is a
`ValidationError` naming the flag and what is allowed, which the CLI prints as one line (exit code 2).
The Python API (`TrainingArguments`) is guarded the same way by `crosstask.core.checks`.
"""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from pathlib import Path

from crosstask.core.checks import (
    RULES,
    check_gen_negatives,
    check_number,
    check_scheduler,
    check_writable_dir,
    check_writable_file,
    flag_name,
)
from crosstask.core.errors import DataFormatError, ValidationError
from crosstask.core.runs import check_run_output
from crosstask.evaluation.baselines import BASELINES
from crosstask.models.kinds import check_backbone, check_model_dir

# --- per command ---------------------------------------------------------------------------------------------


def _check_numbers(args: Namespace) -> None:
    for dest, rule in RULES.items():
        if hasattr(args, dest):
            check_number(flag_name(dest), getattr(args, dest), rule)


def _check_train(args: Namespace) -> None:
    check_scheduler("--scheduler", args.scheduler)
    check_gen_negatives("--gen-negatives", args.gen_negatives)
    check_backbone("--model", args.model)
    check_run_output("--output", args.output, args.resume, getattr(args, "overwrite", False))


def _check_evaluate(args: Namespace) -> None:
    if not args.classifier and not args.generator:
        raise ValidationError("--classifier/--generator", "nothing to evaluate: pass a classifier and/or a generator")
    if args.classifier:
        check_model_dir("--classifier", args.classifier, ("classifier",))
    if args.generator:
        check_model_dir("--generator", args.generator, ("generator",))
    check_writable_dir("--output", args.output)


def _check_recross(args: Namespace) -> None:
    sub = args.recross_command
    if sub == "upstream":
        check_backbone("--model", args.model)
        check_run_output("--output", args.output, args.resume, getattr(args, "overwrite", False))
    elif sub == "distant-supervision":
        check_model_dir("--upstream", args.upstream, ("classifier", "generator"))
        check_writable_file("--output", args.output)
    elif sub == "train-reranker":
        check_backbone("--model", args.model)
        path = Path(args.data_file)
        if not path.is_file():
            raise ValidationError("--data-file", f"{path} does not exist (run `crosstask recross "
                                                 "distant-supervision` first)")
        check_writable_dir("--output", args.output)
    elif sub == "run":
        check_model_dir("--upstream", args.upstream, ("classifier", "generator"))
        if args.reranker:
            check_model_dir("--reranker", args.reranker, ("reranker",))
        if args.encoder:
            check_backbone("--encoder", args.encoder)
        check_writable_dir("--output", args.output)
    elif sub == "report":
        check_writable_dir("--out", args.out)


def validate(args: Namespace) -> None:
    """Check a parsed command line; raises ValidationError (one line: the flag, what is allowed)."""
    _check_numbers(args)
    command = getattr(args, "command", None)
    if getattr(args, "json", None):
        check_writable_file("--json", args.json)
    if command == "train":
        _check_train(args)
    elif command == "evaluate":
        _check_evaluate(args)
    elif command == "recross":
        _check_recross(args)
    elif command in ("report", "demo"):
        check_writable_dir("--out" if command == "report" else "--output", args.out if command == "report"
                           else args.output)
    if command == "baselines" and args.baseline:
        unknown = [b for b in args.baseline if b not in BASELINES]
        if unknown:
            raise ValidationError("--baseline",
                                  f"unknown baseline {unknown[0]!r} (choose from: {', '.join(BASELINES)})")


def check_reranker_rows(path: Path, rows: list) -> None:
    """Distant-supervision rows: objects with non-empty str query and candidate and a label 0 or 1."""
    if not rows:
        raise DataFormatError(path, "<file>", "no rows: nothing to train the reranker on")
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise DataFormatError(path, f"line {number}", f"expected an object, got {type(row).__name__}")
        for key in ("query", "candidate"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise DataFormatError(path, f"line {number}: {key}", "expected a non-empty string, got "
                                      f"{row.get(key)!r}"[:200])
        label = row.get("label")
        if isinstance(label, bool) or label not in (0, 1):
            raise DataFormatError(path, f"line {number}: label", f"expected 0 or 1, got {label!r}"[:200])


class OneLineParser(ArgumentParser):
    """argparse with one-line errors (exit code 2): `crosstask train: error: argument --lr: ... (usage: ...)`."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (usage: {self.prog} --help)\n")
