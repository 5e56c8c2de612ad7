"""Score every candidate label of every instance with the classifier; predict the argmax of P(correct)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crosstask.data.options import expand_listed_options
from crosstask.data.prompts import PromptConfig, PromptEncoder, classifier_context_segments, pair_segments
from crosstask.data.tasktype import TypedTask
from crosstask.evaluation.distributed import gather_shards, shard
from crosstask.evaluation.metrics import ScoredPrediction, aggregate
from crosstask.models.classifier import score_pairs
from crosstask.models.shared_context import CandidateScorer, ScoringInstance


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


def predict_candidates(model, tasks: Sequence[TypedTask], encoder: PromptEncoder, prompt: PromptConfig,
                       candidates_for=None, batch_size: int = 64, accelerator=None,
                       expand_options: bool = False) -> list[CandidatePrediction]:
    """Predictions for every instance of `tasks`; each process scores its shard, all are gathered.

    `candidates_for(task, instance)` gives the candidates (default: the task's label space). `expand_options`:
    when the input lists candidates by index, those are the candidates, each scored as "index: option text"
    (`data.options`); the prediction is still a candidate itself."""
    was_training = model.training
    model.eval()
    items = [(t, i) for t in tasks for i in t.task.instances]
    local = shard(items, accelerator)
    device = accelerator.device if accelerator is not None else next(model.parameters()).device
    candidate_lists = [tuple(candidates_for(t, i) if candidates_for else t.labels) for t, i in local]
    scored_lists = candidate_lists
    if expand_options and local:
        candidate_lists, scored_lists = map(list, zip(*(expand_listed_options(i.input, cands)
                                                        for (_, i), cands in zip(local, candidate_lists))))
    if getattr(model.config, "shared_context", False) or getattr(model.config, "siamese", False):
        scores = _scorer_scores(model, local, scored_lists, encoder, prompt)
    else:
        features = [encoder.encode(pair_segments(t, i.input, c, prompt))
                    for (t, i), cands in zip(local, scored_lists) for c in cands]
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


def _scorer_scores(model, items, candidate_lists, encoder: PromptEncoder, prompt: PromptConfig) -> list[float]:
    """Flat P(correct) list by `CandidateScorer`: every instance's context encoded once (shared-context packs,
    or siamese embeddings)."""
    instances = [ScoringInstance(classifier_context_segments(t.task.definition, t.task.positive_examples,
                                                             t.task.negative_examples, i.input, prompt), cands)
                 for (t, i), cands in zip(items, candidate_lists)]
    return [p for scores in CandidateScorer(model, encoder).score(instances) for p in scores]


def evaluate_classifier(model, tasks: Sequence[TypedTask], encoder: PromptEncoder, prompt: PromptConfig,
                        batch_size: int = 64, accelerator=None) -> dict:
    predictions = predict_candidates(model, tasks, encoder, prompt, batch_size=batch_size, accelerator=accelerator)
    return {"predictions": predictions, "metrics": aggregate(p.scored() for p in predictions)}


def dev_evaluator(tasks: Sequence[TypedTask], prompt: PromptConfig, batch_size: int = 64):
    """`(model, encoder, accelerator) -> overall metrics` on `tasks`: model selection during training."""
    tasks = list(tasks)

    def evaluate(model, encoder: PromptEncoder, accelerator) -> dict:
        return evaluate_classifier(model, tasks, encoder, prompt, batch_size, accelerator)["metrics"]["overall"]
    return evaluate
