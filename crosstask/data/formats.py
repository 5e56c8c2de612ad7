"""Data in the ecosystem's formats: detect what a `--data` argument holds, read it into the toolkit's
records, and write those records where today's loaders read them.

Formats (README "Data formats"):
- native folders, read by `load_split` / `load_upstream_pool` as before: a SuperNI folder (`tasks/`,
  `splits/`), a ReCross folder (`split.json`), or a data root holding `superni/` and/or `recross/`;
- SuperNI in the Hub layout of Muennighoff/natural-instructions (formats_superni.read_superni_rows);
- T0 prompts in bigscience/P3's layout (formats_p3);
- the generic JSONL task format (formats_superni.read_generic_jsonl);
each from a local parquet / JSON / JSONL file, a folder of them, or a Hub dataset id `owner/name[:config]`
(any argument that is no local path and looks like one).

`prepare_data(data)` is the one call a command needs: a native folder comes back unchanged; any other
format is read, validated and written once as a native data root under the cache (keyed by the hash of
what is written), whose path comes back, so every loader, summary, fingerprint and data hash works on it
unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from crosstask.core.errors import DataFormatError, DataNotFoundError
from crosstask.data.formats_p3 import read_p3_rows, recross_split
from crosstask.data.formats_rows import (
    DATA_SUFFIXES,
    Row,
    column_names,
    data_files,
    file_rows,
    hub_columns,
    hub_rows,
    is_hub_id,
)
from crosstask.data.formats_superni import TaskSet, read_generic_jsonl, read_generic_rows, read_superni_rows
from crosstask.data.records import T0Record, Task
from crosstask.data.t0 import TARGET_FILES, Target, UpstreamPool

FORMAT_VERSION = 1  # bump when the written layout changes: a fresh cache directory


class DataFormat(str, Enum):
    SUPERNI_DIR = "superni-dir"  # tasks/ + splits/ (read by load_split)
    RECROSS_DIR = "recross-dir"  # split.json + upstream/ + targets/ (read by load_upstream_pool / load_target)
    DATA_ROOT = "data-root"  # a folder holding superni/ and/or recross/
    SUPERNI_HUB = "superni-hub"  # Muennighoff/natural-instructions rows
    P3 = "p3"  # bigscience/P3 rows
    GENERIC = "generic-jsonl"  # task / definition / input / outputs objects

    @property
    def native(self) -> bool:
        return self in (DataFormat.SUPERNI_DIR, DataFormat.RECROSS_DIR, DataFormat.DATA_ROOT)


@dataclass(frozen=True)
class DetectedData:
    """What a --data argument is: its format, the files to read (none for a native folder or a hub id)."""

    format: DataFormat
    source: str
    files: tuple[Path, ...] = ()
    hub: bool = False


LAYOUTS = ("expected the columns task_name, definition, inputs, targets (SuperNI, Hub layout), inputs_pretokenized, "
           "targets_pretokenized (P3), or task, definition, input, outputs (generic JSONL)")


def format_of_columns(columns: list[str], source: str | Path) -> DataFormat:
    """The row layout that `columns` belong to; unknown columns are an error naming the source."""
    names = set(columns)
    if {"task_name", "inputs"} <= names:
        return DataFormat.SUPERNI_HUB
    if "inputs_pretokenized" in names:
        return DataFormat.P3
    if {"task", "input"} <= names:
        return DataFormat.GENERIC
    shown = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "") if columns else "none"
    raise DataFormatError(source, "<columns>", f"not a known layout ({LAYOUTS}); found: {shown}")


def _native_folder(path: Path) -> DataFormat | None:
    if (path / "tasks").is_dir() or (path / "splits").is_dir():
        return DataFormat.SUPERNI_DIR
    if (path / "split.json").is_file():
        return DataFormat.RECROSS_DIR
    if (path / "superni").is_dir() or (path / "recross").is_dir():
        return DataFormat.DATA_ROOT
    return None


def detect_format(data: str | Path) -> DetectedData:
    """Rules, in order: an existing folder that is a SuperNI / ReCross folder or a data root is native;
    another folder is the format of its parquet / JSON / JSONL files (all of one format); a file is the
    format of its columns; a string `owner/name[:config]` that is no local path is a Hub dataset, of the
    format of its columns. Anything else: DataNotFoundError."""
    path = Path(data).expanduser()
    if path.is_dir():
        native = _native_folder(path)
        if native is not None:
            return DetectedData(native, str(path))
        files = data_files(path)
        if not files:
            raise DataNotFoundError(f"{path}: neither a SuperNI / ReCross data folder nor a folder of "
                                    f"{' / '.join(s[1:] for s in DATA_SUFFIXES)} data files")
        formats = {file: format_of_columns(column_names(file), file) for file in files}
        first = files[0]
        for file, found in formats.items():
            if found is not formats[first]:
                raise DataFormatError(file, "<columns>", f"{found.value} rows, but {first} holds "
                                                         f"{formats[first].value} rows: one format per folder")
        return DetectedData(formats[first], str(path), tuple(files))
    if path.is_file():
        if path.suffix not in DATA_SUFFIXES:
            raise DataFormatError(path, "<file>", f"unknown data file type {path.suffix!r} "
                                                  f"(expected {', '.join(DATA_SUFFIXES)})")
        return DetectedData(format_of_columns(column_names(path), path), str(path), (path,))
    if is_hub_id(str(data)):
        return DetectedData(format_of_columns(hub_columns(str(data)), str(data)), str(data), hub=True)
    raise DataNotFoundError(f"{data}: no such file or directory, and not a Hugging Face Hub dataset id (owner/name)")


def _rows(detected: DetectedData) -> Iterator[Row]:
    if detected.hub:
        yield from hub_rows(detected.source)
        return
    for file in detected.files:
        yield from file_rows(file)


def read_superni_tasks(data: str | Path | DetectedData) -> TaskSet:
    """SuperNI tasks of a Hub-layout or generic-JSONL source (file, folder or hub id)."""
    detected = data if isinstance(data, DetectedData) else detect_format(data)
    if detected.format is DataFormat.SUPERNI_HUB:
        return read_superni_rows(_rows(detected))
    if detected.format is DataFormat.GENERIC:
        if not detected.hub and all(f.suffix == ".jsonl" for f in detected.files):  # line numbers in errors
            sets = [read_generic_jsonl(file) for file in detected.files]
            return merge_task_sets(sets) if len(sets) > 1 else sets[0]
        return read_generic_rows(_rows(detected))
    raise DataFormatError(detected.source, "<columns>", f"{detected.format.value} data holds no SuperNI tasks")


def merge_task_sets(sets: list[TaskSet]) -> TaskSet:
    """Several files' tasks as one set; a task name in two files is an error naming both."""
    splits: dict[str, list[Task]] = {}
    seen: dict[str, str] = {}
    for task_set in sets:
        for split, tasks in task_set.splits.items():
            for task in tasks:
                if task.name in seen:
                    raise DataFormatError(task.source_path, "task", f"{task.name!r} is also in {seen[task.name]}")
                seen[task.name] = task.source_path
                splits.setdefault(split, []).append(task)
    spaces = {k: v for s in sets for k, v in s.label_spaces.items()}
    return TaskSet({k: tuple(v) for k, v in splits.items()}, spaces, tuple(src for s in sets for src in s.sources))


def read_p3(data: str | Path | DetectedData) -> list[T0Record]:
    """T0 records of a P3-layout source (file, folder or hub id `bigscience/P3:<subset>`)."""
    detected = data if isinstance(data, DetectedData) else detect_format(data)
    if detected.format is not DataFormat.P3:
        raise DataFormatError(detected.source, "<columns>", f"{detected.format.value} data, not P3 prompts")
    records = read_p3_rows(_rows(detected))
    if not records:
        raise DataFormatError(detected.source, "<rows>", "no P3 records (every row empty or a wrong option)")
    return records


# ----- writing the native layouts -----

def superni_files(task_set: TaskSet) -> dict[str, str]:
    """The SuperNI folder (`tasks/<name>.json`, `splits/default/{train,test}_tasks.txt`) of a task set,
    as relative path -> text. A declared label space is kept under `Label_space` (today's loaders
    derive label spaces from instances or examples)."""
    files = {}
    for split, tasks in task_set.splits.items():
        files[f"splits/default/{split}_tasks.txt"] = "".join(f"{t.name}\n" for t in tasks)
        for task in tasks:
            raw = {"Definition": [task.definition], "Categories": list(task.categories),
                   "Positive Examples": [_example(e) for e in task.positive_examples],
                   "Negative Examples": [_example(e) for e in task.negative_examples],
                   "Instances": [{"id": i.id, "input": i.input, "output": list(i.outputs)} for i in task.instances]}
            if task.name in task_set.label_spaces:
                raw["Label_space"] = list(task_set.label_spaces[task.name])
            files[f"tasks/{task.name}.json"] = json.dumps(raw, ensure_ascii=False, indent=1) + "\n"
    return files


def _example(example) -> dict:
    return {"input": example.input, "output": example.output, "explanation": example.explanation}


def _record(record: T0Record) -> list:
    return [record.input, list(record.outputs), record.uid]


def recross_files(pool: UpstreamPool, targets: list[Target]) -> dict[str, str]:
    """The ReCross folder (split.json, upstream/<task>.json, targets/<name>/{test,validation}-1000.json)."""
    dump = lambda obj: json.dumps(obj, ensure_ascii=False) + "\n"  # noqa: E731
    files = {"split.json": dump({"T0": pool.tasks, "evaluation": [t.name for t in targets]})}
    for task in pool.tasks:
        files[f"upstream/{task}.json"] = dump([_record(r) for r in pool.records if r.task == task])
    for target in targets:
        files[f"targets/{target.name}/{TARGET_FILES['test']}"] = dump([_record(r) for r in target.test])
        files[f"targets/{target.name}/{TARGET_FILES['query']}"] = dump([_record(r) for r in target.query])
    return files


def cache_root() -> Path:
    cache = os.environ.get("CROSSTASK_CACHE")
    return (Path(cache).expanduser() if cache else Path.home() / ".cache" / "crosstask") / "formats"


def write_tree(files: dict[str, str], cache: Path | None = None) -> Path:
    """Write `files` once under `<cache>/<hash of their content>`, atomically (a sibling temp dir renamed)."""
    digest = hashlib.sha256(f"v{FORMAT_VERSION}".encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    base = cache or cache_root()
    root = base / digest.hexdigest()[:16]
    if (root / ".complete").is_file():
        return root
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=base))
    try:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text, encoding="utf-8")
        (tmp / ".complete").write_text("", encoding="utf-8")
        os.chmod(tmp, 0o755)
        if root.exists():  # an incomplete earlier attempt
            shutil.rmtree(root, ignore_errors=True)
        try:
            os.rename(tmp, root)
        except OSError:
            if not (root / ".complete").is_file():  # not another process that just wrote the same tree
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def prepare_data(data: str | Path | None, cache: Path | None = None) -> str | None:
    """The --data value today's loaders read. None and native folders come back unchanged; a Hub-layout
    SuperNI source or a generic JSONL file becomes a data root with `superni/`, a P3 source one with
    `recross/` (see `recross_split` for upstream vs. targets). Bad input raises DataFormatError naming
    the file and the field, a missing path or unloadable hub id DataNotFoundError."""
    if data is None or str(data) == "":
        return None
    detected = detect_format(data)
    if detected.format.native:
        return str(data)
    if detected.format is DataFormat.P3:
        pool, targets = recross_split(read_p3(detected))
        files = {f"recross/{name}": text for name, text in recross_files(pool, targets).items()}
    else:
        files = {f"superni/{name}": text for name, text in superni_files(read_superni_tasks(detected)).items()}
    return str(write_tree(files, cache))
