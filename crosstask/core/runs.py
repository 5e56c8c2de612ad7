"""Runs never mix: a run directory holds one run.

- An `--output` that already holds a run is refused unless `--resume` (and its run_config.json
  records the same settings) or `--overwrite` (the old run's files are removed first).
- A lock file (`.crosstask.lock`, an flock held while the run writes) stops a second process from
  writing into the same run; a lock left by a killed process is free again (the kernel drops it).
- Nothing is written before these checks pass.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crosstask.core.checks import check_writable_dir
from crosstask.core.errors import CrosstaskError, ValidationError, WriteError
from crosstask.core.io import read_json

LOCK_FILE = ".crosstask.lock"
RUN_CONFIG = "run_config.json"
RUN_FILES = (RUN_CONFIG, "train_summary.json", "trainer_state.json")
RUN_DIRS = ("best", "final")
# settings a resumed run may change: provenance, and knobs that do not change what is trained
FREE_KEYS = {"command", "crosstask", "python", "time", "processes", "machine", "precision", "versions", "git_commit",
             "model_revision"}
FREE_TRAINING_KEYS = {"output_dir", "resume", "overwrite", "progress", "log_every", "mixed_precision",
                      "skip_nonfinite", "report_to"}


def _checkpoint_dirs(path: Path) -> list[Path]:
    return [p for p in path.glob("checkpoint-*") if p.is_dir()]


def holds_run(path: str | Path) -> bool:
    """Whether `path` holds (part of) a training run: its config, summary, state, exports or checkpoints."""
    path = Path(path)
    if not path.is_dir():
        return False
    return (any((path / name).exists() for name in RUN_FILES + RUN_DIRS)
            or bool(_checkpoint_dirs(path)))


def secondary_process() -> bool:
    """A process of a torchrun / accelerate launch group other than rank 0: the main process alone checks
    and writes the run directory (the others would see what it has already written)."""
    return os.environ.get("RANK", "0") not in ("", "0")


def check_run_output(flag: str, output: str | Path, resume: bool, overwrite: bool) -> Path:
    """The command-line check of a training run's --output (before anything is loaded or written)."""
    if resume and overwrite:
        raise ValidationError("--resume/--overwrite", "choose one: --resume continues the run in --output, "
                                                      "--overwrite replaces it")
    path = check_writable_dir(flag, output)
    if holds_run(path) and not resume and not overwrite and not secondary_process():
        raise ValidationError(flag, f"{path} already holds a run; pass --resume to continue it (same settings) or "
                                    "--overwrite to replace it, or choose another directory")
    return path


def _comparable(meta: Mapping[str, Any]) -> dict:
    plain = json.loads(json.dumps(meta, default=str))
    out = {k: v for k, v in plain.items() if k not in FREE_KEYS}
    if isinstance(out.get("training"), dict):
        out["training"] = {k: v for k, v in out["training"].items() if k not in FREE_TRAINING_KEYS}
    return out


def _differences(saved: Any, current: Any, prefix: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(current, dict):
        found = []
        for key in sorted(set(saved) | set(current), key=lambda k: (k != "kind", str(k))):  # the kind first
            found += _differences(saved.get(key), current.get(key), f"{prefix}{key}.")
        return found
    return [] if saved == current else [prefix.rstrip(".") or "<root>"]


def settings_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Dotted names of the settings in which two run configurations differ (free keys ignored)."""
    return _differences(_comparable(saved), _comparable(current))


def clear_run(path: Path) -> None:
    """Remove a run's own files (config, summary, state, best/, final/, checkpoints); others stay."""
    for name in RUN_FILES:
        (path / name).unlink(missing_ok=True)
    for directory in [*(path / name for name in RUN_DIRS), *_checkpoint_dirs(path)]:
        shutil.rmtree(directory, ignore_errors=True)


def prepare_run(output: str | Path, meta: Mapping[str, Any], resume: bool, overwrite: bool,
                flag: str = "--output") -> str:
    """Decide what happens to `output` before anything is written: "new", "resume" (same settings as
    its run_config.json) or "overwrite" (the old run is removed, by `start_run`). Raises otherwise."""
    output = Path(output)
    if secondary_process() or not holds_run(output):
        return "new"
    if overwrite:
        return "overwrite"
    if not resume:
        raise ValidationError(flag, f"{output} already holds a run; pass --resume to continue it (same settings) or "
                                    "--overwrite to replace it, or choose another directory")
    config = output / RUN_CONFIG
    if not config.is_file():
        raise ValidationError(flag, f"{output} holds a run without {RUN_CONFIG}: its settings cannot be checked, "
                                    "so it cannot be resumed (use --overwrite)")
    saved = read_json(config)
    if not isinstance(saved, dict):
        raise ValidationError(flag, f"{config} is not a run configuration (use --overwrite)")
    differ = settings_differences(saved, meta)
    if differ:
        shown = ", ".join(differ[:6]) + (f" and {len(differ) - 6} more" if len(differ) > 6 else "")
        raise ValidationError(flag, f"cannot --resume {output}: it holds a run with other settings ({shown}); "
                                    "use the same settings, --overwrite, or another directory")
    return "resume"


@contextmanager
def run_lock(directory: str | Path, flag: str = "--output", enabled: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on `directory` (created if needed) while the block runs; a second
    process gets a one-line error instead of writing into the same run."""
    if not enabled:
        yield
        return
    directory = Path(directory)
    created = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WriteError(directory / LOCK_FILE, exc) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise WriteError(directory / LOCK_FILE, exc) from None
            holder = os.pread(handle, 64, 0).decode(errors="replace").strip() or "?"
            raise CrosstaskError(f"{flag}: {directory} is in use by another crosstask process (pid {holder}); "
                                 "wait for it to finish or use another directory") from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(handle)  # closing drops the flock
        if created and [p.name for p in directory.iterdir()] == [LOCK_FILE]:  # nothing was written: leave no trace
            (directory / LOCK_FILE).unlink(missing_ok=True)
            try:
                directory.rmdir()
            except OSError:
                pass
