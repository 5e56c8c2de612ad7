"""Adapt a COPY of an upstream model to retrieved T0 records, and held-out losses for distant supervision.

The upstream model is loaded from its saved directory and never written to; the adapted copy is
trained with the existing `Trainer` in a temporary sibling of `output_dir` and moved into place
only when complete. Defaults are the ReCross paper's adaptation settings: AdamW, lr 6e-6, batch 4,
1 epoch, constant LR, gradient clipping at 0.1, and label smoothing 0.1 on the generator's NLL
(the classifier keeps its plain pair cross-entropy).

Training data: the classifier gets `build_pairs(t0_typed_tasks(records), PairConfig(mix_gen=True))`
(CLS templates: every label of the template; open-answer templates: gold vs. other instances'
outputs); the generator gets (input, first output) pairs of every template. Inputs longer than
`max_length` lose the middle of their passage, never their end (`T0_PROMPT`: T0 prompts end with
the question, the options and "Answer:").
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from crosstask.core.defaults import DEFAULT_SEED
from crosstask.core.errors import CrosstaskError
from crosstask.core.io import atomic_save_dir
from crosstask.data.prompts import T0_PROMPT, PromptConfig, PromptEncoder
from crosstask.data.records import T0Record
from crosstask.data.t0_tasks import t0_typed_tasks
from crosstask.models.classifier import EncoderClassifier
from crosstask.models.generator import save_generator
from crosstask.models.kinds import load_model
from crosstask.training.classifier import classifier_loss, encode_pairs
from crosstask.training.collators import classifier_collator, seq2seq_collator
from crosstask.training.generator import generator_features
from crosstask.training.pairs import PairConfig, build_pairs
from crosstask.training.trainer import Trainer, TrainingArguments

KINDS = ("classifier", "generator")


@dataclass(frozen=True)
class AdaptConfig:
    """Optimiser and encoding settings of one adaptation (ReCross paper defaults)."""

    lr: float = 6e-6
    batch_size: int = 4
    epochs: int = 1
    scheduler: str = "constant"
    max_grad_norm: float = 0.1
    label_smoothing: float = 0.1  # generator NLL only
    weight_decay: float = 0.01
    max_steps: int | None = None
    seed: int = DEFAULT_SEED
    max_length: int = 256  # classifier pair / generator source, in tokens
    max_target_length: int = 64
    max_cls_labels: int = 10
    # crosstask.core.precision: bf16 autocast where native, else fp32; also used to evaluate
    mixed_precision: str = "auto"
    pairs: PairConfig = field(default_factory=lambda: PairConfig(mix_gen=True))
    prompt: PromptConfig = field(default_factory=lambda: T0_PROMPT)  # long inputs keep their end (the question)
    progress: bool = False


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise CrosstaskError(f"model kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def save_model(model, tokenizer, directory: Path, kind: str) -> None:
    if kind == "classifier":
        model.save_pretrained(directory, tokenizer)
    else:
        save_generator(model, tokenizer, directory)


def classifier_features(records: Sequence[T0Record], tokenizer, config: AdaptConfig, siamese: bool = False
                        ) -> list[dict]:
    """Encoded (pair, label) features of the records' templates, "w/ GEN" pairs included."""
    tasks = t0_typed_tasks(records, max_cls_labels=config.max_cls_labels)
    pairs = build_pairs(tasks, config.pairs)
    return encode_pairs(pairs, tasks, PromptEncoder(tokenizer, config.max_length), config.prompt, siamese)


def seq2seq_features(records: Sequence[T0Record], tokenizer, config: AdaptConfig) -> list[dict]:
    """(source ids, first-output label ids) of every record."""
    tasks = t0_typed_tasks(records, max_cls_labels=config.max_cls_labels)
    return generator_features(tasks, PromptEncoder(tokenizer, config.max_length), tokenizer, config.prompt,
                              config.max_target_length, mix_gen=True)


def token_nll(model, batch: dict, label_smoothing: float = 0.0, reduction: str = "mean") -> torch.Tensor:
    """Token-level (label-smoothed) cross-entropy of a seq2seq batch; -100 labels are ignored."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   labels=batch["labels"]).logits
    return F.cross_entropy(logits.flatten(0, 1).float(), batch["labels"].flatten(), ignore_index=-100,
                           label_smoothing=label_smoothing, reduction=reduction)


def _collate(kind: str, tokenizer, siamese: bool = False):
    if kind == "classifier":
        return classifier_collator(tokenizer, siamese)
    return seq2seq_collator(tokenizer)


def _encoded(kind: str, model, records: Sequence[T0Record], tokenizer, config: AdaptConfig):
    """(features, collator) of `records` as `model` trains on them; a siamese classifier's feature is an instance
    with all its candidates."""
    if kind != "classifier":
        return seq2seq_features(records, tokenizer, config), _collate(kind, tokenizer)
    siamese = bool(getattr(model.config, "siamese", False))
    return classifier_features(records, tokenizer, config, siamese), _collate(kind, tokenizer, siamese)


def fine_tune(kind: str, model_dir: str | Path, records: Sequence[T0Record], config: AdaptConfig,
              work_dir: str | Path, save: bool = True):
    """Load a copy of the model in `model_dir`, train it on `records`; returns (model, tokenizer).
    `save=False` writes no model export. No checkpoint (optimizer state) is written: an adaptation
    is minutes at most, and an interrupted round is redone from the upstream model."""
    model, tokenizer = load_model(model_dir, check_kind(kind))
    return fine_tune_model(kind, model, tokenizer, records, config, work_dir, save)


def fine_tune_model(kind: str, model, tokenizer, records: Sequence[T0Record], config: AdaptConfig,
                    work_dir: str | Path, save: bool = False):
    """Train `model` (in place: pass a copy to keep the original) on `records`; returns (model, tokenizer)."""
    model.train()
    features, collate = _encoded(kind, model, records, tokenizer, config)
    if kind == "classifier":
        loss_fn, groups = classifier_loss, model.parameter_groups(config.lr, config.lr, config.weight_decay)
    else:
        loss_fn, groups = (lambda m, b: token_nll(m, b, config.label_smoothing)), None
    args = TrainingArguments(output_dir=str(work_dir), epochs=config.epochs, batch_size=config.batch_size,
                             lr=config.lr, weight_decay=config.weight_decay, scheduler=config.scheduler,
                             max_grad_norm=config.max_grad_norm, seed=config.seed, max_steps=config.max_steps,
                             keep_checkpoints=0, log_every=50, progress=config.progress,
                             mixed_precision=config.mixed_precision)
    save_fn = (lambda m, d: save_model(m, tokenizer, d, kind)) if save else (lambda m, d: None)
    trainer = Trainer(model, features, collate, loss_fn, args, save_fn, groups)
    trainer.train()
    adapted = trainer.accelerator.unwrap_model(trainer.model)
    return adapted.eval(), tokenizer


def adapt(kind: str, model_dir: str | Path, records: Sequence[T0Record], config: AdaptConfig,
          output_dir: str | Path) -> Path:
    """Fine-tune a copy of the upstream model on `records` and save it to `output_dir` (replaced
    atomically: a crash leaves no half-written model there). Returns `output_dir`."""
    output_dir = Path(output_dir)
    if output_dir.resolve() == Path(model_dir).resolve():
        raise CrosstaskError(f"refusing to adapt {model_dir} in place: give another output_dir")
    with tempfile.TemporaryDirectory(prefix="crosstask-adapt-") as work:
        model, tokenizer = fine_tune(kind, model_dir, records, config, work, save=False)
    return save_adapted(model, tokenizer, kind, output_dir)


def save_adapted(model, tokenizer, kind: str, output_dir: str | Path) -> Path:
    """Save an adapted model to `output_dir`, replaced atomically (a crash leaves no half-written model)."""
    return atomic_save_dir(output_dir, lambda d: save_model(model, tokenizer, d, kind))


def adapt_classifier(model_dir: str | Path, records: Sequence[T0Record], config: AdaptConfig,
                     output_dir: str | Path) -> Path:
    """Adapt a copy of an `EncoderClassifier` on the records' classifier pairs."""
    return adapt("classifier", model_dir, records, config, output_dir)


def adapt_generator(model_dir: str | Path, records: Sequence[T0Record], config: AdaptConfig,
                    output_dir: str | Path) -> Path:
    """Adapt a copy of a generator on the records' (input, first output) pairs, label-smoothed NLL."""
    return adapt("generator", model_dir, records, config, output_dir)


@torch.inference_mode()
def heldout_loss(model, records: Sequence[T0Record], tokenizer, config: AdaptConfig = AdaptConfig(),
                 batch_size: int = 16) -> float:
    """Mean loss on labelled records: the classifier's pair cross-entropy (an `EncoderClassifier`),
    else the generator's per-token NLL (no label smoothing). Eval mode; the training flag is restored."""
    is_classifier = isinstance(model, EncoderClassifier)
    features, collate = _encoded("classifier" if is_classifier else "generator", model, records, tokenizer, config)
    if not features:
        raise CrosstaskError("held-out loss needs at least one labelled record")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(features), batch_size):
        batch = {k: v.to(device) for k, v in collate(features[start:start + batch_size]).items()}
        if is_classifier:  # the training loss (pairs, or a siamese batch's contexts × candidates), summed
            total += classifier_loss(model, batch).item() * len(batch["labels"])
            count += len(batch["labels"])
        else:
            total += token_nll(model, batch, reduction="sum").item()
            count += int((batch["labels"] != -100).sum())
    model.train(was_training)
    return total / max(1, count)
