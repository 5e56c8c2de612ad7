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

import random
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from crosstask.data.prompts import PromptEncoder, Segment
from crosstask.errors import CrosstaskError
from crosstask.io import atomic_write_json

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
        from crosstask.models.shared_context import CandidateScorer

        self.model = model.eval()
        self.scorer = CandidateScorer(model, PromptEncoder(tokenizer, max_length), batch_size=batch_size,
                                      tail=query_segments, max_tail_length=max_length // 2)

    @classmethod
    def load(cls, path: str | Path, max_length: int | None = None) -> SharedContextReranker:
        from crosstask.models.backbone import load_tokenizer
        from crosstask.models.classifier import ENCODER_DIR, EncoderClassifier

        path = Path(path)
        return cls(EncoderClassifier.from_pretrained(path), load_tokenizer(path / ENCODER_DIR), max_length or 256)

    def instances(self, pairs: Sequence[tuple[str, str]]):
        """One ScoringInstance per distinct candidate (first-seen order) and each pair's (instance, slot)."""
        from crosstask.models.shared_context import ScoringInstance

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


def train_shared_reranker(rows: Sequence[dict], base_model: str | Path = "default",
                          output_dir: str | Path = "reranker", epochs: int = 1, batch_size: int = 4, seed: int = 42,
                          lr: float = 2e-5, max_length: int = 256, mixed_precision: str = "auto") -> Path:
    """Train the shared-context reranker on (query, candidate, label) rows with the crosstask `Trainer`
    (one training row = one candidate with all its queries; `batch_size` candidates per step) and save
    it to `output_dir`."""
    from accelerate.utils import set_seed

    from crosstask.models.backbone import load_tokenizer
    from crosstask.models.classifier import ClassifierConfig, EncoderClassifier
    from crosstask.training.classifier import classifier_loss, packed_collate
    from crosstask.training.trainer import Trainer, TrainingArguments

    rows = list(rows)
    if not rows:
        raise CrosstaskError("no reranker training rows")
    set_seed(seed)
    tokenizer = load_tokenizer(base_model)
    model = EncoderClassifier.from_backbone(ClassifierConfig(str(base_model), shared_context=True))
    reranker = SharedContextReranker(model, tokenizer, max_length)
    if not reranker.scorer.shared:
        raise CrosstaskError(f"{base_model} cannot score with a shared context (needs an encoder that honours 4D "
                             "attention masks with position ids); train the CrossEncoder reranker instead")
    labels: dict[tuple[str, str], int] = {(r["query"], r["candidate"]): int(r["label"]) for r in rows}
    instances, _ = reranker.instances(list(labels))
    candidates = list(dict.fromkeys(c for _, c in labels))  # the instances' order (first seen)
    features = []
    for instance, candidate in zip(instances, candidates):
        pending = [labels[(q, candidate)] for q in instance.candidates]
        for pack in reranker.scorer.packs(instance):
            features.append({"input_ids": pack.input_ids, "packed": pack, "labels": pending[:len(pack.spans)]})
            pending = pending[len(pack.spans):]
    random.Random(seed).shuffle(features)
    output_dir = Path(output_dir)
    args = TrainingArguments(output_dir=str(output_dir.parent / f".{output_dir.name}.work"), epochs=epochs,
                             batch_size=batch_size, lr=lr, seed=seed, keep_checkpoints=1, progress=False,
                             mixed_precision=mixed_precision)
    trainer = Trainer(model, features, lambda fs: packed_collate(fs, tokenizer.pad_token_id), classifier_loss, args,
                      lambda m, d: m.save_pretrained(d, tokenizer), model.parameter_groups(lr, lr, 0.01))
    trainer.train()
    final = Path(args.output_dir) / "final"
    atomic_write_json(final / MARKER, {"kind": "shared-context", "base_model": str(base_model),
                                       "max_length": max_length, "rows": len(rows)})
    if output_dir.exists():
        shutil.rmtree(output_dir)
    final.rename(output_dir)
    shutil.rmtree(args.output_dir, ignore_errors=True)
    return output_dir
