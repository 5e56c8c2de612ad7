"""Where real data lives: --data, then $CROSSTASK_DATA, then ../shared/data beside the repo. A source in
another format (Hub-layout SuperNI, bigscience/P3, generic JSONL; a file, folder or hub id) is converted
once into a cached data root (crosstask.data.formats.prepare_data)."""

from __future__ import annotations

import os
from pathlib import Path

from crosstask.core.errors import DataNotFoundError
from crosstask.data.formats import is_hub_id, prepare_data

ENV_VAR = "CROSSTASK_DATA"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def default_shared_data() -> Path:
    return _REPO_ROOT.parent / "shared" / "data"


def resolve_data_root(explicit: str | Path | None = None) -> Path:
    """The data root: explicit argument, else $CROSSTASK_DATA, else ../shared/data if it exists."""
    if explicit:
        root = Path(explicit).expanduser()
        source = "--data"
    elif os.environ.get(ENV_VAR):
        root = Path(os.environ[ENV_VAR]).expanduser()
        source = f"${ENV_VAR}"
    else:
        root = default_shared_data()
        source = "default ../shared/data"
    if not root.exists() and not (source != "default ../shared/data" and is_hub_id(str(root))):
        raise DataNotFoundError(f"data directory {root} (from {source}) does not exist")
    return Path(prepare_data(str(root)))


def resolve_dataset_dir(explicit: str | Path | None, name: str) -> Path:
    """A dataset directory: `explicit` may be the dataset dir itself or a root holding `name/`."""
    root = resolve_data_root(explicit)
    if (root / name).is_dir() and not _looks_like_dataset(root):
        return root / name
    return root


def _looks_like_dataset(path: Path) -> bool:
    return (path / "splits").is_dir() or (path / "split.json").is_file() or (path / "tasks").is_dir()
