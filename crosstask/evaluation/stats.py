"""ReCross statistics as pure functions: reference baselines of rank classification, and a paired
bootstrap confidence interval of a method's mean gain over zero-shot.

Test records are grouped into *examples*: T0 renders one example with several templates, and the
records of one example share dataset, split and index (`example_key`). The bootstrap resamples
examples (all their records together), within each target, so records of one example never count
as independent evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from crosstask.data.records import T0Record
from crosstask.data.t0_tasks import TemplateKey, group_by_template, task_name
from crosstask.evaluation.metrics import normalize_answer


def example_key(uid: str) -> str:
    """The example of a record id "dataset|split|template|#idx": "dataset|split|#idx" (templates
    may themselves contain '|': dataset and split are the first two fields, the index the last)."""
    parts = uid.split("|")
    return f"{parts[0]}|{parts[1]}|{parts[-1]}" if len(parts) >= 4 else uid


def rank_baselines(test_records: Sequence[T0Record], options: Mapping[TemplateKey, Sequence[str]]) -> dict:
    """Reference rows of rank classification over the records whose template has an option set
    (the records rank accuracy is computed on), × 100; options match golds by SuperNI normalisation
    as rank accuracy does.

    - majority: each template always answers its majority option, the option that is a gold answer
      of the most test records of that template (first in option order on ties). It reads test
      labels: a reference row only, never used to choose anything.
    - uniform: the expected accuracy of a uniformly random option, the mean over records of
      |options that are gold| / |options| (= 1/|options| when one option is gold).

    Returns {"majority", "uniform", "rank_records", "majority_options": {template: option}};
    majority and uniform are None when no record has options."""
    majority_hits, uniform, count, chosen = 0, 0.0, 0, {}
    for key, records in group_by_template(test_records).items():
        labels = list(options.get(key, ()))
        if not labels:
            continue
        normal = [normalize_answer(o) for o in labels]
        golds = [{normalize_answer(o) for o in r.outputs} for r in records]
        hits = [sum(o in g for g in golds) for o in normal]
        best = max(range(len(labels)), key=lambda i: (hits[i], -i))
        majority_hits += hits[best]
        uniform += sum(sum(o in g for o in normal) / len(normal) for g in golds)
        count += len(records)
        chosen[task_name(key)] = labels[best]
    scale = 100.0 / count if count else None
    return {"majority": round(majority_hits * scale, 4) if scale else None,
            "uniform": round(uniform * scale, 4) if scale else None,
            "rank_records": count, "majority_options": chosen}


def _cluster_sums(differences: np.ndarray, groups: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Per example (cluster): the sum of its records' differences and its record count."""
    if groups is None:
        return differences, np.ones_like(differences)
    if len(groups) != len(differences):
        raise ValueError(f"{len(groups)} group ids for {len(differences)} examples")
    _, index = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    return np.bincount(index, weights=differences), np.bincount(index).astype(float)


def paired_bootstrap_ci(method: Sequence[np.ndarray | Sequence], zero: Sequence[np.ndarray | Sequence],
                        groups: Sequence[Sequence[str] | None] | None = None, *, n_boot: int = 2000,
                        seed: int = 0, level: float = 0.95, scale: float = 100.0,
                        resample_rounds: bool = False) -> tuple[float, float]:
    """Percentile CI of a method's mean gain over zero-shot, paired by test example.

    Per target t: `method[t]` holds per-record scores in [0, 1] of shape (rounds, n_t) or (n_t,)
    (averaged over the rounds: every round is scored on the same records), `zero[t]` those of
    the zero-shot model (n_t,), in the same record order; `groups[t]` optionally one example id per
    record (records of one example are resampled together). Each bootstrap replicate resamples the
    examples of every target with replacement (seeded, targets in the order given) and takes the mean
    over targets of (method − zero-shot) on the resample: the statistic of the report's "gain" row.
    `resample_rounds`: each replicate also draws every target's rounds with replacement (a two-level
    bootstrap), so the interval carries the round-to-round variance of retrieval too, not only that of the
    test sample. Returns (low, high) × `scale`, rounded to 4 decimals."""
    if len(method) != len(zero) or not len(method):
        raise ValueError("method and zero-shot need the same, non-zero number of targets")
    if not 0 < level < 1 or n_boot < 1:
        raise ValueError("level must be in (0, 1) and n_boot >= 1")
    rng = np.random.default_rng(seed)
    replicates = np.zeros(n_boot)
    for t, (m, z) in enumerate(zip(method, zero)):
        m, z = np.asarray(m, dtype=float), np.asarray(z, dtype=float)
        rounds = m if m.ndim == 2 else m[None, :]
        if rounds.ndim != 2 or rounds.shape[1:] != z.shape or z.ndim != 1 or not len(z) or not len(rounds):
            raise ValueError(f"target {t}: method scores {m.shape} and zero-shot scores {z.shape} are not paired")
        per_round = [_cluster_sums(r - z, None if groups is None else groups[t]) for r in rounds]
        sums, counts = np.stack([s for s, _ in per_round]), per_round[0][1]
        picks = rng.integers(0, len(counts), size=(n_boot, len(counts)))
        if resample_rounds:
            drawn = rng.integers(0, len(rounds), size=(n_boot, len(rounds)))
            weights = np.stack([np.bincount(d, minlength=len(rounds)) for d in drawn]) / len(rounds)
            cluster = weights @ sums  # (n_boot, examples): each replicate's rounds, averaged per example
            replicates += np.take_along_axis(cluster, picks, axis=1).sum(axis=1) / counts[picks].sum(axis=1)
        else:
            mean = sums.mean(axis=0)
            replicates += mean[picks].sum(axis=1) / counts[picks].sum(axis=1)
    replicates *= scale / len(method)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return round(float(low), 4), round(float(high), 4)
