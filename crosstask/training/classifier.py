"""Train the encoder-classifier on SuperNI training pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate.utils import set_seed

from crosstask.core.errors import CrosstaskError
from crosstask.data.prompts import (
    PromptConfig,
    PromptEncoder,
    candidate_alone_segments,
    classifier_context_segments,
    pair_segments,
)
from crosstask.data.tasktype import TypedTask
from crosstask.models.backbone import load_tokenizer
from crosstask.models.classifier import ClassifierConfig, EncoderClassifier
from crosstask.models.kinds import save_inference_settings
from crosstask.models.shared_context import CandidateScorer, ScoringInstance, collate_packed, shared_context_logits
from crosstask.training.card import card_info
from crosstask.training.collators import classifier_collator
from crosstask.training.pairs import Pair, PairConfig, build_pairs, pair_counts
from crosstask.training.trainer import DevEval, Trainer, TrainingArguments, TrainResult


@dataclass
class ClassifierTrainingConfig:
    model: ClassifierConfig = field(default_factory=ClassifierConfig)
    pairs: PairConfig = field(default_factory=PairConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    max_length: int = 256


def encode_pairs(pairs: Sequence[Pair], tasks: Sequence[TypedTask], encoder: PromptEncoder,
                 prompt: PromptConfig, siamese: bool = False) -> list[dict]:
    """`{"input_ids", "labels"}` per pair (the pair as one sequence); for a siamese classifier one feature per
    instance, `{"input_ids" (its context), "candidate_ids" (a list), "labels" (a list)}`, so that a training step
    encodes each context once for all its candidates (a batch counts instances, as shared-context packs)."""
    if not siamese:
        by_name = {t.name: t for t in tasks}
        inputs = {(t.name, i.id): i.input for t in tasks for i in t.task.instances}
        return [{"input_ids": encoder.encode(pair_segments(by_name[p.task], inputs[(p.task, p.instance_id)],
                                                           p.candidate, prompt)),
                 "labels": p.label} for p in pairs]
    return [{"input_ids": encoder.encode(context),
             "candidate_ids": [encoder.encode(candidate_alone_segments(p.candidate)) for p in group],
             "labels": [p.label for p in group]} for context, group in instance_groups(pairs, tasks, prompt)]


def instance_groups(pairs: Sequence[Pair], tasks: Sequence[TypedTask], prompt: PromptConfig
                    ) -> list[tuple[list, list[Pair]]]:
    """The pairs grouped by instance (first-seen order), each with its context segments (definition,
    demonstrations, input): the unit of the features that encode a context once for all its candidates."""
    by_name = {t.name: t for t in tasks}
    inputs = {(t.name, i.id): i.input for t in tasks for i in t.task.instances}
    groups: dict[tuple[str, str], list[Pair]] = {}
    for pair in pairs:
        groups.setdefault((pair.task, pair.instance_id), []).append(pair)
    out = []
    for key, group in groups.items():
        t = by_name[key[0]].task
        out.append((classifier_context_segments(t.definition, t.positive_examples, t.negative_examples, inputs[key],
                                                prompt), group))
    return out


def classifier_loss(model, batch: dict) -> torch.Tensor:
    if "pool_mask" in batch:  # shared-context packs: one row per candidate
        return F.cross_entropy(shared_context_logits(model, batch), batch["labels"])
    if "candidate_ids" in batch:  # siamese: contexts and candidates apart, each encoded once per batch
        return F.cross_entropy(model(batch["input_ids"], batch["attention_mask"], batch["candidate_ids"],
                                     batch["candidate_attention_mask"], batch["context_index"],
                                     batch["candidate_index"]), batch["labels"])
    return F.cross_entropy(model(batch["input_ids"], batch["attention_mask"]), batch["labels"])


def encode_packed_pairs(pairs: Sequence[Pair], tasks: Sequence[TypedTask], model, encoder: PromptEncoder,
                        prompt: PromptConfig) -> list[dict]:
    """Shared-context features: each instance's candidates packed after its context (one row per pack)."""
    scorer = CandidateScorer(model, encoder)
    if not scorer.shared:
        raise CrosstaskError("this backbone cannot score candidates with a shared context (needs mean pooling and "
                             "an encoder that honours 4D attention masks with position ids); train without it")
    features = []
    for context, group in instance_groups(pairs, tasks, prompt):
        labels = [p.label for p in group]
        for pack in scorer.packs(ScoringInstance(context, [p.candidate for p in group])):
            features.append({"input_ids": pack.input_ids, "packed": pack, "labels": labels[:len(pack.spans)]})
            labels = labels[len(pack.spans):]
    return features


def packed_collate(features: list[dict], pad_token_id: int) -> dict:
    return {**collate_packed([f["packed"] for f in features], pad_token_id),
            "labels": torch.tensor([label for f in features for label in f["labels"]], dtype=torch.long)}


def train_classifier(train_tasks: Sequence[TypedTask], config: ClassifierTrainingConfig, args: TrainingArguments,
                     dev_eval: DevEval | None = None, tokenizer=None, accelerator=None,
                     model: EncoderClassifier | None = None) -> TrainResult:
    """Build pairs, train (a new classifier on `config.model`'s backbone, or `model` with `tokenizer`), keep
    the best checkpoint by `dev_eval(model, encoder, accelerator)` (the dev metrics, e.g. from
    `crosstask.evaluation.classifier.dev_evaluator`) when given."""
    tokenizer = tokenizer or load_tokenizer(config.model.model, config.model.trust_remote_code)
    set_seed(args.seed)  # the new head / cross-attention weights depend on it
    model = model if model is not None else EncoderClassifier.from_backbone(config.model)
    encoder = PromptEncoder(tokenizer, config.max_length)
    pairs = build_pairs(train_tasks, config.pairs)
    if config.model.shared_context:
        features = encode_packed_pairs(pairs, train_tasks, model, encoder, config.prompt)
        collate = lambda fs: packed_collate(fs, tokenizer.pad_token_id)  # noqa: E731
    else:
        features = encode_pairs(pairs, train_tasks, encoder, config.prompt, config.model.siamese)
        collate = classifier_collator(tokenizer, config.model.siamese)

    def evaluate(m):
        return dev_eval(m, encoder, trainer.accelerator)

    card = card_info("classifier", config.model.architecture(), config.model.model, train_tasks)
    if config.pairs.expand_options:  # rank classification must score the candidates it was trained on
        card["expand_options"] = True

    def save(m, directory: Path):
        m.save_pretrained(directory, tokenizer)
        save_inference_settings(directory, config.prompt, config.max_length, **card)

    trainer = Trainer(model, features, collate, classifier_loss, args,
                      save, model.parameter_groups(args.lr, args.head_lr or args.lr, args.weight_decay),
                      evaluate if dev_eval else None, accelerator=accelerator)
    trainer.train()
    return trainer.result(pairs=pair_counts(pairs), tokenizer=tokenizer)
