"""ReCross reranking: a sentence-transformers `CrossEncoder` over (query input, candidate input) pairs
(trained by `crosstask.training.reranker` on the rows of `crosstask.experiments.distant_supervision`).

`rerank` scores every (query, candidate) pair, averages over the queries and keeps the top N (the
caller retrieves μ·N first). The cross-encoder is a 2-way classifier (num_labels=2, labels 0 =
unhelpful, 1 = helpful, cross-entropy), as in the paper; its score is P(helpful) (softmax). Any object
with `predict(pairs) -> np.ndarray` works: 1-d outputs are used as they are, (n, 2) as logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from crosstask.core.errors import CrosstaskError
from crosstask.data.records import T0Record
from crosstask.models.shared_reranker import MARKER, SharedContextReranker
from crosstask.retrieval.retrievers import RetrievedItem, RetrievedSet


def pair_scores(cross_encoder, pairs: list[tuple[str, str]], batch_size: int = 32) -> np.ndarray:
    """One score per pair: P(helpful) for a 2-logit model, the raw score for a 1-score model."""
    if not pairs:
        return np.zeros(0, dtype=np.float32)
    try:
        from sentence_transformers import CrossEncoder
    except ImportError:  # pragma: no cover - sentence-transformers is a dependency
        CrossEncoder = ()
    if isinstance(cross_encoder, CrossEncoder):
        raw = cross_encoder.predict(pairs, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
    else:
        raw = cross_encoder.predict(pairs)
    scores = np.asarray(raw, dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] == 2:
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores = shifted[:, 1] / shifted.sum(axis=1)
    scores = scores.reshape(len(pairs), -1)
    if scores.shape[1] != 1:
        raise CrosstaskError(f"expected one score or two logits per pair, got shape {np.shape(raw)}")
    return scores[:, 0]


def rerank(cross_encoder, queries: Sequence[str], candidates: RetrievedSet, pool_records: Sequence[T0Record],
           n: int, batch_size: int = 32) -> RetrievedSet:
    """The `n` candidates of highest mean cross-encoder score over the queries (ties: retrieval order).
    Item scores become the mean reranker scores; per-query retrieval hits are kept."""
    queries = list(queries)
    if not queries:
        raise CrosstaskError("reranking needs at least one query")
    texts = [pool_records[i].input for i in candidates.indices]
    pairs = [(q, t) for t in texts for q in queries]
    means = pair_scores(cross_encoder, pairs, batch_size).reshape(len(texts), len(queries)).mean(axis=1)
    order = sorted(range(len(texts)), key=lambda k: (-means[k], k))[: max(0, n)]
    items = [RetrievedItem(candidates.items[k].pool_index, candidates.items[k].uid, float(means[k]),
                           candidates.items[k].hits) for k in order]
    extra = {**candidates.extra, "reranked_from": len(candidates), "retrieval_method": candidates.method}
    return RetrievedSet(items, f"{candidates.method}+rerank", candidates.fusion, candidates.depth,
                        candidates.n_queries, extra)


def load_reranker(path: str | Path, max_length: int | None = None):
    """A saved reranker: the shared-context reranker when its directory says so, else a
    sentence-transformers `CrossEncoder` (local files only)."""
    from sentence_transformers import CrossEncoder


    if (Path(path) / MARKER).exists():
        return SharedContextReranker.load(path, max_length)

    return CrossEncoder(str(path), max_length=max_length, local_files_only=True)


def reranker_device_type(reranker) -> str:
    """"cpu" / "cuda" / ...: where a loaded reranker (CrossEncoder or shared-context) runs."""
    module = getattr(reranker, "model", reranker)
    return next(module.parameters()).device.type
