"""`evaluate(model, tasks)`: the metrics of a classifier or generator on typed tasks (SuperNI EM / ROUGE-L)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crosstask.api.models import Classifier, Generator, load
from crosstask.core.provenance import provenance
from crosstask.data.tasktype import TypedTask
from crosstask.evaluation.classifier import CandidatePrediction
from crosstask.evaluation.metrics import aggregate
from crosstask.training.card import tasks_hash


@dataclass
class EvaluationResult:
    """`metrics`: overall, per task and per category; `predictions`: one per instance."""

    metrics: dict
    predictions: list[CandidatePrediction] = field(repr=False)
    provenance: dict = field(default_factory=dict, repr=False)

    @property
    def overall(self) -> dict:
        return self.metrics["overall"]


def evaluate(model: Classifier | Generator | str | Path, tasks: Sequence[TypedTask], **options) -> EvaluationResult:
    """Predict every instance of `tasks` (CLS tasks: the classifier picks among the label space; a generator
    generates) and score the predictions. `model` may be a path to a saved model, a training run or a hub id.
    The overall scores are kept in the model's card data (`model.settings["results"]`), so a later
    `save_pretrained` writes them into its model card."""
    model = load(model) if isinstance(model, (str, Path)) else model
    tasks = list(tasks)
    predictions = model.predict(tasks, **options)
    metrics = aggregate(p.scored() for p in predictions)
    data_hash = tasks_hash(tasks)
    overall = metrics["overall"]
    names = {"exact_match": "EM", "rougeL": "ROUGE-L"}
    model.settings["results"] = {
        f"{names[k]} on {len(tasks)} tasks, {overall['n']} instances (data hash {data_hash})": round(v, 2)
        for k, v in overall.items() if k in names and isinstance(v, (int, float))}
    return EvaluationResult(metrics, predictions, provenance(data_hash=data_hash, n_tasks=len(tasks),
                                                             model_revision=model.revision, model_kind=model.kind))
