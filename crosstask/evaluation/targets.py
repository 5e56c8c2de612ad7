"""Evaluate an upstream (or adapted) model on one ReCross target task.

Protocols (`TargetResult.protocols` says which applied):
- "generation": the paper's protocol, a generator generates (greedy, or beam search) for every test
  record; EM and SoftEM over all of them, with the paper's normalisation and empty-string rule
  (`crosstask.evaluation.recross_metrics`: SQuAD-style, articles dropped; not SuperNI's).
- "rank/classifier", "rank/generator": rank classification on the test records whose template has an
  answer option set (`crosstask.data.t0_tasks.option_sets`, read from the query pool): the classifier
  picks the option of highest P(correct), the generator the option of highest log-likelihood;
  accuracy = EM of the chosen option against the gold outputs (SuperNI normalisation, articles kept).

Inputs are encoded with `T0_PROMPT` by default: one longer than the model's length loses the middle
of its passage, never its end (the question, the options, "Answer:"); `counts["inputs_cut"]` says
for how many test records that happened (`inputs_checked`: how many were checked).

Labels are never read before scoring: `predict_target` builds tasks whose instances have no outputs
and never touches `record.outputs`; `score_target` attaches the references afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from crosstask.data.prompts import T0_PROMPT, PromptConfig, PromptEncoder, pair_segments, task_generator_segments
from crosstask.data.records import T0Record, TaskType
from crosstask.data.t0_tasks import TemplateKey, group_by_template, make_task
from crosstask.data.tasktype import LabelSpaceMode, TypedTask
from crosstask.evaluation.classifier import CandidatePrediction, predict_candidates
from crosstask.evaluation.generator import predict_fair, predict_generator
from crosstask.evaluation.metrics import exact_match, normalize_answer
from crosstask.evaluation.recross_metrics import recross_scores
from crosstask.models.generator import GeneratorConfig

GENERATION = "generation"
RANK_CLASSIFIER = "rank/classifier"
RANK_GENERATOR = "rank/generator"


@dataclass
class TargetPredictions:
    """Predictions per protocol (references still empty) and the test records each list covers, in order."""

    name: str
    n_test: int
    n_templates: int
    options: dict[TemplateKey, tuple[str, ...]]
    predictions: dict[str, list[CandidatePrediction]] = field(default_factory=dict)
    records: dict[str, list[T0Record]] = field(default_factory=dict)
    rank_templates: int = 0
    inputs_cut: int = 0  # test records whose encoded input was cut to the model's max length
    inputs_checked: int = 0


@dataclass
class TargetResult:
    """Metrics (× 100) per protocol and counts for one target."""

    name: str
    protocols: list[str]
    metrics: dict[str, dict[str, float]]
    counts: dict[str, int]
    predictions: dict[str, list[CandidatePrediction]] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict:
        """Everything but the predictions, as plain JSON types."""
        return {"name": self.name, "protocols": list(self.protocols),
                "metrics": {p: dict(m) for p, m in self.metrics.items()}, "counts": dict(self.counts)}

    def prediction_rows(self) -> dict[str, list[dict]]:
        return {protocol: [{"id": p.id, "task": p.task, "prediction": p.prediction, "references": list(p.references),
                            "candidates": list(p.candidates), "scores": list(p.scores)} for p in preds]
                for protocol, preds in self.predictions.items()}


def unlabeled_tasks(records: Sequence[T0Record], options: Mapping[TemplateKey, Sequence[str]]
                    ) -> tuple[list[TypedTask], list[list[T0Record]]]:
    """One TypedTask per template with empty outputs (CLS with its options when it has some, else GEN),
    and the records of each task in instance order. Reads inputs and ids only."""
    tasks, groups = [], []
    for key, group in group_by_template(records).items():
        labels = tuple(options.get(key, ()))
        kind = TaskType.CLS if labels else TaskType.GEN
        tasks.append(TypedTask(make_task(key, group, with_outputs=False), kind, labels, LabelSpaceMode.EXAMPLES))
        groups.append(group)
    return tasks, groups


def inputs_cut(tasks: Sequence[TypedTask], encoder: PromptEncoder, prompt: PromptConfig = T0_PROMPT,
               pairs: bool = False) -> int:
    """How many instances of `tasks` have an input the encoding cuts: with `pairs`, in any (input,
    option) classifier pair of the task's options; else in the generator source."""

    def cut(task: TypedTask, text: str) -> bool:
        if pairs:
            return any(encoder.cuts(pair_segments(task, text, c, prompt)) for c in task.labels)
        return encoder.cuts(task_generator_segments(task, text, prompt))

    return sum(cut(t, i.input) for t in tasks for i in t.task.instances)


def predict_target(target_test_records: Sequence[T0Record], options: Mapping[TemplateKey, Sequence[str]], *,
                   name: str | None = None, classifier=None, classifier_encoder: PromptEncoder | None = None,
                   generator=None, generator_tokenizer=None, generator_encoder: PromptEncoder | None = None,
                   max_new_tokens: int = 64, num_beams: int = 1, prompt: PromptConfig = T0_PROMPT,
                   max_instances: int | None = None, expand_options: bool = False) -> TargetPredictions:
    """Every applicable protocol's predictions; no test label is read. `expand_options`: the rank classifier
    scores options the input lists by index as "index: text" (`data.options`)."""
    if classifier is None and generator is None:
        raise ValueError("nothing to evaluate: pass a classifier and/or a generator")
    if classifier is not None and classifier_encoder is None:
        raise ValueError("a classifier needs its classifier_encoder (PromptEncoder)")
    if generator is not None and generator_tokenizer is None:
        raise ValueError("a generator needs its generator_tokenizer")
    records = list(target_test_records)[:max_instances]
    tasks, groups = unlabeled_tasks(records, options)
    ranked = [(t, g) for t, g in zip(tasks, groups) if t.labels]
    ranked_tasks = [t for t, _ in ranked]
    ranked_records = [r for _, g in ranked for r in g]
    out = TargetPredictions(name if name is not None else (getattr(records[0], "task", "") if records else ""),
                            len(records), len(tasks), {k: tuple(v) for k, v in options.items()},
                            rank_templates=len(ranked_tasks))
    if generator is not None:

        encoder = generator_encoder or PromptEncoder(generator_tokenizer, GeneratorConfig().max_source_length)
        out.predictions[GENERATION] = predict_generator(generator, generator_tokenizer, tasks, encoder, prompt,
                                                        num_beams=num_beams, max_new_tokens=max_new_tokens)
        out.records[GENERATION] = [r for g in groups for r in g]
        out.inputs_cut, out.inputs_checked = inputs_cut(tasks, encoder, prompt), len(records)
    if classifier is not None and ranked_tasks:
        out.inputs_cut = inputs_cut(ranked_tasks, classifier_encoder, prompt, pairs=True)
        out.inputs_checked = len(ranked_records)
        out.predictions[RANK_CLASSIFIER] = predict_candidates(classifier, ranked_tasks, classifier_encoder, prompt,
                                                                  expand_options=expand_options)
        out.records[RANK_CLASSIFIER] = ranked_records
    if generator is not None and ranked_tasks:
        out.predictions[RANK_GENERATOR] = predict_fair(generator, generator_tokenizer, ranked_tasks, encoder, prompt)
        out.records[RANK_GENERATOR] = ranked_records
    return out


def with_references(predictions: Sequence[CandidatePrediction],
                    records: Sequence[T0Record]) -> list[CandidatePrediction]:
    """Attach each record's gold outputs to its prediction (same order; ids are checked)."""
    if len(predictions) != len(records):
        raise ValueError(f"{len(predictions)} predictions for {len(records)} records")
    attached = []
    for prediction, record in zip(predictions, records):
        if prediction.id != record.uid:
            raise ValueError(f"prediction {prediction.id!r} is not aligned with record {record.uid!r}")
        attached.append(replace(prediction, references=tuple(record.outputs)))
    return attached


def protocol_scores(protocol: str, prediction: str, references: Sequence[str]) -> dict[str, float]:
    """One prediction's scores in [0, 1]: generation → ReCross EM and SoftEM; rank/* → accuracy (the
    chosen option equals a gold answer, SuperNI normalisation). Max over the references."""
    if protocol == GENERATION:
        return recross_scores(prediction, references)
    return {"accuracy": max((exact_match(prediction, r) for r in references), default=0.0)}


def example_scores(prediction_rows: Mapping[str, Sequence[Mapping]]) -> dict[str, dict[str, float]]:
    """"protocol/metric" → {record id → score in [0, 1]} from `TargetResult.prediction_rows()` (as
    written to predictions.json): the per-example correctness that paired bootstraps resample."""
    out: dict[str, dict[str, float]] = {}
    for protocol, rows in prediction_rows.items():
        for row in rows:
            for metric, value in protocol_scores(protocol, row["prediction"], row["references"]).items():
                out.setdefault(f"{protocol}/{metric}", {})[row["id"]] = value
    return out


def _mean_x100(values: Sequence[float]) -> float:
    return round(100.0 * sum(values) / len(values), 4) if values else 0.0


def score_target(predicted: TargetPredictions) -> TargetResult:
    """Read the test labels (only now) and score every protocol."""
    metrics, scored = {}, {}
    for protocol, predictions in predicted.predictions.items():
        scored[protocol] = with_references(predictions, predicted.records[protocol])
        per_example = [protocol_scores(protocol, p.prediction, p.references) for p in scored[protocol]]
        names = ("exact_match", "soft_exact_match") if protocol == GENERATION else ("accuracy",)
        metrics[protocol] = {m: _mean_x100([s[m] for s in per_example]) for m in names}
    ranked = next((predicted.records[p] for p in (RANK_CLASSIFIER, RANK_GENERATOR) if p in predicted.records), [])
    gold_in_options = sum(
        bool({normalize_answer(o) for o in r.outputs}
             & {normalize_answer(o) for o in predicted.options.get((r.dataset, r.template), ())})
        for r in ranked)
    counts = {"test": predicted.n_test, "templates": predicted.n_templates,
              "generation_records": len(predicted.records.get(GENERATION, [])),
              "rank_records": len(ranked), "rank_templates": predicted.rank_templates if ranked else 0,
              "rank_gold_in_options": gold_in_options, "inputs_cut": predicted.inputs_cut,
              "inputs_checked": predicted.inputs_checked}
    return TargetResult(predicted.name, list(predicted.predictions), metrics, counts, scored)


def evaluate_target(target_test_records: Sequence[T0Record], options: Mapping[TemplateKey, Sequence[str]], *,
                    name: str | None = None, classifier=None, classifier_encoder: PromptEncoder | None = None,
                    generator=None, generator_tokenizer=None, generator_encoder: PromptEncoder | None = None,
                    max_new_tokens: int = 64, num_beams: int = 1, prompt: PromptConfig = T0_PROMPT,
                    max_instances: int | None = None, expand_options: bool = False) -> TargetResult:
    """Predict with every applicable protocol (labels unread), then score. See the module docstring."""
    predicted = predict_target(target_test_records, options, name=name, classifier=classifier,
                               classifier_encoder=classifier_encoder, generator=generator,
                               generator_tokenizer=generator_tokenizer, generator_encoder=generator_encoder,
                               max_new_tokens=max_new_tokens, num_beams=num_beams, prompt=prompt,
                               max_instances=max_instances, expand_options=expand_options)
    return score_target(predicted)


def summarize_targets(results: Mapping[str, TargetResult]) -> dict:
    """Per-target rows of "protocol/metric" values and counts, and each metric's mean over the targets
    that have it (with how many did)."""
    rows = {name: {**{f"{p}/{m}": v for p, ms in r.metrics.items() for m, v in ms.items()},
                   "protocols": list(r.protocols), "counts": dict(r.counts)} for name, r in results.items()}
    values: dict[str, list[float]] = {}
    for row in rows.values():
        for key, value in row.items():
            if isinstance(value, float | int) and not isinstance(value, bool):
                values.setdefault(key, []).append(float(value))
    return {"targets": rows, "mean": {k: round(sum(v) / len(v), 4) for k, v in sorted(values.items())},
            "n_targets": {k: len(v) for k, v in sorted(values.items())}}
