"""Score every candidate label of every instance with the classifier; predict the argmax of P(correct)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from crosstask.data.prompts import PromptConfig, PromptEncoder
from crosstask.data.tasktype import TypedTask
from crosstask.evaluation.distributed import gather_shards, shard
from crosstask.evaluation.metrics import ScoredPrediction, aggregate
from crosstask.progress import progress


@dataclass(frozen=True)
class CandidatePrediction:
    id: str
    task: str
    category: str
    prediction: str
    references: tuple[str, ...]
    candidates: tuple[str, ...]
    scores: tuple[float, ...]

    def scored(self) -> ScoredPrediction:
        return ScoredPrediction(self.id, self.task, self.category, self.prediction, self.references)


@torch.inference_mode()
def score_pairs(model, features: list[list[int]], pad_token_id: int, batch_size: int = 64, device="cpu") -> list[float]:
    """P(correct) for each encoded pair; batches grouped by length, results in input order."""
    from crosstask.training.classifier import pad_collate

    order = sorted(range(len(features)), key=lambda i: len(features[i]))
    scores = [0.0] * len(features)
    starts = range(0, len(order), batch_size)
    for start in progress(starts, len(starts), "score pairs", min_items=20):
        chunk = order[start:start + batch_size]
        batch = pad_collate([{"input_ids": features[i]} for i in chunk], pad_token_id)
        logits = model(batch["input_ids"].to(device), batch["attention_mask"].to(device))
        for i, p in zip(chunk, torch.softmax(logits.float(), -1)[:, 1].tolist()):
            scores[i] = p
    return scores


def predict_candidates(model, tasks: Sequence[TypedTask], encoder: PromptEncoder, prompt: PromptConfig,
                       candidates_for=None, batch_size: int = 64, accelerator=None) -> list[CandidatePrediction]:
    """Predictions for every instance of `tasks`; each process scores its shard, all are gathered.

    `candidates_for(task, instance)` gives the candidates (default: the task's label space)."""
    from crosstask.training.classifier import pair_segments

    was_training = model.training
    model.eval()
    items = [(t, i) for t in tasks for i in t.task.instances]
    local = shard(items, accelerator)
    device = accelerator.device if accelerator is not None else next(model.parameters()).device
    candidate_lists = [tuple(candidates_for(t, i) if candidates_for else t.labels) for t, i in local]
    if getattr(model.config, "shared_context", False):
        scores = _shared_context_scores(model, local, candidate_lists, encoder, prompt)
    else:
        features = [encoder.encode(pair_segments(t, i.input, c, prompt))
                    for (t, i), cands in zip(local, candidate_lists) for c in cands]
        scores = score_pairs(model, features, encoder.tokenizer.pad_token_id, batch_size, device)
    predictions, offset = [], 0
    for (task, instance), cands in zip(local, candidate_lists):
        own = scores[offset:offset + len(cands)]
        offset += len(cands)
        best = max(range(len(cands)), key=own.__getitem__) if cands else None
        predictions.append(CandidatePrediction(instance.id, task.name, task.task.category,
                                               cands[best] if best is not None else "", instance.outputs,
                                               cands, tuple(own)))
    model.train(was_training)
    return gather_shards(predictions, accelerator, key=lambda p: p.id)


def _shared_context_scores(model, items, candidate_lists, encoder: PromptEncoder, prompt: PromptConfig) -> list[float]:
    """Flat P(correct) list, every instance's candidates scored in one packed pass."""
    from crosstask.data.prompts import classifier_context_segments
    from crosstask.models.shared_context import CandidateScorer, ScoringInstance

    instances = [ScoringInstance(classifier_context_segments(t.task.definition, t.task.positive_examples,
                                                             t.task.negative_examples, i.input, prompt), cands)
                 for (t, i), cands in zip(items, candidate_lists)]
    return [p for scores in CandidateScorer(model, encoder).score(instances) for p in scores]


def evaluate_classifier(model, tasks: Sequence[TypedTask], encoder: PromptEncoder, prompt: PromptConfig,
                        batch_size: int = 64, accelerator=None) -> dict:
    predictions = predict_candidates(model, tasks, encoder, prompt, batch_size=batch_size, accelerator=accelerator)
    return {"predictions": predictions, "metrics": aggregate(p.scored() for p in predictions)}
