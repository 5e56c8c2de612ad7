"""ReCross / T0 loader: upstream pool, targets, label spaces per (dataset, template)."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crosstask.core.defaults import DEFAULT_SEED
from crosstask.core.errors import CrosstaskError, DataFormatError, DataNotFoundError
from crosstask.core.io import read_json
from crosstask.core.progress import progress
from crosstask.data.records import T0Record
from crosstask.data.superni import check_task_name
from crosstask.data.tasktype import dedupe_labels

logger = logging.getLogger(__name__)

TARGET_FILES = {"test": "test-1000.json", "query": "validation-1000.json"}


def parse_record(raw: Any, path: Path, position: int, task: str = "") -> T0Record:
    """Validate one `[input, [outputs], "dataset|split|template|#idx"]` record."""
    where = f"[{position}]"
    if not isinstance(raw, list) or len(raw) != 3:
        shape = f"list of length {len(raw)}" if isinstance(raw, list) else type(raw).__name__
        raise DataFormatError(path, where,
                              f"expected [input, [outputs], \"dataset|split|template|#idx\"], got {shape}")
    text, outputs, meta = raw
    if not isinstance(text, str):
        raise DataFormatError(path, f"{where}[0] (input)", f"expected str, got {type(text).__name__}")
    if not isinstance(outputs, list) or not outputs or not all(isinstance(o, str) for o in outputs):
        raise DataFormatError(path, f"{where}[1] (outputs)", "expected a non-empty list of str")
    if not isinstance(meta, str) or meta.count("|") < 3:
        raise DataFormatError(path, f"{where}[2] (id)", f"expected \"dataset|split|template|#idx\", got {meta!r}")
    # templates may themselves contain '|': dataset and split are the first two fields, index the last
    dataset, split, rest = meta.split("|", 2)
    template, index = rest.rsplit("|", 1)
    return T0Record(text, tuple(outputs), dataset, split, template, index, task)


def load_records(path: str | Path, task: str | None = None) -> list[T0Record]:
    path = Path(path)
    raw = read_json(path)
    if not isinstance(raw, list):
        raise DataFormatError(path, "<root>", f"expected a JSON list of records, got {type(raw).__name__}")
    name = task or path.stem
    return [parse_record(item, path, i, name) for i, item in enumerate(raw)]


def read_task_lists(recross_dir: str | Path) -> dict[str, list[str]]:
    path = Path(recross_dir) / "split.json"
    if not path.exists():
        raise DataNotFoundError(f"{path} does not exist (is {recross_dir} a ReCross data directory?)")
    lists = read_json(path)
    if not isinstance(lists, dict):
        raise DataFormatError(path, "<root>", "expected an object of task lists")
    for key in ("T0", "evaluation"):
        if not isinstance(lists.get(key), list):
            raise DataFormatError(path, key, "missing or not a list of task names")

        for i, name in enumerate(lists[key]):  # never a path: names only ever read upstream/<name>.json
            check_task_name(name, path, f"{key}[{i}]")
    return lists


@dataclass
class UpstreamPool:
    """The T0 upstream tasks of split.json that are present on disk."""

    records: list[T0Record] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def read_upstream_pool(recross_dir: str | Path, task_list: str = "T0") -> UpstreamPool:
    """Every record of the `task_list` tasks of split.json with a file under upstream/, evaluation names of
    split.json left out (as on disk: no cap, no exclusion of target folders; `load_upstream_pool` is the pool)."""
    recross_dir = Path(recross_dir)
    lists = read_task_lists(recross_dir)
    targets = set(lists["evaluation"])
    pool = UpstreamPool()
    names = lists[task_list]
    for name in progress(names, len(names), "read upstream tasks", min_items=10):
        path = recross_dir / "upstream" / f"{name}.json"
        if name in targets:
            continue
        if not path.exists():
            pool.missing.append(name)
            continue
        pool.records.extend(load_records(path, name))
        pool.tasks.append(name)
        pool.files.append(path)
    logger.debug("upstream pool of %s: %d records of %d tasks, %d missing", recross_dir, len(pool.records),
                 len(pool.tasks), len(pool.missing))
    return pool


def excluded_tasks(recross_dir: str | Path) -> set[str]:
    """Every evaluation task of split.json and every target folder: never upstream data."""
    return set(read_task_lists(recross_dir)["evaluation"]) | set(target_names(recross_dir))


def load_upstream_pool(recross_dir: str | Path, max_per_task: int | None = None, seed: int = DEFAULT_SEED,
                       exclude: Sequence[str] = ()) -> UpstreamPool:
    """The T0 upstream pool: never a target (neither split.json's evaluation names nor a target folder, by
    task or dataset name), nor the upstream tasks in `exclude` (held out, e.g. as pseudo-targets); with
    `max_per_task`, each task's records are shuffled with a seed of (`seed`, task) and the first N kept."""
    pool, excluded = read_upstream_pool(recross_dir), excluded_tasks(recross_dir) | set(exclude)
    unknown = sorted(set(exclude) - set(pool.tasks))
    if unknown:
        raise CrosstaskError(f"cannot hold out {', '.join(unknown)}: not upstream tasks with a file "
                             f"(present: {', '.join(pool.tasks)})")
    groups: dict[str, list[T0Record]] = defaultdict(list)
    for record in pool.records:
        if record.task not in excluded and record.dataset not in excluded:
            groups[record.task].append(record)
    kept = UpstreamPool(missing=list(pool.missing))
    for task, path in zip(pool.tasks, pool.files):
        records = groups.get(task, [])
        if max_per_task:
            random.Random(f"{seed}|{task}").shuffle(records)
            records = records[:max_per_task]
        if records:
            kept.records.extend(records)
            kept.tasks.append(task)
            kept.files.append(path)
    if not kept.records:
        raise CrosstaskError(f"{recross_dir}: no upstream records (T0 tasks of split.json under upstream/)")
    return kept


@dataclass
class Target:
    """One target task: test-1000 (scored) and the query pool (validation-1000, inputs only)."""

    name: str
    test: list[T0Record]
    query: list[T0Record]


def target_names(recross_dir: str | Path) -> list[str]:
    """Targets present under targets/ (the ReCross paper's 10), in sorted order."""
    root = Path(recross_dir) / "targets"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def load_target(recross_dir: str | Path, name: str) -> Target:
    folder = Path(recross_dir) / "targets" / name
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}: no such target (present: {', '.join(target_names(recross_dir))})")
    parts = {}
    for role, filename in TARGET_FILES.items():
        path = folder / filename
        if not path.exists():
            raise DataNotFoundError(f"{path} is missing")
        parts[role] = load_records(path, name)
    return Target(name, parts["test"], parts["query"])


def label_spaces(records: list[T0Record]) -> dict[tuple[str, str], tuple[str, ...]]:
    """Distinct normalised outputs per (dataset, template)."""
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record in records:
        grouped[(record.dataset, record.template)].extend(record.outputs)
    return {key: dedupe_labels(outputs) for key, outputs in sorted(grouped.items())}


def split_pseudo_target(records: list[T0Record], name: str, n_test: int = 1000, n_query: int = 1000,
                        seed: int = DEFAULT_SEED) -> Target:
    """An upstream task as a held-out pseudo-target: its examples (records sharing dataset, split and
    index: one example under several templates) are shuffled with `seed`; whole examples go to the
    test set until it holds `n_test` records, the next ones to the query pool until `n_query`
    (each trimmed to its size, records in file order). A task with fewer than n_test + n_query
    records is split in half instead. No example is in both."""
    import random

    if len(records) < n_test + n_query:
        n_test = len(records) // 2
        n_query = len(records) - n_test

    keys = list(dict.fromkeys((r.dataset, r.split, r.index) for r in records))
    random.Random(f"{seed}|{name}").shuffle(keys)
    sizes: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in records:
        sizes[(r.dataset, r.split, r.index)] += 1
    test_keys, query_keys, in_test, in_query = set(), set(), 0, 0
    for key in keys:
        if in_test < n_test:
            test_keys.add(key)
            in_test += sizes[key]
        elif in_query < n_query:
            query_keys.add(key)
            in_query += sizes[key]
        else:
            break
    test = [r for r in records if (r.dataset, r.split, r.index) in test_keys][:n_test]
    query = [r for r in records if (r.dataset, r.split, r.index) in query_keys][:n_query]
    return Target(name, test, query)


def load_pseudo_target(recross_dir: str | Path, task: str, seed: int = DEFAULT_SEED, n_test: int = 1000,
                       n_query: int = 1000) -> Target:
    """`split_pseudo_target` of the upstream task `task` (a T0 task of split.json with a file under
    upstream/; never an evaluation target)."""
    lists = read_task_lists(recross_dir)
    path = Path(recross_dir) / "upstream" / f"{task}.json"
    if task in lists["evaluation"] or task not in lists["T0"] or not path.exists():
        raise DataNotFoundError(f"{task}: not an upstream task with a file under {Path(recross_dir) / 'upstream'}")
    return split_pseudo_target(load_records(path, task), task, n_test, n_query, seed)
