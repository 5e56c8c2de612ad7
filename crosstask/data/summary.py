"""Data summaries for `crosstask data summary`: plain dicts, rendered by `crosstask.reporting.summary`."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

from crosstask.data import superni, t0
from crosstask.data.tasktype import LabelSpaceMode, TaskTypeRule, type_task


def _size_stats(sizes: list[int]) -> dict:
    if not sizes:
        return {"min": 0, "median": 0, "max": 0}
    return {"min": min(sizes), "median": statistics.median(sizes), "max": max(sizes)}


def summarize_superni(superni_dir: str | Path, mode: LabelSpaceMode | str = LabelSpaceMode.INSTANCES,
                      rule: TaskTypeRule = TaskTypeRule(), split_name: str = "default") -> dict:
    mode = LabelSpaceMode(mode)
    summary: dict = {"kind": "superni", "path": str(superni_dir), "label_space_mode": mode.value,
                     "rule": {"max_labels": rule.max_labels, "open_max_labels": rule.open_max_labels}, "splits": {}}
    for split in ("train", "test"):
        loaded = superni.load_split(superni_dir, split, split_name=split_name, max_instances=None)
        typed = [type_task(task, mode, rule) for task in loaded.tasks]
        cls = [t for t in typed if t.is_cls]
        summary["splits"][split] = {
            "requested": loaded.requested,
            "present": len(loaded.tasks),
            "missing": sorted(loaded.missing),
            "cls": len(cls),
            "gen": len(typed) - len(cls),
            "cls_by_category": dict(Counter(t.task.category for t in cls).most_common()),
            "cls_label_space": _size_stats([len(t.labels) for t in cls]),
            "label_space_sizes": {t.name: {"type": t.task_type.value, "labels": len(t.labels)} for t in typed},
        }
    return summary


def summarize_recross(recross_dir: str | Path) -> dict:
    pool = t0.read_upstream_pool(recross_dir)
    upstream_counts = Counter(record.task for record in pool.records)
    targets = {}
    for name in t0.target_names(recross_dir):
        target = t0.load_target(recross_dir, name)
        spaces = t0.label_spaces(target.query)
        targets[name] = {"test": len(target.test), "query": len(target.query),
                         "label_space_sizes": {template: len(labels) for (_, template), labels in spaces.items()}}
    upstream_spaces = t0.label_spaces(pool.records)
    return {
        "kind": "recross", "path": str(recross_dir),
        "upstream": {"tasks": len(pool.tasks), "records": len(pool.records), "missing": pool.missing,
                     "records_per_task": dict(upstream_counts),
                     "label_space_sizes": {f"{d}|{t}": len(v) for (d, t), v in upstream_spaces.items()}},
        "targets": targets,
    }
