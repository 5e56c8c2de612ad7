"""Where a result came from: the command (a CLI line, or a description of the Python call), library versions,
the git commit of the code, the model's hub revision, machine and time, and content hashes of the files read.

One hashing procedure serves every caller: `files_hash` (data hashes of SuperNI tasks and ReCross files),
`file_digest` (index-cache keys) and `hash_json` (settings keys)."""

from __future__ import annotations

import hashlib
import inspect
import json
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable
from functools import lru_cache
from importlib import metadata
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


_PACKAGE = Path(__file__).resolve().parents[1]
_CLI_MAIN = _PACKAGE / "cli" / "__init__.py"
_SNAPSHOT = re.compile(r"/snapshots/([0-9a-f]{40})(/|$)")
LIBRARIES = ("torch", "transformers", "sentence-transformers", "accelerate", "huggingface-hub")


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a result depends on (None: not installed); read from package
    metadata, so nothing is imported."""
    found = {}
    for name in LIBRARIES:
        try:
            found[name.replace("-", "_")] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name.replace("-", "_")] = None
    return found


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the crosstask checkout that ran (suffixed "+dirty" with uncommitted changes to tracked
    files); None when crosstask is not run from a git checkout (an installed wheel) or git is missing."""
    root = _PACKAGE.parent
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "diff", "--quiet", "HEAD", "--", "crosstask"],
                               capture_output=True, timeout=10).returncode == 1
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty and head else (head or None)


def model_revision(name_or_path: str | Path | None) -> str | None:
    """The hub commit hash of a model: read from a hub-cache snapshot path, or looked up in the local hub cache
    for a hub id (never over the network); None for a local model outside the cache or an unknown id."""
    if not name_or_path:
        return None
    text = str(Path(name_or_path).expanduser().resolve()) if Path(str(name_or_path)).expanduser().exists() \
        else str(name_or_path)
    match = _SNAPSHOT.search(text)
    if match:
        return match.group(1)
    if Path(str(name_or_path)).expanduser().exists() or str(name_or_path).count("/") != 1:
        return None
    try:
        from huggingface_hub import snapshot_download

        return model_revision(snapshot_download(str(name_or_path), local_files_only=True))
    except Exception:  # not in the cache, or not a valid id: unknown
        return None


def _python_call(frames: list[inspect.FrameInfo]) -> str:
    """The outermost crosstask function on the stack and the caller's location, e.g.
    "python: crosstask.experiments.superni.train() from notebook.py:12"."""
    outer, caller = None, None
    for info in frames:  # innermost first
        if Path(info.filename).resolve().is_relative_to(_PACKAGE):
            outer = info
        elif outer is not None:
            caller = info
            break
    if outer is None:
        return "python"
    module = outer.frame.f_globals.get("__name__", "crosstask")
    where = f" from {Path(caller.filename).name}:{caller.lineno}" if caller is not None else ""
    return f"python: {module}.{outer.function}(){where}"


def command_line() -> str:
    """The crosstask command line when running under the CLI (`crosstask.cli.main`, whose `argv` may be given
    in-process), else a description of the Python call that led here (never the host program's argv)."""
    frames = inspect.stack(0)
    try:
        for info in frames:
            if Path(info.filename).resolve() == _CLI_MAIN and info.function == "main":
                argv = info.frame.f_locals.get("argv")
                return shlex.join(["crosstask", *(sys.argv[1:] if argv is None else argv)])
        return _python_call(frames[1:])
    finally:
        del frames


def provenance(**fields: Any) -> dict:
    """The command (CLI line or Python call), crosstask, Python and library versions, the git commit, `fields`
    (data, its hash, seed, model_revision, ...), time and machine."""
    return {"command": command_line(), "crosstask": __version__, "python": platform.python_version(),
            "versions": library_versions(), "git_commit": git_commit(), **fields,
            "time": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine_info()}
