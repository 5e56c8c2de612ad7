"""SuperNI / ReCross metrics as pure functions.

Normalisation follows the official SuperNI script: lower-case, drop ASCII punctuation, collapse
whitespace (articles are kept). Every per-instance metric is the max over the gold references.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from crosstask.data.text import normalize_answer


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def soft_exact_match(prediction: str, reference: str) -> float:
    """ReCross SoftEM: 1 if one normalised string contains the other (empty prediction scores 0)."""
    pred, ref = normalize_answer(prediction), normalize_answer(reference)
    if not pred or not ref:
        return float(pred == ref)
    return float(pred in ref or ref in pred)


@lru_cache(maxsize=2)
def _scorer(rouge_type: str):
    from rouge_score import rouge_scorer  # heavy (nltk, scipy: ~2 s): loaded on first score, not with the CLI

    return rouge_scorer.RougeScorer([rouge_type], use_stemmer=True)


def _rouge(rouge_type: str, prediction: str, reference: str) -> float:
    # rouge-score's default tokenizer lower-cases and drops non-alphanumerics itself; we feed it
    # the normalised strings, as the official SuperNI script does.
    score = _scorer(rouge_type).score(normalize_answer(reference), normalize_answer(prediction))
    return score[rouge_type].fmeasure


def rouge1(prediction: str, reference: str) -> float:
    return _rouge("rouge1", prediction, reference)


_SMALL_TABLE = 4096  # below this many cells the plain-Python row update is faster than numpy's


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences, in O(min(n, m)) memory: the DP
    keeps one row over the shorter sequence (rouge_score builds the whole n × m table: 677 MB for a
    300-word reference against a long input). Time stays O(n · m); long rows are updated with numpy
    (match → diagonal + 1, otherwise the previous row, then a running maximum along the row)."""
    if len(a) < len(b):
        a, b = b, a  # b is the shorter: the row
    if not b:
        return 0
    if len(a) * len(b) <= _SMALL_TABLE:
        prev = [0] * (len(b) + 1)
        for token in a:
            cur = [0]
            for j, other in enumerate(b, start=1):
                cur.append(prev[j - 1] + 1 if token == other else max(prev[j], cur[j - 1]))
            prev = cur
        return prev[-1]
    ids: dict[str, int] = {}
    row_ids = np.array([ids.setdefault(t, len(ids)) for t in b], dtype=np.int64)
    prev = np.zeros(len(b) + 1, dtype=np.int64)
    for token in a:
        token_id = ids.get(token)
        if token_id is None:  # no match anywhere in the row: the row is unchanged
            continue
        step = np.where(row_ids == token_id, prev[:-1] + 1, prev[1:])
        np.maximum.accumulate(step, out=prev[1:])
    return int(prev[-1])


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure, equal to rouge_score's (same tokenizer and Porter stemmer, same LCS, same
    F-measure) in O(min(n, m)) memory instead of its O(n · m) table."""
    tokenizer = _scorer("rougeL")._tokenizer
    target = tokenizer.tokenize(normalize_answer(reference))
    predicted = tokenizer.tokenize(normalize_answer(prediction))
    if not target or not predicted:
        return 0.0
    lcs = lcs_length(target, predicted)
    from rouge_score import scoring  # loaded by _scorer above; local only to keep it off the import path

    return scoring.fmeasure(lcs / len(predicted), lcs / len(target))


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


def score_instance(prediction: str, references: Sequence[str], metrics: Iterable[str] = ("exact_match",
    "rougeL")) -> dict[str, float]:
    """Per-instance scores in [0, 1], max over references."""
    return {name: max_over_references(METRICS[name], prediction, references) for name in metrics}


def _mean_x100(values: list[float]) -> float:
    return round(100.0 * sum(values) / len(values), 4) if values else 0.0


BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 1234


def bootstrap_stderr(values: Sequence[float], n_boot: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                     scale: float = 100.0) -> float | None:
    """Bootstrap standard error of the mean of per-instance `values` (lm-evaluation-harness style): the sample
    standard deviation (ddof 1) of the means of `n_boot` resamples of the instances with replacement, drawn with
    numpy's default_rng(seed); × `scale`, rounded to 4 decimals. None for fewer than 2 values."""
    if n_boot < 2:
        raise ValueError("n_boot must be at least 2")
    data = np.asarray(values, dtype=float)
    if data.ndim != 1 or len(data) < 2:
        return None
    picks = np.random.default_rng(seed).integers(0, len(data), size=(n_boot, len(data)))
    return round(float(data[picks].mean(axis=1).std(ddof=1) * scale), 4)


def aggregate(predictions: Iterable[ScoredPrediction], metrics: Sequence[str] = ("exact_match", "rougeL"),
              scores: Sequence[dict[str, float]] | None = None, stderr: bool = False,
              seed: int = BOOTSTRAP_SEED) -> dict:
    """Mean × 100 over instances: overall, per task and per category, plus instance counts. `scores`: the
    per-instance scores (`score_instance`) when already computed, in the order of `predictions`. `stderr`: the
    overall means also get `<metric>_stderr`, their bootstrap standard error (`bootstrap_stderr`, `seed`)."""
    per_metric: dict[str, list[float]] = defaultdict(list)
    by_task: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    by_category: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    count = 0
    given = iter(scores) if scores is not None else None
    for item in predictions:
        count += 1
        instance = next(given) if given is not None else score_instance(item.prediction, item.references, metrics)
        for name in metrics:
            value = instance[name]
            per_metric[name].append(value)
            by_task[item.task][name].append(value)
            by_category[item.category][name].append(value)

    def summarise(groups: dict[str, dict[str, list[float]]]) -> dict:
        return {
            key: {**{name: _mean_x100(vals) for name, vals in group.items()}, "n": len(next(iter(group.values())))}
            for key, group in sorted(groups.items())
        }

    overall = {name: _mean_x100(per_metric[name]) for name in metrics}
    if stderr:
        overall.update({f"{name}_stderr": bootstrap_stderr(per_metric[name], seed=seed) for name in metrics})
    return {
        "overall": {**overall, "n": count},
        "per_task": summarise(by_task),
        "per_category": summarise(by_category),
    }
