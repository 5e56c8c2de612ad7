"""ReCross metrics: EM and SoftEM with the ReCross paper's (SQuAD-style) normalisation.

The paper (INK-USC/ReCross, `metax/task_manager/eval_metrics.py`) normalises an answer by
lower-casing it, dropping ASCII punctuation, dropping the articles a / an / the (whole words), and
collapsing whitespace, in that order. Unlike the SuperNI normalisation (`crosstask.evaluation.metrics`,
articles kept), "A dog" and "dog" are then the same answer, and an answer that is only an article
("a") normalises to the empty string.

- EM: normalised prediction == normalised gold (so "" matches "": the paper's rule, kept).
- SoftEM: both normalised strings are non-empty and one is a substring of the other; an empty
  string never matches (so "a" vs "a dog" scores 0, not 1).

Both are the max over the gold answers. Rank classification (`rank/*` protocols) keeps the SuperNI
exact match of the chosen option (option letters such as "A" would normalise to "" here).
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

RECROSS_NORMALIZATION = "recross"
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")

# One line per metric key of a ReCross table: what the number means.
METRIC_DEFINITIONS = {
    "generation/soft_exact_match": (
        "SoftEM (ReCross paper): generated answer and a gold answer, both normalised SQuAD-style (lower-case, "
        "no punctuation, articles a/an/the dropped, whitespace collapsed), are non-empty and one contains the "
        "other; max over golds, × 100"),
    "generation/exact_match": (
        "EM (ReCross paper): normalised generated answer equals a normalised gold answer (SQuAD-style "
        "normalisation as for SoftEM); max over golds, × 100"),
    "rank/classifier/accuracy": (
        "rank classification: the classifier's most probable option of the template's option set equals a gold "
        "answer (SuperNI normalisation: lower-case, no punctuation, articles kept), × 100"),
    "rank/generator/accuracy": (
        "rank classification: the generator's most likely option (sequence log-likelihood) of the template's "
        "option set equals a gold answer (SuperNI normalisation: lower-case, no punctuation, articles kept), × 100"),
}


# Runs made before the paper's metric was adopted (their summaries have no `softem_normalization`).
SUPERNI_NORMALIZATION = "superni"
LEGACY_DEFINITIONS = {
    "generation/soft_exact_match": (
        "SoftEM, OLD crosstask definition (not the paper's): SuperNI normalisation (lower-case, no punctuation, "
        "articles kept, whitespace collapsed), one normalised string contains the other, an empty prediction "
        "matches an empty gold; max over golds, × 100"),
    "generation/exact_match": (
        "EM, OLD crosstask definition: SuperNI normalisation (articles kept); max over golds, × 100"),
}


def metric_definition(metric: str, normalization: str = RECROSS_NORMALIZATION) -> str:
    """The definition line of a ReCross metric key under the run's SoftEM normalisation ("recross",
    or "superni" for runs made before the paper's metric); the key itself when unknown."""
    if normalization != RECROSS_NORMALIZATION and metric in LEGACY_DEFINITIONS:
        return LEGACY_DEFINITIONS[metric]
    return METRIC_DEFINITIONS.get(metric, metric)


def normalize_recross(text: str) -> str:
    """Lower-case, drop punctuation, drop the articles a / an / the, collapse whitespace."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def recross_exact_match(prediction: str, reference: str) -> float:
    return float(normalize_recross(prediction) == normalize_recross(reference))


def recross_soft_match(prediction: str, reference: str) -> float:
    """1 when both normalised strings are non-empty and one contains the other, else 0."""
    pred, ref = normalize_recross(prediction), normalize_recross(reference)
    return float(bool(pred) and bool(ref) and (pred in ref or ref in pred))


def recross_scores(prediction: str, references: Sequence[str]) -> dict[str, float]:
    """{"exact_match", "soft_exact_match"} of one prediction in [0, 1], max over the references
    (0 for both when there is no reference)."""
    return {"exact_match": max((recross_exact_match(prediction, r) for r in references), default=0.0),
            "soft_exact_match": max((recross_soft_match(prediction, r) for r in references), default=0.0)}
