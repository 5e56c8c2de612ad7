"""Rows of tabular data files through the `datasets` library: local parquet / JSON / JSONL files and
folders, or a Hugging Face Hub dataset id. Every row keeps where it came from (file or hub split, row
number, split, P3 subset), so a bad value can be reported as `file: field 'row N: name': problem`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosstask.core.errors import DataFormatError, DataNotFoundError

DATA_SUFFIXES = (".parquet", ".jsonl", ".json")
SPLIT_NAMES = ("train", "validation", "test")
# "owner/name" or "owner/name:config" (a P3 subset, for instance); only when no such local path exists
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(:[\w.-]+)?$")


@dataclass(frozen=True)
class Row:
    """One row of a data file or hub split, with its provenance."""

    source: str  # the file, or "owner/name[:config] (split)" for a hub dataset
    number: int  # 1-based row (= line of a JSON-lines file without blank lines)
    split: str  # "" when neither the file's path nor the hub says
    subset: str  # the folder holding the file (P3: data/<subset>/<split>.*) or the hub config
    data: dict[str, Any]
    unit: str = "row"  # "line" for JSON-lines files read line by line

    def where(self, field: str) -> str:
        return f"{self.unit} {self.number}: {field}"


def data_files(folder: Path) -> list[Path]:
    """Parquet / JSON / JSONL files under `folder`, sorted, hidden files and folders skipped."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def split_of(path: Path) -> str:
    """train / validation / test from a file's name (`train.parquet`, `test-00000-of-00001.jsonl`) or its
    folder (`train/part-0.parquet`); "" when neither says."""
    for name in (path.stem.lower(), path.parent.name.lower()):
        for split in SPLIT_NAMES:
            if re.match(rf"^{split}(\b|[-_.0-9])", name):
                return split
        if re.match(r"^(dev|valid)(\b|[-_.0-9])", name):
            return "validation"
    return ""


def subset_of(path: Path) -> str:
    """The subset a file belongs to: its folder when the file is named after a split (P3's
    `data/<subset>/train.parquet`), else its own stem."""
    return path.parent.name if split_of(Path(path.name)) else path.stem


def _load_file(path: Path):
    """The file as a `datasets.Dataset` held in memory; the builder's scratch files go to a temporary
    folder, not into the Hugging Face cache (a local file is not worth a cached copy)."""
    import tempfile

    import datasets

    try:
        with tempfile.TemporaryDirectory(prefix="crosstask-datasets-") as scratch:
            if path.suffix == ".parquet":
                return datasets.Dataset.from_parquet(str(path), keep_in_memory=True, cache_dir=scratch)
            return datasets.Dataset.from_json(str(path), keep_in_memory=True, cache_dir=scratch)
    except Exception as exc:  # datasets / pyarrow raise many types for one cause: the file does not parse
        cause = exc.__cause__ or exc.__context__ or exc
        message = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise DataFormatError(path, "<file>", f"cannot read it as {path.suffix[1:]}: {message}") from None


def file_rows(path: str | Path) -> Iterator[Row]:
    """The rows of one parquet / JSON / JSONL file."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such file")
    split, subset = split_of(path), subset_of(path)
    for number, data in enumerate(_load_file(path), start=1):
        yield Row(str(path), number, split, subset, data)


def column_names(path: str | Path) -> list[str]:
    """The columns of a data file: the parquet schema, or the keys of a JSON file's first object."""
    import json

    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception as exc:  # pyarrow.ArrowInvalid and friends
            raise DataFormatError(path, "<file>", f"not a parquet file: {exc}") from None
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        head = handle.read(1 << 16)
    text = head.lstrip()
    if text.startswith("["):  # a JSON list of objects: read the whole file for its first object
        try:
            items = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataFormatError(path, "<file>", f"invalid JSON: {exc}") from None
        return list(items[0]) if items and isinstance(items[0], dict) else []
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        raise DataFormatError(path, "line 1", "invalid JSON (expected one JSON object per line)") from None
    return list(obj) if isinstance(obj, dict) else []


def is_hub_id(data: str) -> bool:
    return bool(HUB_ID.match(data)) and not Path(data).expanduser().exists()


def hub_rows(hub_id: str) -> Iterator[Row]:
    """The rows of every split of a Hub dataset `owner/name[:config]` (downloaded into the HF cache)."""
    import datasets

    name, _, config = hub_id.partition(":")
    try:
        loaded = datasets.load_dataset(name, config or None)
    except Exception as exc:  # offline, unknown id, gated, script-based: one line, no traceback
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataNotFoundError(f"{hub_id}: cannot load it from the Hugging Face Hub: {message}") from None
    for split, dataset in loaded.items():
        split_name = "validation" if split in ("dev", "valid") else split
        for number, data in enumerate(dataset, start=1):
            yield Row(f"{hub_id} ({split})", number, split_name, config or name.split("/")[-1], data)


def hub_columns(hub_id: str) -> list[str]:
    """The columns of a Hub dataset's first split (the dataset is downloaded once into the HF cache;
    reading its rows afterwards loads it from there)."""
    row = next(hub_rows(hub_id), None)
    return list(row.data) if row else []


def require(row: Row, key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    """`row.data[key]` of type `kind`; missing (or None) is an error unless `optional` (then None)."""
    value = row.data.get(key)
    if value is None:
        if optional:
            return None
        raise DataFormatError(row.source, row.where(key), "missing")
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataFormatError(row.source, row.where(key), f"expected {expected}, got {type(value).__name__}")
    return value


def string_list(row: Row, key: str, *, optional: bool = False, non_empty: bool = True) -> tuple[str, ...] | None:
    """A list of strings at `key` (a single string is accepted as a one-item list)."""
    value = require(row, key, (list, str), optional=optional)
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise DataFormatError(row.source, row.where(f"{key}[{i}]"), f"expected str, got {type(item).__name__}")
    if non_empty and not items:
        raise DataFormatError(row.source, row.where(key), "empty list")
    return tuple(items)
