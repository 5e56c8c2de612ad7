"""Generator predictions: free generation (greedy / beam, N-best), the fair mode that ranks the label
space by sequence log-likelihood, and classifier reranking of the generator's N-best."""

from __future__ import annotations

from collections.abc import Sequence

from crosstask.core.batching import length_batches
from crosstask.core.progress import progress
from crosstask.data.prompts import PromptConfig, PromptEncoder, source_ids
from crosstask.data.tasktype import TypedTask, dedupe_labels
from crosstask.evaluation.classifier import CandidatePrediction, predict_candidates
from crosstask.evaluation.distributed import gather_shards, shard
from crosstask.evaluation.metrics import aggregate
from crosstask.models.generator import batch_sequence_log_likelihoods, generate


def predict_generator(model, tokenizer, tasks: Sequence[TypedTask], encoder: PromptEncoder, prompt: PromptConfig,
                      *, num_beams: int = 1, n_best: int = 1, max_new_tokens: int = 64, batch_size: int = 16,
                      accelerator=None) -> list[CandidatePrediction]:
    """Free generation; `candidates` holds the N-best list (deduplicated by normalised form), best first."""
    items = shard([(t, i) for t in tasks for i in t.task.instances], accelerator)
    sources = [source_ids(t, i.input, encoder, prompt) for t, i in items]
    outputs = generate(model, tokenizer, sources, max_new_tokens=max_new_tokens, num_beams=max(num_beams, n_best),
                       num_return_sequences=n_best, batch_size=batch_size) if sources else []
    predictions = []
    for (task, instance), beams in zip(items, outputs):
        candidates = dedupe_labels(beams) or ("",)
        predictions.append(CandidatePrediction(instance.id, task.name, task.task.category, candidates[0],
                                               instance.outputs, candidates, ()))
    return gather_shards(predictions, accelerator)


def predict_fair(model, tokenizer, tasks: Sequence[TypedTask], encoder: PromptEncoder, prompt: PromptConfig,
                 *, length_normalize: bool = False, max_target_length: int = 64, batch_size: int = 16,
                 accelerator=None) -> list[CandidatePrediction]:
    """The fair generator: it gets the same label space as the classifier and picks the most likely label
    (first on ties). Sources are scored `batch_size` at a time, batched by length to limit padding."""
    items = shard([(t, i) for t in tasks for i in t.task.instances], accelerator)
    sources = [source_ids(t, i.input, encoder, prompt) for t, i in items]
    scores: list[list[float]] = [[] for _ in items]
    batches = length_batches([len(s) for s in sources], batch_size, longest_first=True)
    for chunk in progress(batches, len(batches), "rank label space", min_items=20):
        chunk_scores = batch_sequence_log_likelihoods(
            model, tokenizer, [sources[k] for k in chunk], [list(items[k][0].labels) for k in chunk],
            max_target_length=max_target_length, length_normalize=length_normalize)
        for k, row in zip(chunk, chunk_scores):
            scores[k] = row
    predictions = []
    for (task, instance), row in zip(items, scores):
        best = max(range(len(row)), key=row.__getitem__) if row else None
        predictions.append(CandidatePrediction(instance.id, task.name, task.task.category,
                                               task.labels[best] if best is not None else "", instance.outputs,
                                               task.labels, tuple(row)))
    return gather_shards(predictions, accelerator)


def rerank_with_classifier(nbest: Sequence[CandidatePrediction], classifier, tasks: Sequence[TypedTask],
                           encoder: PromptEncoder, prompt: PromptConfig,
                           accelerator=None) -> list[CandidatePrediction]:
    """Let the classifier choose among the generator's N-best outputs of each instance."""
    lists = {p.id: p.candidates for p in nbest}
    return predict_candidates(classifier, tasks, encoder, prompt, candidates_for=lambda t, i: lists[i.id],
                              accelerator=accelerator)


def dev_evaluator(tasks: Sequence[TypedTask], prompt: PromptConfig, max_new_tokens: int = 64):
    """`(model, encoder, accelerator) -> overall metrics` of greedy generation on `tasks` (model selection)."""
    tasks = list(tasks)

    def evaluate(model, encoder: PromptEncoder, accelerator) -> dict:
        predictions = predict_generator(model, encoder.tokenizer, tasks, encoder, prompt,
                                        max_new_tokens=max_new_tokens, accelerator=accelerator)
        return aggregate(p.scored() for p in predictions)["overall"]
    return evaluate
