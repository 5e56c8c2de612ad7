"""Where a result came from: the command, versions, machine and time, and content hashes of the files read.

One hashing procedure serves every caller: `files_hash` (data hashes of SuperNI tasks and ReCross files),
`file_digest` (index-cache keys) and `hash_json` (settings keys)."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crosstask.core.precision import machine_info

__version__ = "0.1.0"


def _feed(digest, path: str | Path, chunk: int = 1 << 20) -> None:
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)


def file_digest(path: str | Path) -> str:
    """sha256 of one file's bytes (full hex digest), read in chunks."""
    digest = hashlib.sha256()
    _feed(digest, path)
    return digest.hexdigest()


def files_hash(named_files: Iterable[tuple[str, str | Path]], length: int = 16) -> str:
    """sha256 over (name, file bytes) pairs in the order given (the caller sorts); the first `length` hex digits."""
    digest = hashlib.sha256()
    for name, path in named_files:
        digest.update(name.encode())
        _feed(digest, path)
    return digest.hexdigest()[:length]


def hash_json(obj: Any) -> str:
    """sha256 of an object's canonical JSON (sorted keys; non-JSON values by str)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def provenance(**fields: Any) -> dict:
    """The command line, crosstask and Python versions, `fields` (data, its hash, seed, ...), time and machine."""
    return {"command": " ".join(["crosstask", *sys.argv[1:]]) if sys.argv else "", "crosstask": __version__,
            "python": platform.python_version(), **fields, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": machine_info()}
