"""Everything a command is given is checked before any work starts: before data is loaded beyond a
file's header, before any model loads, before anything is written.

`validate(args)` runs on the parsed command line (called by `crosstask.cli.main`); each problem is a
`ValidationError` naming the flag and what is allowed, which the CLI prints as one line (exit code 2).
`check_training_arguments` guards the Python API (`TrainingArguments`) the same way, by field name.
"""

from __future__ import annotations

import math
import os
import re
from argparse import ArgumentParser, Namespace
from pathlib import Path
from typing import Any

from crosstask.errors import DataFormatError, ValidationError

# transformers.get_scheduler names that need no extra arguments (cosine_with_min_lr, warmup_stable_decay,
# reduce_lr_on_plateau, ... need scheduler-specific settings or a metric and are not offered)
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt")
MIN_MAX_LENGTH = 16  # shorter budgets cannot hold a prompt's fixed parts
SEED_MAX = 2**32 - 1  # numpy's seed range (accelerate seeds numpy too)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def flag_name(dest: str) -> str:
    return "--" + dest.replace("_", "-")


# dest -> (kind, low, low_inclusive, high, high_inclusive, none_allowed); kind "int" or "float"
_RULES: dict[str, tuple[str, float | None, bool, float | None, bool, bool]] = {
    "epochs": ("int", 1, True, None, False, False),
    "batch_size": ("int", 1, True, None, False, False),
    "grad_accum": ("int", 1, True, None, False, False),
    "max_steps": ("int", 1, True, None, False, True),
    "save_every": ("int", 0, True, None, False, False),
    "eval_every": ("int", 0, True, None, False, False),
    "max_train_instances": ("int", 1, True, None, False, False),
    "max_test_instances": ("int", 1, True, None, False, False),
    "max_dev_instances": ("int", 1, True, None, False, False),
    "max_instances": ("int", 1, True, None, False, False),
    "train_instances": ("int", 1, True, None, False, False),
    "test_instances": ("int", 1, True, None, False, False),
    "max_train_labels": ("int", 1, True, None, False, True),
    "max_labels": ("int", 1, True, None, False, False),
    "max_cls_labels": ("int", 1, True, None, False, False),
    "dev_tasks": ("int", 0, True, None, False, False),
    "negatives": ("int", 0, True, None, False, True),
    "num_pos": ("int", 0, True, None, False, False),
    "num_neg": ("int", 0, True, None, False, False),
    "max_length": ("int", MIN_MAX_LENGTH, True, None, False, False),
    "max_target_length": ("int", 1, True, None, False, False),
    "n_best": ("int", 1, True, None, False, False),
    "seed": ("int", 0, True, SEED_MAX, True, False),
    "demo_seed": ("int", 0, True, SEED_MAX, True, False),
    "lr": ("float", 0, False, None, False, False),
    "head_lr": ("float", 0, False, None, False, True),
    "adapt_lr": ("float", 0, False, None, False, False),
    "weight_decay": ("float", 0, True, None, False, False),
    "warmup_ratio": ("float", 0, True, 1, True, False),
    "dropout": ("float", 0, True, 1, False, False),
}


def _describe(kind: str, low, low_inc: bool, high, high_inc: bool) -> str:
    what = "an integer" if kind == "int" else "a finite number"
    parts = []
    if low is not None:
        parts.append(f"{'≥' if low_inc else '>'} {low}")
    if high is not None:
        parts.append(f"{'≤' if high_inc else '<'} {high}")
    return f"{what} {' and '.join(parts)}".strip()


def check_number(name: str, value: Any, rule: tuple) -> None:
    kind, low, low_inc, high, high_inc, none_ok = rule
    if value is None:
        if none_ok:
            return
        raise ValidationError(name, "is required")
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "int" and not isinstance(value, int))
    if not bad and isinstance(value, float) and not math.isfinite(value):
        bad = True
    if not bad and low is not None:
        bad = value < low if low_inc else value <= low
    if not bad and high is not None:
        bad = value > high if high_inc else value >= high
    if bad:
        raise ValidationError(name, f"must be {_describe(kind, low, low_inc, high, high_inc)}, got {value!r}")


def check_scheduler(name: str, value: str) -> None:
    if value not in SCHEDULERS:
        raise ValidationError(name, f"unknown scheduler {value!r} (choose from: {', '.join(SCHEDULERS)})")


def check_gen_negatives(name: str, value: str) -> None:
    if value not in ("matched", "none") and not (value.isascii() and value.isdigit()):
        raise ValidationError(name, f"must be 'matched', 'none' or an integer ≥ 0, got {value!r}")


def check_training_arguments(args) -> None:
    """TrainingArguments by field name (the Python API; the CLI has checked the flags already)."""
    for field in ("epochs", "batch_size", "grad_accum", "max_steps", "save_every", "eval_every", "seed"):
        check_number(f"TrainingArguments.{field}", getattr(args, field), _RULES[field])
    for field in ("lr", "head_lr", "weight_decay", "warmup_ratio"):
        check_number(f"TrainingArguments.{field}", getattr(args, field), _RULES[field])
    check_number("TrainingArguments.max_grad_norm", args.max_grad_norm, ("float", 0, True, None, False, True))
    check_number("TrainingArguments.keep_checkpoints", args.keep_checkpoints, ("int", 0, True, None, False, False))
    check_number("TrainingArguments.log_every", args.log_every, ("int", 1, True, None, False, False))
    check_scheduler("TrainingArguments.scheduler", args.scheduler)


# --- paths -----------------------------------------------------------------------------------------------


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable_dir(flag: str, path: str | Path) -> Path:
    """A directory that exists and is writable, or can be created (its nearest existing parent is a
    writable directory). Creates nothing."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ValidationError(flag, f"{path} exists and is not a directory")
    base = _nearest_existing(path)
    if not base.is_dir():
        raise ValidationError(flag, f"cannot create {path}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ValidationError(flag, f"{base} is not writable (permission denied)" if base == path.absolute()
                              else f"cannot create {path}: {base} is not writable (permission denied)")
    return path


def check_writable_file(flag: str, path: str | Path) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValidationError(flag, f"{path} is a directory (expected a file path)")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValidationError(flag, f"{path} is not writable (permission denied)")
    check_writable_dir(flag, path.parent if str(path.parent) else Path("."))
    return path


def _looks_like_path(value: str) -> bool:
    return (value.startswith(("/", "./", "../", "~")) or value in (".", "..") or "\\" in value
            or value.count("/") >= 2 or value.endswith("/"))


def model_kind(path: Path) -> str | None:
    """What a saved model directory holds: classifier, generator, reranker, backbone (a plain
    encoder checkpoint); None when it holds no model."""
    from crosstask.io import read_json

    if (path / "reranker.json").is_file():
        return "reranker"
    if (path / "crosstask_classifier.json").is_file():
        return "classifier"
    if not (path / "config.json").is_file():
        return None
    config = read_json(path / "config.json")
    if not isinstance(config, dict):
        raise DataFormatError(path / "config.json", "<root>", "expected a JSON object")
    if any(str(a).endswith("ForSequenceClassification") for a in config.get("architectures") or []):
        return "reranker"
    if config.get("is_encoder_decoder") or config.get("model_type") == "encoder-decoder":
        return "generator"
    return "backbone"


def check_model_dir(flag: str, value: str | Path, allowed: tuple[str, ...]) -> tuple[Path, str]:
    """A saved model (the directory, or a training run's best/ or final/) whose kind is in `allowed`."""
    path = Path(value).expanduser()
    if not path.exists():
        raise ValidationError(flag, f"{path} does not exist")
    if not path.is_dir():
        raise ValidationError(flag, f"{path} is not a directory")
    for candidate in (path, path / "best", path / "final"):
        kind = model_kind(candidate) if candidate.is_dir() else None
        if kind is None:
            continue
        if kind not in allowed:
            raise ValidationError(flag, f"{candidate} holds a {kind}, not a {' or '.join(allowed)}")
        return candidate, kind
    raise ValidationError(flag, f"{path}: no saved model there (expected a model directory or a training run "
                                "with best/ or final/)")


def check_backbone(flag: str, value: str) -> None:
    """--model / --encoder: a hub id, a default alias, or an existing local backbone directory."""
    from crosstask.models.backbone import _DEFAULT_ALIASES

    if value.lower() in _DEFAULT_ALIASES:
        return
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValidationError(flag, f"{path} is not a model directory")
        kind = model_kind(path)
        if kind is None:
            raise ValidationError(flag, f"{path} holds no model (no config.json)")
        if kind in ("classifier", "reranker"):
            hint = f" (its encoder is {path / 'encoder'})" if kind == "classifier" else ""
            raise ValidationError(flag, f"{path} holds a crosstask {kind}, not a backbone{hint}")
        return
    if _looks_like_path(value):
        raise ValidationError(flag, f"local model path {value} does not exist")
    if not _HUB_ID.match(value):
        raise ValidationError(flag, f"{value!r} is neither an existing local path nor a hub id like 'org/name'")


# --- per command ---------------------------------------------------------------------------------------------


def _check_numbers(args: Namespace) -> None:
    for dest, rule in _RULES.items():
        if hasattr(args, dest):
            check_number(flag_name(dest), getattr(args, dest), rule)


def _check_train(args: Namespace) -> None:
    from crosstask.runs import check_run_output

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
    from crosstask.runs import check_run_output

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
        from crosstask.evaluation.baselines import BASELINES

        unknown = [b for b in args.baseline if b not in BASELINES]
        if unknown:
            raise ValidationError("--baseline", f"unknown baseline {unknown[0]!r} (choose from: {', '.join(BASELINES)})")


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
