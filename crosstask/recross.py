"""ReCross from Python: one round in memory (`run_round`), the on-disk loop over targets (`run_targets`, which
runs `run_round` round after round), the upstream model (`train_upstream`) and the data it reads.

    from crosstask.recross import run_round
    out = run_round(upstream, pool, queries, "bm25", n=512, target=target)   # retrieved set, adapted model, metrics
"""

from crosstask.data.t0 import Target, UpstreamPool, load_pseudo_target, load_target, load_upstream_pool
from crosstask.experiments.recross import run_targets, train_upstream
from crosstask.experiments.recross_round import (METHODS, RecrossConfig, RoundResult, build_retriever, run_recross,
                                                 run_round, sample_queries)
from crosstask.training.adapt import AdaptConfig

__all__ = ["METHODS", "AdaptConfig", "RecrossConfig", "RoundResult", "Target", "UpstreamPool", "build_retriever",
           "load_pseudo_target", "load_target", "load_upstream_pool", "run_recross", "run_round", "run_targets",
           "sample_queries", "train_upstream"]
