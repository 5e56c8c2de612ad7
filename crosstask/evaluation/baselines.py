"""Heuristic baselines: what a model must beat to show it learned anything."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence

from crosstask.core.defaults import DEFAULT_SEED
from crosstask.data.records import Instance
from crosstask.data.tasktype import TypedTask
from crosstask.evaluation.metrics import ScoredPrediction, aggregate, normalize_answer

Baseline = Callable[[TypedTask, Instance, random.Random], str]


def random_label(task: TypedTask, instance: Instance, rng: random.Random) -> str:
    """A label drawn uniformly from the task's label space (seeded per task)."""
    return rng.choice(task.labels) if task.labels else ""


def most_frequent_positive_label(task: TypedTask, instance: Instance, rng: random.Random) -> str:
    """The most frequent normalised output among the positive examples; ties go to the first seen."""
    outputs = [example.output for example in task.task.positive_examples]
    if not outputs:
        return ""
    counts = Counter(normalize_answer(output) for output in outputs)
    best = max(counts.values())
    return next(output for output in outputs if counts[normalize_answer(output)] == best)


def first_demo_output(task: TypedTask, instance: Instance, rng: random.Random) -> str:
    examples = task.task.positive_examples
    return examples[0].output if examples else ""


def copy_input(task: TypedTask, instance: Instance, rng: random.Random) -> str:
    return instance.input


BASELINES: dict[str, Baseline] = {
    "random_label": random_label,
    "most_frequent_positive_label": most_frequent_positive_label,
    "first_demo_output": first_demo_output,
    "copy_input": copy_input,
}
GEN_BASELINES = ("copy_input", "first_demo_output")  # those defined without a label space


def baseline_predictions(name: str, tasks: Sequence[TypedTask], seed: int = DEFAULT_SEED) -> list[ScoredPrediction]:
    if name not in BASELINES:
        raise KeyError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    baseline = BASELINES[name]
    predictions = []
    for task in tasks:
        rng = random.Random(f"{seed}:{task.name}")
        for instance in task.task.instances:
            predictions.append(ScoredPrediction(
                instance.id, task.name, task.task.category, baseline(task, instance, rng), instance.outputs,
            ))
    return predictions


def run_baselines(tasks: Sequence[TypedTask], names: Sequence[str] = tuple(BASELINES),
                  seed: int = DEFAULT_SEED, stderr: bool = False) -> dict[str, dict]:
    """Metrics (overall, per task, per category) of each baseline on `tasks` (`stderr`: with the overall
    means' bootstrap standard errors)."""
    return {name: aggregate(baseline_predictions(name, tasks, seed), stderr=stderr) for name in names}
