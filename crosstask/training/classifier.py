"""Train the encoder-classifier on SuperNI training pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from crosstask.data.prompts import PromptConfig, PromptEncoder, candidate_segments, classifier_context_segments
from crosstask.data.tasktype import TypedTask
from crosstask.models.classifier import ClassifierConfig, EncoderClassifier
from crosstask.training.pairs import Pair, PairConfig, build_pairs, pair_counts
from crosstask.training.trainer import Trainer, TrainingArguments


@dataclass
class ClassifierTrainingConfig:
    model: ClassifierConfig = field(default_factory=ClassifierConfig)
    pairs: PairConfig = field(default_factory=PairConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    max_length: int = 256


def pair_segments(task: TypedTask, text: str, candidate: str, prompt: PromptConfig):
    t = task.task
    return classifier_context_segments(t.definition, t.positive_examples, t.negative_examples, text, prompt) \
        + candidate_segments(candidate)


def encode_pairs(pairs: Sequence[Pair], tasks: Sequence[TypedTask], encoder: PromptEncoder,
                 prompt: PromptConfig) -> list[dict]:
    by_name = {t.name: t for t in tasks}
    inputs = {(t.name, i.id): i.input for t in tasks for i in t.task.instances}
    return [{"input_ids": encoder.encode(pair_segments(by_name[p.task], inputs[(p.task, p.instance_id)], p.candidate, prompt)),
             "labels": p.label} for p in pairs]


def pad_collate(features: list[dict], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Dynamic padding to the longest sequence of the batch."""
    width = max(len(f["input_ids"]) for f in features)
    ids = torch.full((len(features), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(features), width), dtype=torch.long)
    for row, f in enumerate(features):
        ids[row, :len(f["input_ids"])] = torch.tensor(f["input_ids"])
        mask[row, :len(f["input_ids"])] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if "labels" in features[0]:
        batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
    return batch


def classifier_loss(model, batch: dict) -> torch.Tensor:
    if "pool_mask" in batch:  # shared-context packs: one row per candidate
        from crosstask.models.shared_context import shared_context_logits
        return F.cross_entropy(shared_context_logits(model, batch), batch["labels"])
    return F.cross_entropy(model(batch["input_ids"], batch["attention_mask"]), batch["labels"])


def encode_packed_pairs(pairs: Sequence[Pair], tasks: Sequence[TypedTask], model, encoder: PromptEncoder,
                        prompt: PromptConfig) -> list[dict]:
    """Shared-context features: each instance's candidates packed after its context (one row per pack)."""
    from crosstask.errors import CrosstaskError
    from crosstask.models.shared_context import CandidateScorer, ScoringInstance

    scorer = CandidateScorer(model, encoder)
    if not scorer.shared:
        raise CrosstaskError("this backbone cannot score candidates with a shared context (needs mean pooling and "
                             "an encoder that honours 4D attention masks with position ids); train without it")
    by_name = {t.name: t for t in tasks}
    inputs = {(t.name, i.id): i.input for t in tasks for i in t.task.instances}
    groups: dict[tuple[str, str], list[Pair]] = {}
    for pair in pairs:
        groups.setdefault((pair.task, pair.instance_id), []).append(pair)
    features = []
    for (task, instance_id), group in groups.items():
        t = by_name[task].task
        context = classifier_context_segments(t.definition, t.positive_examples, t.negative_examples,
                                              inputs[(task, instance_id)], prompt)
        labels = [p.label for p in group]
        for pack in scorer.packs(ScoringInstance(context, [p.candidate for p in group])):
            features.append({"input_ids": pack.input_ids, "packed": pack, "labels": labels[:len(pack.spans)]})
            labels = labels[len(pack.spans):]
    return features


def packed_collate(features: list[dict], pad_token_id: int) -> dict:
    from crosstask.models.shared_context import collate_packed
    return {**collate_packed([f["packed"] for f in features], pad_token_id),
            "labels": torch.tensor([label for f in features for label in f["labels"]], dtype=torch.long)}


def train_classifier(train_tasks: Sequence[TypedTask], config: ClassifierTrainingConfig, args: TrainingArguments,
                     dev_tasks: Sequence[TypedTask] = (), tokenizer=None, accelerator=None) -> dict:
    """Build pairs, train, keep the best checkpoint by dev EM (when there is a dev set). Returns a summary."""
    from crosstask.evaluation.classifier import evaluate_classifier
    from crosstask.models.backbone import load_tokenizer

    tokenizer = tokenizer or load_tokenizer(config.model.model, config.model.trust_remote_code)
    from accelerate.utils import set_seed

    set_seed(args.seed)  # the new head / cross-attention weights depend on it
    model = EncoderClassifier.from_backbone(config.model)
    encoder = PromptEncoder(tokenizer, config.max_length)
    pairs = build_pairs(train_tasks, config.pairs)
    if config.model.shared_context:
        features = encode_packed_pairs(pairs, train_tasks, model, encoder, config.prompt)
        collate = lambda fs: packed_collate(fs, tokenizer.pad_token_id)  # noqa: E731
    else:
        features = encode_pairs(pairs, train_tasks, encoder, config.prompt)
        collate = lambda fs: pad_collate(fs, tokenizer.pad_token_id)  # noqa: E731

    def evaluate(m):
        result = evaluate_classifier(m, list(dev_tasks), encoder, config.prompt, accelerator=trainer.accelerator)
        return result["metrics"]["overall"]

    def save(m, directory: Path):
        m.save_pretrained(directory, tokenizer)

    trainer = Trainer(model, features, collate, classifier_loss, args,
                      save, model.parameter_groups(args.lr, args.head_lr or args.lr, args.weight_decay),
                      evaluate if dev_tasks else None, accelerator=accelerator)
    state = trainer.train()
    return {"pairs": pair_counts(pairs), "steps": state.global_step, "best_step": state.best_step,
            "best_dev": state.best_metric, "log": state.log, "trainer": trainer}
