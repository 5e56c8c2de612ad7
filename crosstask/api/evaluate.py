"""`evaluate(model, tasks)`: the metrics of a classifier or generator on typed tasks (SuperNI EM / ROUGE-L)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crosstask.api.models import Classifier, Generator, load
from crosstask.data.tasktype import TypedTask
from crosstask.evaluation.classifier import CandidatePrediction
from crosstask.evaluation.metrics import aggregate


@dataclass
class EvaluationResult:
    """`metrics`: overall, per task and per category; `predictions`: one per instance."""

    metrics: dict
    predictions: list[CandidatePrediction] = field(repr=False)

    @property
    def overall(self) -> dict:
        return self.metrics["overall"]


def evaluate(model: Classifier | Generator | str | Path, tasks: Sequence[TypedTask], **options) -> EvaluationResult:
    """Predict every instance of `tasks` (CLS tasks: the classifier picks among the label space; a generator
    generates) and score the predictions. `model` may be a path to a saved model or a training run."""
    model = load(model) if isinstance(model, (str, Path)) else model
    predictions = model.predict(list(tasks), **options)
    return EvaluationResult(aggregate(p.scored() for p in predictions), predictions)
