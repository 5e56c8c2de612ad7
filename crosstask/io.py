"""File helpers: JSON reading with clear errors, atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from crosstask.errors import DataFormatError


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; an empty or invalid file raises DataFormatError naming it."""
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise DataFormatError(path, "<file>", "file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, "<file>", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, "<file>", f"not valid UTF-8 at byte {exc.start}") from None


def read_jsonl(path: str | Path) -> list[Any]:
    """Parse a JSON-lines file; a bad line raises DataFormatError naming file and line."""
    path = Path(path)
    rows = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, f"line {number}", f"invalid JSON: {exc.msg}") from None
    return rows


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text to path via a temporary file + rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: str | Path, rows: list[Any]) -> Path:
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
