"""Errors crosstask raises for bad input; the CLI turns them into one-line messages."""

from __future__ import annotations

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
