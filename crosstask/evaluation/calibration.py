"""Label-prior calibration of candidate scores, per task, without any label.

A model can prefer some labels whatever the input (a bias from training-task label frequencies or
from the label's wording). For each task we subtract, from every candidate's score, that candidate's
mean score over the task's instances, then re-take the argmax. Only the test *inputs* are used
(transductive, label-free), as in contextual calibration.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from crosstask.evaluation.classifier import CandidatePrediction


def logit(p: float, eps: float = 1e-6) -> float:
    """log(p / (1 − p)), p clipped to [eps, 1 − eps] so that saved probabilities of 0 or 1 stay finite."""
    p = min(max(p, eps), 1 - eps)
    return math.log(p / (1 - p))


def calibrate(predictions: Sequence[CandidatePrediction], probabilities: bool = True) -> list[CandidatePrediction]:
    """Mean-centre each candidate's score over its task's instances (logits when `probabilities`)."""
    transform = logit if probabilities else float
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for p in predictions:
        for candidate, score in zip(p.candidates, p.scores):
            sums[(p.task, candidate)].append(transform(score))
    means = {key: sum(values) / len(values) for key, values in sums.items()}
    calibrated = []
    for p in predictions:
        if not p.scores:
            calibrated.append(p)
            continue
        scores = tuple(transform(s) - means[(p.task, c)] for c, s in zip(p.candidates, p.scores))
        best = max(range(len(scores)), key=scores.__getitem__)
        calibrated.append(replace(p, prediction=p.candidates[best], scores=scores))
    return calibrated
