"""Retrievers over an upstream pool of T0 records: random, BM25 (bm25s) and dense (FAISS).

`retrieve(queries, n)` ranks the pool per query, widens the per-query depth until the union holds
at least `n` distinct records, and fuses (RRF by default) into exactly `min(n, pool size)` items.
With `fusion="concat"` (the ReCross paper's aggregation) each query's top ⌈N/|Q|⌉ are concatenated
instead, duplicates kept, trimmed to `n`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crosstask.core.errors import CrosstaskError
from crosstask.data.records import T0Record
from crosstask.retrieval.aggregate import CONCAT, QueryHit, fuse, initial_depth, per_query_depth, union_size
from crosstask.retrieval.encoders import PROGRESS_MIN_TEXTS, Encoder
from crosstask.retrieval.index import DenseIndex

Ranked = list[list[tuple[int, float]]]


@dataclass(frozen=True)
class RetrievedItem:
    pool_index: int
    uid: str
    score: float  # fused score
    hits: tuple[QueryHit, ...] = ()  # per-query rank (1-based) and score


@dataclass
class RetrievedSet:
    """The retrieved records, best first, with how they were found."""

    items: list[RetrievedItem]
    method: str
    fusion: str = ""
    depth: int = 0  # per-query depth finally used
    n_queries: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def indices(self) -> list[int]:
        return [item.pool_index for item in self.items]

    @property
    def uids(self) -> list[str]:
        return [item.uid for item in self.items]

    def records(self, pool: Sequence[T0Record]) -> list[T0Record]:
        return [pool[i] for i in self.indices]

    def to_json(self) -> dict[str, Any]:
        items = [{"pool_index": it.pool_index, "uid": it.uid, "score": it.score,
                  "hits": [[h.query, h.rank, h.score] for h in it.hits]} for it in self.items]
        return {"method": self.method, "fusion": self.fusion, "depth": self.depth, "n_queries": self.n_queries,
                **self.extra, "items": items}


def top_k_ids(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, ties broken by index ascending (deterministic)."""
    scores = np.asarray(scores)
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k < len(scores):
        threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
        candidates = np.flatnonzero(scores >= threshold)
    else:
        candidates = np.arange(len(scores))
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order][:k]


class Retriever(ABC):
    """Base: subclasses rank the pool for prepared queries (`_rank`); this class fuses.

    The result holds exactly `n` items, except with an approximate index that cannot reach `n`
    distinct records even at full depth (then it holds all it found)."""

    name = "retriever"

    def __init__(self, records: Sequence[T0Record], fusion: str = "rrf"):
        if not records:
            raise CrosstaskError("cannot retrieve from an empty pool")
        self.records = list(records)
        self.fusion = fusion

    def _check(self, queries: Sequence[str], n: int, need_queries: bool = True) -> None:
        if n < 1:
            raise CrosstaskError(f"n must be >= 1, got {n}")
        if n > len(self.records):
            raise CrosstaskError(f"cannot retrieve {n} records from a pool of {len(self.records)}")
        if need_queries and not queries:
            raise CrosstaskError(f"{self.name} retrieval needs at least one query")

    def _prepare(self, queries: list[str]) -> Any:
        return queries

    @abstractmethod
    def _rank(self, prepared: Any, depth: int) -> Ranked:
        """Per query, up to `depth` (pool index, score) pairs, best first."""

    def retrieve(self, queries: Sequence[str], n: int) -> RetrievedSet:
        queries = list(queries)
        self._check(queries, n)
        prepared = self._prepare(queries)
        if self.fusion == CONCAT:  # exactly ⌈N/|Q|⌉ per query, duplicates kept: no widening
            depth = min(per_query_depth(n, len(queries)), len(self.records))
            return self._items(fuse(self._rank(prepared, depth), n, CONCAT), depth, len(queries))
        depth = min(initial_depth(n, len(queries)), len(self.records))
        while True:
            ranked = self._rank(prepared, depth)
            if union_size(ranked) >= n or depth >= len(self.records):
                break
            depth = min(2 * depth, len(self.records))
        return self._items(fuse(ranked, n, self.fusion), depth, len(queries))

    def _items(self, fused, depth: int, n_queries: int) -> RetrievedSet:
        items = [RetrievedItem(f.pool_index, self.records[f.pool_index].uid, f.score, f.hits) for f in fused]
        return RetrievedSet(items, self.name, self.fusion, depth, n_queries)


class RandomRetriever(Retriever):
    """Uniform sample without replacement, seeded (seed = round); queries are ignored. The sample
    for n is a prefix of the sample for any larger n under the same seed."""

    name = "random"

    def __init__(self, records: Sequence[T0Record], seed: int = 0):
        super().__init__(records, fusion="")
        self.seed = seed

    def _rank(self, prepared: Any, depth: int) -> Ranked:  # pragma: no cover - retrieve is overridden
        raise NotImplementedError

    def retrieve(self, queries: Sequence[str], n: int) -> RetrievedSet:
        self._check(queries, n, need_queries=False)
        order = np.random.default_rng(self.seed).permutation(len(self.records))[:n]
        items = [RetrievedItem(int(i), self.records[int(i)].uid, 0.0) for i in order]
        return RetrievedSet(items, self.name, "", 0, len(queries), {"seed": self.seed})


class BM25Retriever(Retriever):
    """BM25 (bm25s, Lucene variant) over the records' inputs; English stopwords removed."""

    name = "bm25"

    def __init__(self, records: Sequence[T0Record], fusion: str = "rrf", k1: float = 1.5, b: float = 0.75,
                 stopwords: str | None = "en"):
        import bm25s

        super().__init__(records, fusion)
        self.stopwords = stopwords
        texts = [r.input for r in self.records]
        progress = len(texts) >= PROGRESS_MIN_TEXTS
        tokens = bm25s.tokenize(texts, stopwords=stopwords, return_ids=True, show_progress=progress)
        self.bm25 = bm25s.BM25(k1=k1, b=b)
        self.bm25.index(tokens, show_progress=progress)

    def _prepare(self, queries: list[str]) -> list[np.ndarray]:
        """Full score vectors over the pool, one per query (exact, and deterministic under ties)."""
        import bm25s

        tokens = bm25s.tokenize(queries, stopwords=self.stopwords, return_ids=False, show_progress=False)
        zeros = np.zeros(len(self.records), dtype=np.float32)
        return [np.asarray(self.bm25.get_scores(list(t)), dtype=np.float32) if t else zeros for t in tokens]

    def _rank(self, prepared: list[np.ndarray], depth: int) -> Ranked:
        return [[(int(i), float(s[i])) for i in top_k_ids(s, depth)] for s in prepared]


class DenseRetriever(Retriever):
    """Cosine similarity of encoder embeddings via a FAISS `DenseIndex` (an exact index over the
    records' inputs is built when none is given)."""

    name = "dense"

    def __init__(self, records: Sequence[T0Record], encoder: Encoder, index: DenseIndex | None = None,
                 fusion: str = "rrf"):
        super().__init__(records, fusion)
        self.encoder = encoder
        if index is None:
            index = DenseIndex.build(encoder.encode([r.input for r in self.records]),
                                     [r.uid for r in self.records], fingerprint=encoder.fingerprint)
        if index.size != len(self.records) or index.uids != [r.uid for r in self.records]:
            raise CrosstaskError(f"the index ({index.size} vectors) is not aligned with the pool "
                                 f"({len(self.records)} records): rebuild it for this pool")
        if index.fingerprint and index.fingerprint != encoder.fingerprint:
            raise CrosstaskError("the index was built with another encoder (fingerprints differ): rebuild it")
        self.index = index

    def _prepare(self, queries: list[str]) -> np.ndarray:
        return self.encoder.encode(queries)

    def _rank(self, prepared: np.ndarray, depth: int) -> Ranked:
        scores, ids = self.index.search(prepared, depth)
        ranked = []
        for row_scores, row_ids in zip(scores, ids):
            pairs = sorted(((int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0),
                           key=lambda p: (-p[1], p[0]))
            ranked.append(pairs)
        return ranked
