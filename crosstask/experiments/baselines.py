"""The heuristic baselines of `crosstask baselines` on the tasks of one SuperNI split, as a report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crosstask.core.errors import CrosstaskError
from crosstask.data.benchmark import DataConfig, fingerprint_tasks, load_superni_data
from crosstask.data.superni import SuperNISplit, load_split
from crosstask.data.tasktype import TaskTypeRule, type_task
from crosstask.evaluation.baselines import BASELINES, run_baselines


@dataclass(frozen=True)
class BaselinesConfig:
    """Which tasks the baselines run on; the data, label-space mode, CLS rule, instance cap and seed are the
    `DataConfig`'s (its `max_test_instances` caps every task of `split`: the first N instances)."""

    split: str = "test"  # train | test
    tasks: str = "cls"  # cls | gen | all
    baselines: tuple[str, ...] | None = None  # None: every baseline of crosstask.evaluation.baselines


def baselines_report(data: DataConfig, config: BaselinesConfig = BaselinesConfig()) -> dict:
    """Run the heuristic baselines; raises CrosstaskError when no task of the asked type is found."""
    root = data.resolve_root()
    if data.holdout_categories:  # leave-categories-out: the held-out training tasks are the test tasks
        if config.split != "test":
            raise CrosstaskError("--holdout-categories replaces the test tasks: use it with --split test")
        held = load_superni_data(data)
        split = SuperNISplit("test", [t.task for t in held.test], held.missing.get("train", []))
        typed = held.test
    else:
        split = load_split(root, config.split, max_instances=data.max_test_instances)
        rule = TaskTypeRule(max_labels=data.max_labels)
        typed = [type_task(task, data.label_mode, rule) for task in split.tasks]
    if config.tasks != "all":
        typed = [t for t in typed if t.task_type.value == config.tasks.upper()]
    if not typed:  # never a score over zero instances
        raise CrosstaskError(f"no {config.tasks.upper()} {config.split} tasks in {root} ({len(split.tasks)} loaded, "
                             f"{len(split.missing)} missing on disk)")
    names: Sequence[str] = config.baselines or list(BASELINES)
    return {"data": str(root), "data_hash": fingerprint_tasks(typed), "split": config.split, "tasks": config.tasks,
            "n_tasks": len(typed), "missing_tasks": split.missing, "label_space_mode": data.label_mode,
            "seed": data.seed, "results": run_baselines(typed, names, seed=data.seed)}
