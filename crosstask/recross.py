"""ReCross from Python: one round in memory (`run_round`), the on-disk loop over targets (`run_targets`, which
runs `run_round` round after round), the upstream model (`train_upstream`) and the data it reads.

    from crosstask.recross import run_round
    out = run_round(upstream, pool, queries, "bm25", n=512, target=target)   # retrieved set, adapted model, metrics

`t0_records` turns SuperNI-style typed tasks (e.g. the demo benchmark) into ReCross records, so a round runs
without the T0 data.
"""

from collections.abc import Sequence

from crosstask.data.records import T0Record
from crosstask.data.t0 import Target, UpstreamPool, load_pseudo_target, load_target, load_upstream_pool
from crosstask.data.tasktype import TypedTask
from crosstask.experiments.recross import run_targets, train_upstream
from crosstask.experiments.recross_round import (
    METHODS,
    RecrossConfig,
    RoundResult,
    build_retriever,
    run_recross,
    run_round,
    sample_queries,
)
from crosstask.training.adapt import AdaptConfig

__all__ = ["METHODS", "AdaptConfig", "RecrossConfig", "RoundResult", "Target", "UpstreamPool", "build_retriever",
           "load_pseudo_target", "load_target", "load_upstream_pool", "run_recross", "run_round", "run_targets",
           "sample_queries", "t0_records", "train_upstream"]


def t0_records(tasks: Sequence[TypedTask], split: str = "train") -> list[T0Record]:
    """One ReCross record per instance of SuperNI-style typed tasks (template "superni"; the task's definition
    is not in the record's input), e.g. the demo benchmark's training tasks as an upstream pool."""
    return [T0Record(i.input, tuple(i.outputs), t.name, split, "superni", i.id, t.name)
            for t in tasks for i in t.task.instances]
