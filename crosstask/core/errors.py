"""Errors crosstask raises for bad input; the CLI turns them into one-line messages."""

from __future__ import annotations

import errno as errno_module
import logging
import sys
from pathlib import Path


class CrosstaskError(Exception):
    """Base class: an error a user can fix, reported without a traceback."""


class DataFormatError(CrosstaskError):
    """A data file is malformed: names the file and the offending field."""

    def __init__(self, path: str | Path, field: str, problem: str):
        self.path = str(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.path}: field '{field}': {problem}")


class DataNotFoundError(CrosstaskError):
    """A data directory or file does not exist where it was looked for."""


class ValidationError(CrosstaskError):
    """A command-line flag or argument is out of range, of the wrong kind, or points nowhere usable."""

    def __init__(self, flag: str, problem: str):
        self.flag = flag
        self.problem = problem
        super().__init__(f"{flag}: {problem}")


class TrainingError(CrosstaskError):
    """Training failed (non-finite loss, nothing to train on): no model is exported as if it were good."""


_ERRNO_HINTS = {
    "ENOSPC": "no space left on device (disk full)",
    "EDQUOT": "disk quota exceeded",
    "EACCES": "permission denied",
    "EPERM": "operation not permitted",
    "EROFS": "read-only file system",
    "ENOENT": "no such file or directory",
    "EISDIR": "is a directory",
    "ENOTDIR": "a parent is not a directory",
    "EEXIST": "already exists",
    "ENAMETOOLONG": "file name too long",
}


def describe_os_error(exc: OSError, path: str | Path | None = None) -> str:
    """`path: what went wrong` in plain words, without errno numbers or Python reprs."""

    name = errno_module.errorcode.get(exc.errno or -1, "")
    reason = _ERRNO_HINTS.get(name) or (exc.strerror or str(exc) or type(exc).__name__).lower()
    where = path if path is not None else (exc.filename or "")
    return f"{where}: {reason}" if where else reason


class WriteError(CrosstaskError):
    """Writing a file or directory failed (disk full, permissions); the previous version is kept."""

    def __init__(self, path: str | Path, exc: OSError):
        self.path = str(path)
        self.errno = exc.errno
        super().__init__(f"cannot write {describe_os_error(exc, path)}; nothing there was replaced")


def warn(message: str) -> None:
    """A warning (data that is skipped, caches and checkpoints that are rebuilt), logged to the calling module's
    logger: `crosstask: warning: message` on stderr from the CLI, even with -q; from Python, on stderr unless the
    caller's logging configuration says otherwise."""
    caller = sys._getframe(1).f_globals.get("__name__", "crosstask")
    logging.getLogger(caller).warning(message, stacklevel=2)
