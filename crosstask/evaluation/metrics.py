"""SuperNI / ReCross metrics as pure functions.

Normalisation follows the official SuperNI script: lower-case, drop ASCII punctuation, collapse
whitespace (articles are kept). Every per-instance metric is the max over the gold references.
"""

from __future__ import annotations

import string
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rouge_score import rouge_scorer

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, remove punctuation, collapse whitespace."""
    return " ".join(text.lower().translate(_PUNCTUATION).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def soft_exact_match(prediction: str, reference: str) -> float:
    """ReCross SoftEM: 1 if one normalised string contains the other (empty prediction scores 0)."""
    pred, ref = normalize_answer(prediction), normalize_answer(reference)
    if not pred or not ref:
        return float(pred == ref)
    return float(pred in ref or ref in pred)


@lru_cache(maxsize=2)
def _scorer(rouge_type: str) -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer([rouge_type], use_stemmer=True)


def _rouge(rouge_type: str, prediction: str, reference: str) -> float:
    # rouge-score's default tokenizer lower-cases and drops non-alphanumerics itself; we feed it
    # the normalised strings, as the official SuperNI script does.
    score = _scorer(rouge_type).score(normalize_answer(reference), normalize_answer(prediction))
    return score[rouge_type].fmeasure


def rouge1(prediction: str, reference: str) -> float:
    return _rouge("rouge1", prediction, reference)


def rouge_l(prediction: str, reference: str) -> float:
    return _rouge("rougeL", prediction, reference)


def max_over_references(metric: Callable[[str, str], float], prediction: str, references: Sequence[str]) -> float:
    if not references:
        raise ValueError("an instance needs at least one reference")
    return max(metric(prediction, reference) for reference in references)


METRICS: dict[str, Callable[[str, str], float]] = {
    "exact_match": exact_match,
    "rouge1": rouge1,
    "rougeL": rouge_l,
    "soft_exact_match": soft_exact_match,
}


@dataclass(frozen=True)
class ScoredPrediction:
    """One prediction with the grouping keys metrics are aggregated over."""

    id: str
    task: str
    category: str
    prediction: str
    references: tuple[str, ...]


def score_instance(prediction: str, references: Sequence[str], metrics: Iterable[str] = ("exact_match", "rougeL")) -> dict[str, float]:
    """Per-instance scores in [0, 1], max over references."""
    return {name: max_over_references(METRICS[name], prediction, references) for name in metrics}


def _mean_x100(values: list[float]) -> float:
    return round(100.0 * sum(values) / len(values), 4) if values else 0.0


def aggregate(predictions: Iterable[ScoredPrediction], metrics: Sequence[str] = ("exact_match", "rougeL")) -> dict:
    """Mean × 100 over instances: overall, per task and per category, plus instance counts."""
    per_metric: dict[str, list[float]] = defaultdict(list)
    by_task: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    by_category: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    count = 0
    for item in predictions:
        count += 1
        for name, value in score_instance(item.prediction, item.references, metrics).items():
            per_metric[name].append(value)
            by_task[item.task][name].append(value)
            by_category[item.category][name].append(value)

    def summarise(groups: dict[str, dict[str, list[float]]]) -> dict:
        return {
            key: {**{name: _mean_x100(vals) for name, vals in group.items()}, "n": len(next(iter(group.values())))}
            for key, group in sorted(groups.items())
        }

    return {
        "overall": {**{name: _mean_x100(per_metric[name]) for name in metrics}, "n": count},
        "per_task": summarise(by_task),
        "per_category": summarise(by_category),
    }
