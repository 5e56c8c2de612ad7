"""Checks shared by the Python API and the command line: numeric ranges by name, schedulers, writable
paths. Each problem is a `ValidationError` naming the field or flag and what is allowed."""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import Any

from crosstask.core.errors import ValidationError

# transformers.get_scheduler names that need no extra arguments (cosine_with_min_lr, warmup_stable_decay,
# reduce_lr_on_plateau, ... need scheduler-specific settings or a metric and are not offered)
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt")
MIN_MAX_LENGTH = 16  # shorter budgets cannot hold a prompt's fixed parts
SEED_MAX = 2**32 - 1  # numpy's seed range (accelerate seeds numpy too)


def flag_name(dest: str) -> str:
    return "--" + dest.replace("_", "-")


# dest -> (kind, low, low_inclusive, high, high_inclusive, none_allowed); kind "int" or "float"
RULES: dict[str, tuple[str, float | None, bool, float | None, bool, bool]] = {
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
    "num_pos": ("int", 0, True, None, False, True),  # None: evaluate uses the saved model's own
    "num_neg": ("int", 0, True, None, False, True),  # None: evaluate uses the saved model's own
    "max_length": ("int", MIN_MAX_LENGTH, True, None, False, True),  # None: evaluate uses the saved model's own
    "max_target_length": ("int", 1, True, None, False, True),  # None: evaluate uses the saved model's own
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
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "int" and not isinstance(value,
                                                                                                              int))
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
        check_number(f"TrainingArguments.{field}", getattr(args, field), RULES[field])
    for field in ("lr", "head_lr", "weight_decay", "warmup_ratio"):
        check_number(f"TrainingArguments.{field}", getattr(args, field), RULES[field])
    check_number("TrainingArguments.max_grad_norm", args.max_grad_norm, ("float", 0, True, None, False, True))
    check_number("TrainingArguments.keep_checkpoints", args.keep_checkpoints, ("int", 0, True, None, False, False))
    check_number("TrainingArguments.log_every", args.log_every, ("int", 1, True, None, False, False))
    check_scheduler("TrainingArguments.scheduler", args.scheduler)
    check_report_to("TrainingArguments.report_to (--report-to)", args.report_to)


REPORT_TO = ("none", "tensorboard", "wandb")


def check_report_to(name: str, value: str) -> None:
    """A known tracker whose package is installed (checked before any work starts)."""
    if value not in REPORT_TO:
        raise ValidationError(name, f"unknown tracker {value!r} (choose from: {', '.join(REPORT_TO)})")
    packages = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",)}.get(value, ())
    if packages and not any(importlib.util.find_spec(p) is not None for p in packages):
        hint = 'pip install -e ".[track]"' if value == "tensorboard" else "pip install wandb"
        raise ValidationError(name, f"{value} is not installed ({hint}), or choose --report-to none")


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


