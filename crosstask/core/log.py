"""crosstask's logging. Every module logs to `logging.getLogger(__name__)`, a child of the "crosstask" logger;
library code never prints. Without any configuration Python shows warnings and errors on stderr (its
last-resort handler) and nothing else; the CLI calls `configure` (`-v` DEBUG, default INFO, `-q` WARNING),
which shows crosstask's records as `crosstask: message` / `crosstask: warning: message` lines on stderr."""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "crosstask"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


class CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at emit time (not the one of the first `configure` call), so
    in-process callers that swap stderr (tests, notebooks) never see a closed stream."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; the property ignores that
        pass


class LineFormatter(logging.Formatter):
    """`crosstask: message`, with `warning: ` / `error: ` after the prefix for those levels."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            return f"crosstask: error: {text}"
        if record.levelno >= logging.WARNING:
            return f"crosstask: warning: {text}"
        return f"crosstask: {text}"


def configure(level: int = logging.INFO) -> logging.Logger:
    """Show crosstask's records of `level` and above on the current stderr (one handler per process, however
    often this is called); the records no longer propagate to the root logger, so nothing is shown twice."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, CurrentStderrHandler) for h in logger.handlers):
        handler = CurrentStderrHandler()
        handler.setFormatter(LineFormatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    return logger
