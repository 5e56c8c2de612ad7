"""Shared-context scoring: all candidates of an instance in ONE encoder pass.

`[prefix context ; cand_1 suffix ; … ; cand_k suffix]` is packed into one sequence (e.g. `[CLS] ctx
c1 [SEP] c2 [SEP]`). Context tokens attend only to the context; candidate j's tokens attend to the
context and to themselves; position ids restart at len(prefix + context) for every candidate. This is
a model *variant* (the context never sees the candidate): its exact per-pair reference is
`score_pairs_same_mask`, not ordinary full-attention pair scoring.

Pooling: `mean` pools, for candidate j, the context tokens (with prefix) plus candidate j's tokens
(with its suffix), which is exactly what per-pair mean pooling of `[ctx ; cand_j]` sees. `first`
pooling would pool the [CLS] token, which is context-only and identical for every candidate, so it is
refused (`CandidateScorer` falls back to per-pair scoring).

transformers 5 passes a 4D `attention_mask` (batch, 1, q, k) through unchanged to the attention
function: `sdpa` accepts bool or additive float, but `eager` *adds* it to the scores (a bool mask
is silently wrong), so masks are given to the encoder as additive float (0 / dtype min).
"""

from __future__ import annotations

import inspect
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from crosstask.core.batching import length_batches
from crosstask.core.errors import CrosstaskError
from crosstask.data.prompts import (
    PromptEncoder,
    Segment,
    candidate_alone_segments,
    candidate_segments,
    cut_piece,
    fit_lengths,
)
from crosstask.models.classifier import score_pairs, score_siamese


@dataclass(frozen=True)
class PackedInstance:
    input_ids: list[int]
    position_ids: list[int]
    mask: torch.Tensor                   # (L, L) bool: row (query) may attend column (key)
    context_length: int                  # prefix + context tokens
    spans: tuple[tuple[int, int], ...]   # [start, end) of each candidate (suffix included)


def pack_candidates(context_ids: Sequence[int], candidate_ids: Sequence[Sequence[int]],
                    prefix: Sequence[int] = (), suffix: Sequence[int] = ()) -> PackedInstance:
    """Pack `prefix + context` then each `candidate + suffix`, with the block mask and restarting positions."""
    ids = [*prefix, *context_ids]
    c = len(ids)
    positions, spans = list(range(c)), []
    for cand in candidate_ids:
        block = [*cand, *suffix]
        spans.append((len(ids), len(ids) + len(block)))
        ids += block
        positions += range(c, c + len(block))
    mask = torch.zeros(len(ids), len(ids), dtype=torch.bool)
    mask[:, :c] = True
    for start, end in spans:
        mask[start:end, start:end] = True
    return PackedInstance(ids, positions, mask, c, tuple(spans))


def collate_packed(instances: Sequence[PackedInstance], pad_id: int) -> dict:
    """Right-padded batch: input_ids, position_ids (B, L), attention_mask (B, 1, L, L) bool, pool_mask
    (B, K, L) float (context + candidate k), candidate_mask (B, K) bool, counts (list of k per instance).
    Padding keys are masked; padding queries attend to themselves only (no fully-masked rows)."""
    width = max(len(p.input_ids) for p in instances)
    most = max(max(len(p.spans) for p in instances), 1)
    b = len(instances)
    ids = torch.full((b, width), pad_id, dtype=torch.long)
    pos = torch.zeros((b, width), dtype=torch.long)
    mask = torch.eye(width, dtype=torch.bool).repeat(b, 1, 1)
    pool = torch.zeros((b, most, width))
    valid = torch.zeros((b, most), dtype=torch.bool)
    for row, p in enumerate(instances):
        n = len(p.input_ids)
        ids[row, :n] = torch.tensor(p.input_ids)
        pos[row, :n] = torch.tensor(p.position_ids)
        mask[row, :n, :n] = p.mask
        for k, (start, end) in enumerate(p.spans):
            pool[row, k, :p.context_length] = 1.0
            pool[row, k, start:end] = 1.0
            valid[row, k] = True
    return {"input_ids": ids, "position_ids": pos, "attention_mask": mask.unsqueeze(1), "pool_mask": pool,
            "candidate_mask": valid, "counts": [len(p.spans) for p in instances]}


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Bool (True = attend) → additive float: 0 where attended, the dtype's minimum elsewhere."""
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)


def _run(encoder: nn.Module, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
    param = next(encoder.parameters())
    extra = {} if positions is None else {"position_ids": positions.to(param.device)}
    return encoder(input_ids=ids.to(param.device), attention_mask=additive_mask(mask.to(param.device), param.dtype),
                   **extra).last_hidden_state


_PROBED: weakref.WeakKeyDictionary[nn.Module, tuple[str, bool]] = weakref.WeakKeyDictionary()


def supports_custom_mask(encoder: nn.Module) -> bool:
    """Whether the encoder honours 4D masks AND absolute position_ids (probed once per encoder and
    attention implementation). T5 fails: its forward swallows position_ids and its relative position
    bias would see the packed distances (context ↔ candidate j offset by candidates 1..j-1)."""
    impl = str(getattr(encoder.config, "_attn_implementation", None))
    cached = _PROBED.get(encoder)
    if cached is not None and cached[0] == impl:
        return cached[1]
    ok = impl in ("eager", "sdpa") and "position_ids" in inspect.signature(encoder.forward).parameters
    if ok:
        was_training = encoder.training
        encoder.eval()
        try:
            ok = _probe(encoder)
        except Exception:  # noqa: BLE001 - any failure means "not supported"
            ok = False
        finally:
            encoder.train(was_training)
    _PROBED[encoder] = (impl, ok)
    return ok


@torch.inference_mode()
def _probe(encoder: nn.Module) -> bool:
    a, b, c, d = (min(5 + i, encoder.config.vocab_size - 1) for i in range(4))

    atol = 1e-4 if next(encoder.parameters()).dtype == torch.float32 else 5e-2

    def close(x: torch.Tensor, y: torch.Tensor) -> bool:
        return torch.allclose(x.float(), y.float(), atol=atol)

    # a blocked key must act as if the token were absent
    plain = encoder(input_ids=torch.tensor([[a, b]], device=next(encoder.parameters()).device)).last_hidden_state
    blocked = torch.ones(1, 1, 3, 3, dtype=torch.bool)
    blocked[..., :2, 2] = False
    if not close(_run(encoder, torch.tensor([[a, b, c]]), blocked, None)[:, :2], plain):
        return False
    # restarted positions: candidate d in the pack == d alone after the context
    packed = collate_packed([pack_candidates([a], [[b, c], [d]])], 0)
    out = _run(encoder, packed["input_ids"], packed["attention_mask"], packed["position_ids"])
    alone = collate_packed([pack_candidates([a], [[d]])], 0)
    ref = _run(encoder, alone["input_ids"], alone["attention_mask"], None)
    return close(out[:, [0, 3]], ref)


def shared_context_logits(model: nn.Module, batch: dict) -> torch.Tensor:
    """Differentiable (total candidates, 2) logits, instance-major; mean pooling only."""
    if model.config.pooling != "mean":
        raise CrosstaskError("shared-context scoring needs mean pooling: the first token is context-only")
    hidden = _run(model.encoder, batch["input_ids"], batch["attention_mask"], batch["position_ids"])
    pool = batch["pool_mask"].to(hidden.device, hidden.dtype)
    pooled = torch.einsum("bkl,blh->bkh", pool, hidden) / pool.sum(-1, keepdim=True).clamp(min=1.0)
    return model.head(model.dropout(pooled[batch["candidate_mask"].to(hidden.device)]))


def _split(values: list[float], counts: Sequence[int]) -> list[list[float]]:
    out, offset = [], 0
    for n in counts:
        out.append(values[offset:offset + n])
        offset += n
    return out


@torch.inference_mode()
def score_shared_context(model: nn.Module, packed_batch: dict) -> list[list[float]]:
    """P(correct) of every candidate of every packed instance."""
    probs = torch.softmax(shared_context_logits(model, packed_batch).float(), -1)[:, 1].tolist()
    return _split(probs, packed_batch["counts"])


@torch.inference_mode()
def score_pairs_same_mask(model: nn.Module, context_ids: Sequence[int], candidate_ids: Sequence[Sequence[int]],
                          prefix: Sequence[int] = (), suffix: Sequence[int] = ()) -> list[float]:
    """Exact reference: each `[prefix ctx ; cand suffix]` alone, default positions, context not seeing the
    candidate."""
    scores = []
    for cand in candidate_ids:
        ids = [*prefix, *context_ids, *cand, *suffix]
        c = len(prefix) + len(context_ids)
        mask = torch.ones(1, 1, len(ids), len(ids), dtype=torch.bool)
        mask[..., :c, c:] = False
        hidden = _run(model.encoder, torch.tensor([ids]), mask, None)
        pooled = model.pool(hidden, torch.ones(1, len(ids), dtype=torch.long, device=hidden.device))
        scores.append(torch.softmax(model.head(model.dropout(pooled)).float(), -1)[0, 1].item())
    return scores


@dataclass(frozen=True)
class ScoringInstance:
    context: Sequence[Segment]   # classifier_context_segments(...)
    candidates: Sequence[str]


class CandidateScorer:
    """Scores candidates: a siamese classifier encodes each context and each distinct candidate once
    (`score_siamese`); else shared-context when the model supports it (mean pooling, 4D masks, position
    ids), else per-pair full attention (`score_pairs`) with a one-time warning saying so."""

    def __init__(self, model: nn.Module, encoder: PromptEncoder, batch_size: int = 16,
                 max_packed_length: int = 1024, shared: bool | None = None,
                 tail: Callable[[str], list[Segment]] = candidate_segments, max_tail_length: int | None = None):
        self.model, self.encoder, self.batch_size = model, encoder, batch_size
        self.max_packed_length = max_packed_length
        self._shared, self._warned = shared, False
        self.tail, self.max_tail_length = tail, max_tail_length  # tails keep their last max_tail_length ids

    @property
    def siamese(self) -> bool:
        return bool(getattr(self.model.config, "siamese", False))

    @property
    def shared(self) -> bool:
        if self._shared is None and self.siamese:
            self._shared = False
        if self._shared is None:
            reason = ("pooling is not 'mean'" if self.model.config.pooling != "mean" else
                      None if supports_custom_mask(self.model.encoder) else
                      f"{type(self.model.encoder).__name__} does not honour 4D masks with position_ids")
            self._shared = reason is None
            if reason and not self._warned:
                self._warned = True
                warnings.warn(f"shared-context scoring unavailable ({reason}); falling back to per-pair "
                              "full-attention scoring", RuntimeWarning, stacklevel=3)
        return self._shared

    def encode_instance(self, instance: ScoringInstance) -> tuple[list[int], list[list[int]]]:
        """Context ids (truncated so that every [ctx ; cand] pair fits max_length) and candidate tail ids."""
        enc = self.encoder
        room = enc.max_length - len(enc.prefix) - len(enc.suffix)
        keep = min(room, self.max_tail_length or room)
        tails = [[i for s in self.tail(c) for i in enc.ids(s.text)][-keep:] for c in instance.candidates]
        budget = room - max((len(t) for t in tails), default=0)
        pieces = [enc.ids(s.text) for s in instance.context]
        cut = [s.truncatable for s in instance.context]
        try:
            lengths = fit_lengths([len(p) for p in pieces], cut, budget)
        except ValueError:  # fixed context alone is too long: keep its end
            fixed = [i for p, can in zip(pieces, cut) if not can for i in p]
            return (fixed[-budget:] if budget > 0 else []), tails
        return [i for p, n, s in zip(pieces, lengths, instance.context) for i in cut_piece(p, n, s.keep_head)], tails

    def packs(self, instance: ScoringInstance) -> list[PackedInstance]:
        """The instance's candidates packed after its context, split so no pack exceeds max_packed_length."""
        return self._packs(instance)

    def _packs(self, instance: ScoringInstance) -> list[PackedInstance]:
        context, tails = self.encode_instance(instance)
        enc, chunks, size = self.encoder, [[]], len(self.encoder.prefix) + len(context)
        for tail in tails:
            extra = len(tail) + len(enc.suffix)
            if chunks[-1] and size + extra > self.max_packed_length:
                chunks.append([])
                size = len(enc.prefix) + len(context)
            chunks[-1].append(tail)
            size += extra
        return [pack_candidates(context, chunk, enc.prefix, enc.suffix) for chunk in chunks if chunk]

    def score(self, instances: Sequence[ScoringInstance]) -> list[list[float]]:
        """P(correct) per candidate per instance (model put in eval mode meanwhile)."""
        was_training = self.model.training
        self.model.eval()
        try:
            if self.siamese:
                return self._score_siamese(instances)
            return self._score_shared(instances) if self.shared else self._score_pairs(instances)
        finally:
            self.model.train(was_training)

    def _score_pairs(self, instances: Sequence[ScoringInstance]) -> list[list[float]]:
        device = next(self.model.parameters()).device
        features = [self.encoder.encode([*inst.context, *self.tail(c)]) for inst in instances for c in inst.candidates]
        scores = score_pairs(self.model, features, self.encoder.tokenizer.pad_token_id, self.batch_size, device)
        return _split(scores, [len(inst.candidates) for inst in instances])

    def _score_siamese(self, instances: Sequence[ScoringInstance]) -> list[list[float]]:
        index: dict[str, int] = {}
        pairs = [(n, index.setdefault(c, len(index))) for n, inst in enumerate(instances) for c in inst.candidates]
        contexts = [self.encoder.encode(inst.context) for inst in instances]
        candidates = [self.encoder.encode(candidate_alone_segments(c)) for c in index]
        scores = score_siamese(self.model, contexts, candidates, pairs, self.encoder.tokenizer.pad_token_id,
                               max(self.batch_size, 64), next(self.model.parameters()).device)
        return _split(scores, [len(inst.candidates) for inst in instances])

    def _score_shared(self, instances: Sequence[ScoringInstance]) -> list[list[float]]:
        packs = [(n, p) for n, inst in enumerate(instances) for p in self._packs(inst)]
        results: list[list[float]] = [[] for _ in packs]
        for chunk in length_batches([len(p.input_ids) for _, p in packs], self.batch_size):
            batch = collate_packed([packs[i][1] for i in chunk], self.encoder.tokenizer.pad_token_id)
            for i, scores in zip(chunk, score_shared_context(self.model, batch)):
                results[i] = scores
        out: list[list[float]] = [[] for _ in instances]
        for (n, _), scores in zip(packs, results):
            out[n] += scores
        return out
