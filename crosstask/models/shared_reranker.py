"""Shared-context reranker: one retrieved candidate and ALL the queries in one encoder pass.

ReCross reranking scores every (query, candidate) pair: 16 queries × μN candidates, each pair encoded
from scratch by a cross-encoder. Here the candidate is the shared context and the queries are packed
after it (`crosstask.models.shared_context`): the candidate is encoded once per pack, each query
attends to the candidate and itself, and P(helpful) is read from the mean-pooled candidate + query
tokens by a 2-logit `EncoderClassifier` head. It is a model variant (the candidate never sees the
query) trained for it on the same distant-supervision rows; `predict(pairs)` gives the same numbers
as per-pair scoring with the same mask (`score_pairs_same_mask`), so `reranker.rerank` uses it as it
uses a `CrossEncoder`.

Saved as an `EncoderClassifier` directory plus `reranker.json` ({"kind": "shared-context"}), which
`reranker.load_reranker` recognises.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from crosstask.data.prompts import PromptEncoder, Segment
from crosstask.models.backbone import load_tokenizer
from crosstask.models.classifier import ENCODER_DIR, EncoderClassifier
from crosstask.models.shared_context import CandidateScorer, ScoringInstance

MARKER = "reranker.json"


def query_segments(query: str) -> list[Segment]:
    """The per-query tail packed after a candidate (its end is kept when too long)."""
    return [Segment(f"\nQuery: {query.strip()}\nDoes the example help with this query?", truncatable=False)]


def candidate_context(candidate: str) -> list[Segment]:
    return [Segment("Example: ", truncatable=False), Segment(candidate.strip())]


class SharedContextReranker:
    """`predict(pairs)` → P(helpful) per (query, candidate) pair, pairs grouped by candidate and every
    candidate's queries scored in one packed pass."""

    def __init__(self, model, tokenizer, max_length: int = 256, batch_size: int = 16):

        self.model = model.eval()
        self.scorer = CandidateScorer(model, PromptEncoder(tokenizer, max_length), batch_size=batch_size,
                                      tail=query_segments, max_tail_length=max_length // 2)

    @classmethod
    def load(cls, path: str | Path, max_length: int | None = None) -> SharedContextReranker:

        path = Path(path)
        return cls(EncoderClassifier.from_pretrained(path), load_tokenizer(path / ENCODER_DIR), max_length or 256)

    def instances(self, pairs: Sequence[tuple[str, str]]):
        """One ScoringInstance per distinct candidate (first-seen order) and each pair's (instance, slot)."""

        queries: dict[str, list[str]] = {}
        where = []
        for query, candidate in pairs:
            where.append((candidate, len(queries.setdefault(candidate, []))))
            queries[candidate].append(query)
        order = {candidate: k for k, candidate in enumerate(queries)}
        instances = [ScoringInstance(candidate_context(c), qs) for c, qs in queries.items()]
        return instances, [(order[c], slot) for c, slot in where]

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.float64)
        instances, where = self.instances(pairs)
        scores = self.scorer.score(instances)
        return np.array([scores[k][slot] for k, slot in where], dtype=np.float64)
