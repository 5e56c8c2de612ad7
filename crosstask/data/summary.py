"""Data summaries for `crosstask data summary`: plain dicts, rendered by the CLI."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

from crosstask.data import superni, t0
from crosstask.data.tasktype import LabelSpaceMode, TaskTypeRule, type_task
from crosstask.reporting.tables import markdown_table


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


def render_superni(summary: dict) -> str:
    rows = []
    for split, s in summary["splits"].items():
        stats = s["cls_label_space"]
        rows.append([split, s["requested"], s["present"], len(s["missing"]), s["cls"], s["gen"],
                     f"{stats['min']}/{stats['median']}/{stats['max']}"])
    out = [f"SuperNI at {summary['path']} (label space mode: {summary['label_space_mode']}, "
           f"CLS rule: ≤{summary['rule']['max_labels']} labels in a classification category, "
           f"≤{summary['rule']['open_max_labels']} in an open category)", "",
           markdown_table(["split", "in split", "present", "missing", "CLS", "GEN", "CLS labels min/median/max"], rows)]
    for split, s in summary["splits"].items():
        if s["missing"]:
            out += ["", f"{split}: {s['present']} of {s['requested']} tasks present; {len(s['missing'])} missing: "
                    + ", ".join(s["missing"])]
    test = summary["splits"]["test"]
    out += ["", "CLS test tasks by category: " + ", ".join(f"{c} {n}" for c, n in test["cls_by_category"].items())]
    return "\n".join(out)


def summarize_recross(recross_dir: str | Path) -> dict:
    pool = t0.load_upstream_pool(recross_dir)
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


def render_recross(summary: dict) -> str:
    up = summary["upstream"]
    out = [f"ReCross data at {summary['path']}", "",
           f"Upstream pool (T0 list of split.json, files present): {up['tasks']} tasks, {up['records']:,} records; "
           f"{len(up['missing'])} listed but absent: {', '.join(up['missing'])}", "",
           markdown_table(["upstream task", "records"], sorted(up["records_per_task"].items())), "",
           f"{len(summary['targets'])} targets (label-space sizes per template, from the query pool's outputs):", ""]
    rows = []
    for name, target in summary["targets"].items():
        sizes = ", ".join(f"{tpl}: {n}" for tpl, n in target["label_space_sizes"].items())
        rows.append([name, target["test"], target["query"], sizes])
    out.append(markdown_table(["target", "test", "query pool", "label-space size per template"], rows))
    return "\n".join(out)
