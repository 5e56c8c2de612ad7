"""Multi-query aggregation: fuse per-query ranked lists into one deduplicated top-N, or concatenate them.

Input to every fusion: one list per query of `(pool_index, score)` pairs, best first (the position
gives the 1-based rank). Output: at most `n` `FusedItem`s, fused score descending, ties broken by
pool index ascending, each pool index once, with its per-query hits kept.

`concat` (the ReCross paper's aggregation) is not a fusion: each query's top ⌈N/|Q|⌉ are
concatenated in query order, duplicates kept, and the list trimmed to N (`concat_per_query`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crosstask.core.errors import CrosstaskError

Ranked = Sequence[Sequence[tuple[int, float]]]


@dataclass(frozen=True)
class QueryHit:
    """Where one query ranked an item: query position, 1-based rank, retrieval score."""

    query: int
    rank: int
    score: float


@dataclass(frozen=True)
class FusedItem:
    pool_index: int
    score: float
    hits: tuple[QueryHit, ...]


def collect_hits(per_query_ranked: Ranked) -> dict[int, list[QueryHit]]:
    """pool index → its hits, one per query that retrieved it (a repeat within a list is ignored)."""
    hits: dict[int, list[QueryHit]] = {}
    for q, ranked in enumerate(per_query_ranked):
        seen: set[int] = set()
        for position, (index, score) in enumerate(ranked):
            index = int(index)
            if index in seen:
                continue
            seen.add(index)
            hits.setdefault(index, []).append(QueryHit(q, position + 1, float(score)))
    return hits


def top_n(scored: dict[int, float], hits: dict[int, list[QueryHit]], n: int) -> list[FusedItem]:
    """The n best items by (score desc, pool index asc)."""
    order = sorted(scored, key=lambda i: (-scored[i], i))[: max(0, n)]
    return [FusedItem(i, scored[i], tuple(hits[i])) for i in order]


def reciprocal_rank_fusion(per_query_ranked: Ranked, n: int, k: int = 60) -> list[FusedItem]:
    """RRF (Cormack et al. 2009): score(d) = Σ_q 1 / (k + rank_q(d)), rank 1-based; a query that
    did not retrieve d contributes 0."""
    if k < 0:
        raise CrosstaskError(f"RRF constant k must be >= 0, got {k}")
    hits = collect_hits(per_query_ranked)
    scored = {i: math.fsum(1.0 / (k + h.rank) for h in hs) for i, hs in hits.items()}
    return top_n(scored, hits, n)


def mean_score_fusion(per_query_ranked: Ranked, n: int) -> list[FusedItem]:
    """Mean similarity over all queries; a query that did not retrieve d counts its own minimum
    retrieved score (a query that retrieved nothing is left out of the mean)."""
    hits = collect_hits(per_query_ranked)
    minimum = {q: min(float(s) for _, s in ranked) for q, ranked in enumerate(per_query_ranked) if len(ranked)}
    scored = {}
    for index, item_hits in hits.items():
        found = {h.query: h.score for h in item_hits}
        scored[index] = math.fsum(found.get(q, low) for q, low in minimum.items()) / len(minimum)
    return top_n(scored, hits, n)


def per_query_depth(n: int, n_queries: int) -> int:
    """⌈N/|Q|⌉: how many items each query contributes to a `concat` aggregation."""
    return math.ceil(n / max(1, n_queries))


def concat_per_query(per_query_ranked: Ranked, n: int) -> list[FusedItem]:
    """The paper's aggregation: each query's top ⌈N/|Q|⌉ (pool index, score) in query order, an item
    retrieved by several queries kept once per query, trimmed to the first `n`. Each item's score is
    its query's retrieval score and its one hit that query's rank."""
    depth = per_query_depth(n, len(per_query_ranked))
    items = [FusedItem(int(index), float(score), (QueryHit(q, position + 1, float(score)),))
             for q, ranked in enumerate(per_query_ranked) for position, (index, score) in enumerate(ranked[:depth])]
    return items[: max(0, n)]


CONCAT = "concat"

FUSIONS: dict[str, Callable[[Ranked, int], list[FusedItem]]] = {
    "rrf": reciprocal_rank_fusion,
    "mean": mean_score_fusion,
    CONCAT: concat_per_query,
}


def fuse(per_query_ranked: Ranked, n: int, method: str = "rrf") -> list[FusedItem]:
    if method not in FUSIONS:
        raise CrosstaskError(f"fusion must be one of {', '.join(FUSIONS)}, got {method!r}")
    return FUSIONS[method](per_query_ranked, n)


def initial_depth(n: int, n_queries: int) -> int:
    """Per-query depth to start from: 2·ceil(N/|Q|) (widened by the caller while the union of the
    per-query lists holds fewer than N distinct items)."""
    return 2 * math.ceil(n / max(1, n_queries))


def union_size(per_query_ranked: Ranked) -> int:
    return len({int(i) for ranked in per_query_ranked for i, _ in ranked})
