"""File helpers: JSON reading with clear errors, atomic writes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crosstask.core.errors import DataFormatError, WriteError


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; an empty or invalid file raises DataFormatError naming it."""
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise DataFormatError(path, "<file>", "file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, "<file>",
                              f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


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
    """Write text to path via a temporary file + rename, so readers never see half a file. A failed
    write (disk full, permissions) raises WriteError naming the path; the previous file is left intact."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise WriteError(path, exc) from None
    except BaseException:
        _discard(tmp)
        raise
    return path


def _discard(tmp: str | None) -> None:
    if tmp is not None and os.path.exists(tmp):
        os.unlink(tmp)


def atomic_save_dir(path: str | Path, save: Callable[[Path], None]) -> Path:
    """Let `save(tmp)` fill a temporary sibling directory, then swap it in for `path`: readers see
    the old directory or the complete new one. A failed save (OSError: disk full, permissions)
    raises WriteError and leaves `path` as it was. A save that writes nothing leaves `path` alone."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
        save(tmp)
        if not any(tmp.iterdir()):
            return path
        old = None
        if path.exists():
            old = path.parent / f"{tmp.name}.old"
            os.replace(path, old)
        os.replace(tmp, path)
        tmp = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except Exception as exc:
        error = as_write_error(path, exc)
        if error is exc:
            raise
        raise error from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: str | Path, rows: list[Any]) -> Path:
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def as_write_error(path: str | Path, exc: BaseException) -> BaseException:
    """A WriteError for an OSError (or a library error that wraps ENOSPC, as torch and safetensors
    do), else `exc` itself."""
    import errno

    if isinstance(exc, WriteError):
        return exc
    if isinstance(exc, OSError):
        return WriteError(path, exc)
    text = str(exc)
    if "No space left" in text or "os error 28" in text:
        return WriteError(path, OSError(errno.ENOSPC, "No space left on device"))
    return exc
