"""Train the ReCross rerankers on distant-supervision rows: the 2-way `CrossEncoder` (sentence-transformers'
`CrossEncoderTrainer`) and the shared-context reranker (crosstask `Trainer`). Both are saved atomically
(`atomic_save_dir`)."""

from __future__ import annotations

import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from accelerate.utils import set_seed

from crosstask.core.defaults import DEFAULT_SEED
from crosstask.core.errors import CrosstaskError
from crosstask.core.io import atomic_save_dir, atomic_write_json
from crosstask.core.progress import MIN_ITEMS
from crosstask.models.backbone import load_tokenizer, resolve_model
from crosstask.models.classifier import ClassifierConfig, EncoderClassifier
from crosstask.models.shared_reranker import MARKER, SharedContextReranker
from crosstask.training.classifier import classifier_loss, packed_collate
from crosstask.training.trainer import Trainer, TrainingArguments


@dataclass(frozen=True)
class RerankerConfig:
    """Training settings of the ReCross reranker (`crosstask recross train-reranker`)."""

    model: str = "default"  # base model: hub id or local path (the packaged MiniLM)
    epochs: int = 1
    batch_size: int = 16  # pairs per step (the shared-context reranker: candidates per step)
    lr: float = 2e-5
    max_length: int = 256
    seed: int = DEFAULT_SEED
    shared_context: bool = False  # the shared-context reranker instead of a CrossEncoder
    mixed_precision: str = "auto"  # shared-context training only


def train_reranker(rows: Sequence[dict], base_model: str | Path = RerankerConfig.model,
                   output_dir: str | Path = "reranker", epochs: int = RerankerConfig.epochs,
                   batch_size: int = RerankerConfig.batch_size, seed: int = RerankerConfig.seed,
                   lr: float = RerankerConfig.lr, max_length: int = RerankerConfig.max_length) -> Path:
    """Train a 2-way `CrossEncoder` (num_labels=2: 0 unhelpful, 1 helpful; sentence-transformers
    `CrossEntropyLoss`) on (query, candidate, label) rows with sentence-transformers' `CrossEncoderTrainer`
    (a `datasets.Dataset` of the rows; AdamW, weight decay 0.01, constant learning rate, gradient norm clipped at
    1, fp32; no checkpoints) and save it to `output_dir` (replaced atomically)."""
    rows = list(rows)
    if not rows:
        raise CrosstaskError("no reranker training rows")
    try:
        from datasets import Dataset
    except ImportError:
        raise CrosstaskError('training the reranker needs the datasets package: pip install -e ".[hf]"') from None
    from sentence_transformers.cross_encoder import (  # heavy: loaded only to train this reranker
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import CrossEntropyLoss
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class _ProgressBar(ProgressCallback):
        def on_log(self, *args, **kwargs) -> None:  # the bar only, never the metrics dictionary on stdout
            return None

    set_seed(seed)
    model = CrossEncoder(resolve_model(base_model), num_labels=2, max_length=max_length)
    dataset = Dataset.from_dict({"query": [r["query"] for r in rows], "candidate": [r["candidate"] for r in rows],
                                 "label": [int(r["label"]) for r in rows]})
    output_dir = Path(output_dir)
    work = output_dir.parent / f".{output_dir.name}.work"
    args = CrossEncoderTrainingArguments(
        output_dir=str(work), num_train_epochs=epochs, per_device_train_batch_size=batch_size, learning_rate=lr,
        weight_decay=0.01, lr_scheduler_type="constant", max_grad_norm=1.0, seed=seed, data_seed=seed,
        save_strategy="no", logging_strategy="no", report_to="none", disable_tqdm=True,
        use_cpu=model.device.type == "cpu")
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=CrossEntropyLoss(model))
    trainer.remove_callback(PrinterCallback)  # library code prints nothing (it prints the final metrics)
    if len(rows) >= MIN_ITEMS:  # a progress bar for enough work, as crosstask.core.progress
        trainer.add_callback(_ProgressBar)
    try:
        trainer.train()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    model.eval()
    return atomic_save_dir(output_dir, lambda d: model.save_pretrained(str(d)))


def train_shared_reranker(rows: Sequence[dict], base_model: str | Path = RerankerConfig.model,
                          output_dir: str | Path = "reranker", epochs: int = RerankerConfig.epochs,
                          batch_size: int = RerankerConfig.batch_size, seed: int = RerankerConfig.seed,
                          lr: float = RerankerConfig.lr, max_length: int = RerankerConfig.max_length,
                          mixed_precision: str = RerankerConfig.mixed_precision) -> Path:
    """Train the shared-context reranker on (query, candidate, label) rows with the crosstask `Trainer`
    (one training row = one candidate with all its queries; `batch_size` candidates per step) and save
    it to `output_dir`."""

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
    trained = trainer.accelerator.unwrap_model(trainer.model)

    def save(directory: Path) -> None:
        trained.save_pretrained(directory, tokenizer)
        atomic_write_json(directory / MARKER, {"kind": "shared-context", "base_model": str(base_model),
                                               "max_length": max_length, "rows": len(rows)})

    atomic_save_dir(output_dir, save)
    shutil.rmtree(args.output_dir, ignore_errors=True)
    return output_dir
