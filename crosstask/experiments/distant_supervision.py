"""Distant supervision for the ReCross reranker (the ReCross code's `gen_better_ds`): every upstream task in turn is
a pseudo
target. For each sampled query set of its inputs: retrieve candidates from the *other* tasks, shuffle
them into `n_groups` groups of `group_size`, fine-tune a copy of the upstream model on each group
(`adapt.fine_tune`, paper optimiser) and measure the loss on labelled held-out records of the pseudo
target. A candidate's score is the mean loss change (Δ vs. the unadapted model) of the groups it was
in over `n_shuffles` shuffles; the `n_label` lowest-Δ candidates are positives, the `n_label`
highest-Δ negatives (`strict=True` also requires Δ < 0 / Δ > 0). Rows: every query × every labelled
candidate (the paper's "product" pairs).

Scaling to a 2-core CPU (paper → defaults here): query set 8 → 8; candidates: top 100 of 500 → top
`group_size·n_groups` = 64; groups of 20 (5 groups) → 16 (4 groups); 3 shuffles → 1; held-out 100
test records → 32; query sets: thousands over all upstream tasks on GPUs → `n_query_sets`=1 per
pseudo-target; reranker RoBERTa/BART-base, batch 64, lr 1e-5, 5 epochs, 512 tokens → the packaged
MiniLM ("default"), batch 16, lr 2e-5, 1 epoch, 256 tokens. That is 4 adaptations of 4 optimiser steps
per query set, about a minute each query set with the MiniLM classifier.
"""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from crosstask.core.defaults import DEFAULT_SEED
from crosstask.core.errors import CrosstaskError
from crosstask.core.io import atomic_write_jsonl, read_jsonl
from crosstask.core.progress import progress
from crosstask.core.provenance import hash_json
from crosstask.data.records import T0Record
from crosstask.models.kinds import detect_kind, trained_on_option_texts
from crosstask.retrieval.retrievers import Retriever
from crosstask.training.adapt import AdaptConfig, fine_tune, heldout_loss, load_model

logger = logging.getLogger(__name__)


def _exclude_task(retriever: Retriever, queries: list[str], task: str, need: int) -> list[int]:
    """The first `need` retrieved pool indices whose record is not of `task` (over-retrieves by the
    size of that task, so enough others always remain)."""
    records = retriever.records
    own = sum(r.task == task for r in records)
    ranked = retriever.retrieve(queries, min(len(records), need + own)).indices
    others = [i for i in ranked if records[i].task != task]
    if len(others) < need:
        raise CrosstaskError(f"only {len(others)} candidates outside {task!r}; need {need}")
    return others[:need]


@dataclass(frozen=True)
class DistantSupervisionConfig:
    """Sizes of one distant-supervision run (scaled to a 2-core CPU; see the module docstring)."""

    retriever: str = "bm25"  # random | bm25 | sbert | dense: candidates for each query set (built by the caller)
    n_query_sets: int = 1  # query sets per pseudo-target
    query_size: int = 8
    group_size: int = 16
    n_groups: int = 4
    n_shuffles: int = 1
    heldout_size: int = 32  # labelled held-out records of the pseudo-target the loss change is measured on
    n_label: int | None = None  # positives and negatives per query set; None: group_size
    strict: bool = False  # positives also need a loss decrease, negatives an increase
    max_per_task: int | None = None  # upstream records per task in the pool (seeded sample; None: all)
    seed: int = DEFAULT_SEED
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    progress: bool = True  # a bar over the query sets (each: n_groups · n_shuffles adaptations)


def build_distant_supervision(pool_records: Sequence[T0Record], upstream_model_dir: str | Path,
                              pseudo_targets: Sequence[str], retriever: Retriever,
                              config: DistantSupervisionConfig = DistantSupervisionConfig(), *,
                              output: str | Path | None = None, work_dir: str | Path | None = None) -> list[dict]:
    """(query, candidate, label) rows by distant supervision (see the module docstring); the upstream model's
    kind is read from its saved files.

    `retriever` must be built over `pool_records`. `config.n_label` defaults to `group_size` (with one
    shuffle: the whole best group is positive, the whole worst group negative). With `output`, the
    rows are written there as JSONL (atomically), and each query set's rows are kept under
    `<output>.parts/` so an interrupted run resumes where it stopped."""
    c, adapt = config, config.adapt
    if trained_on_option_texts(upstream_model_dir):  # adapt on the candidates the upstream was trained on
        adapt = replace(adapt, pairs=replace(adapt.pairs, expand_options=True))
    upstream_model_dir, kind = detect_kind(upstream_model_dir)
    query_size, group_size, n_groups = c.query_size, c.group_size, c.n_groups
    heldout_size, seed = c.heldout_size, c.seed
    n_shuffles, strict = c.n_shuffles, c.strict
    pool_records = list(pool_records)
    if len(retriever.records) != len(pool_records):
        raise CrosstaskError("the distant-supervision retriever must be built over pool_records")
    n_label = group_size if c.n_label is None else c.n_label
    if 2 * n_label > group_size * n_groups:
        raise CrosstaskError(f"{n_label} positives and negatives need at least {2 * n_label} candidates")
    by_task: dict[str, list[T0Record]] = {}
    for record in pool_records:
        by_task.setdefault(record.task, []).append(record)
    parts = Path(f"{output}.parts") if output is not None else None
    key = hash_json({"pool": len(pool_records), "model": str(upstream_model_dir), "kind": kind, "sizes": [
        query_size, group_size, n_groups, n_shuffles, heldout_size, n_label, strict, seed], "adapt": repr(adapt)})[:12]
    upstream, tokenizer = load_model(upstream_model_dir, kind)
    rows: list[dict] = []
    bar = progress(None, len(pseudo_targets) * c.n_query_sets, "distant supervision", min_items=1, enabled=c.progress)
    for t, task in enumerate(pseudo_targets):
        if len(by_task.get(task, [])) < query_size + heldout_size:
            raise CrosstaskError(f"pseudo-target {task!r} has fewer than {query_size + heldout_size} records")
        for s in range(c.n_query_sets):
            part = parts / f"{key}-{t}-{s}.jsonl" if parts else None
            if part is not None and part.exists():
                rows += read_jsonl(part)
                logger.debug("%s query set %d: read back from %s", task, s, part)
                bar.update()
                continue
            rng = random.Random(f"{seed}|{task}|{s}")
            sample = rng.sample(by_task[task], query_size + heldout_size)
            queries, heldout = [r.input for r in sample[:query_size]], sample[query_size:]
            candidates = _exclude_task(retriever, queries, task, group_size * n_groups)
            base = heldout_loss(upstream, heldout, tokenizer, adapt)
            deltas: dict[int, list[float]] = {i: [] for i in candidates}
            for _ in range(n_shuffles):
                order = list(candidates)
                rng.shuffle(order)
                for g in range(n_groups):
                    group = order[g * group_size:(g + 1) * group_size]
                    work = Path(tempfile.mkdtemp(prefix="recross-ds-", dir=work_dir))
                    try:
                        model, _ = fine_tune(kind, upstream_model_dir, [pool_records[i] for i in group],
                                             adapt, work, save=False)
                        delta = heldout_loss(model, heldout, tokenizer, adapt) - base
                    finally:
                        shutil.rmtree(work, ignore_errors=True)
                    for i in group:
                        deltas[i].append(delta)
            score = {i: float(np.mean(d)) for i, d in deltas.items()}
            position = {i: k for k, i in enumerate(candidates)}
            ranked = sorted(candidates, key=lambda i: (score[i], position[i]))
            positives = [i for i in ranked[:n_label] if not strict or score[i] < 0]
            negatives = [i for i in ranked[::-1][:n_label] if not strict or score[i] > 0]
            found = [{"query": q, "candidate": pool_records[i].input, "label": label, "candidate_uid":
                      pool_records[i].uid, "delta": score[i], "base_loss": base, "pseudo_target": task,
                      "query_set": s} for label, chosen in ((1, positives), (0, negatives))
                     for i in chosen for q in queries]
            logger.debug("%s query set %d: base loss %.4f, %d positives, %d negatives", task, s, base,
                         len(positives), len(negatives))
            if part is not None:
                atomic_write_jsonl(part, found)
            rows += found
            bar.update()
    bar.close()
    if output is not None:
        atomic_write_jsonl(output, rows)
    return rows
