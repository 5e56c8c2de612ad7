"""Train the text-to-text generator on SuperNI training instances (CLS tasks; "w/ GEN" adds GEN tasks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from accelerate.utils import set_seed

from crosstask.data.prompts import PromptConfig, PromptEncoder, source_ids
from crosstask.data.tasktype import TypedTask
from crosstask.models.generator import (
    GeneratorConfig,
    encode_target,
    generator_arch,
    load_generator,
    save_generator,
)
from crosstask.models.kinds import save_inference_settings
from crosstask.training.card import card_info
from crosstask.training.collators import seq2seq_collator
from crosstask.training.trainer import DevEval, Trainer, TrainingArguments, TrainResult


@dataclass
class GeneratorTrainingConfig:
    model: GeneratorConfig = field(default_factory=GeneratorConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    mix_gen: bool = False


def generator_features(tasks: Sequence[TypedTask], encoder: PromptEncoder, tokenizer, prompt: PromptConfig,
                       max_target_length: int, mix_gen: bool) -> list[dict]:
    return [{"input_ids": source_ids(t, i.input, encoder, prompt),
             "labels": encode_target(tokenizer, i.outputs[0], max_target_length)}
            for t in tasks if t.is_cls or mix_gen for i in t.task.instances]


def seq2seq_loss(model, batch: dict):
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss


def train_generator(train_tasks: Sequence[TypedTask], config: GeneratorTrainingConfig, args: TrainingArguments,
                    dev_eval: DevEval | None = None, accelerator=None, model=None, tokenizer=None) -> TrainResult:
    """Train a new generator on `config.model`'s backbone (or `model` with `tokenizer`); the best checkpoint by
    `dev_eval(model, encoder, accelerator)` (e.g. `crosstask.evaluation.generator.dev_evaluator`) when given."""
    set_seed(args.seed)  # the new head / cross-attention weights depend on it
    if model is None:
        model, tokenizer = load_generator(config.model.model, config.model.trust_remote_code, config.model.arch)
    model.train()
    encoder = PromptEncoder(tokenizer, config.model.max_source_length)
    features = generator_features(train_tasks, encoder, tokenizer, config.prompt, config.model.max_target_length,
                                  config.mix_gen)

    def evaluate(m):
        return dev_eval(m, encoder, trainer.accelerator)

    card = card_info("generator", {"arch": generator_arch(model), "model_type": model.config.model_type,
                                   "mix_gen": config.mix_gen}, config.model.model, train_tasks)

    def save(m, directory: Path):
        save_generator(m, tokenizer, directory)
        save_inference_settings(directory, config.prompt, config.model.max_source_length,
                                config.model.max_target_length, **card)

    trainer = Trainer(model, features, seq2seq_collator(tokenizer), seq2seq_loss, args,
                      save, evaluate_fn=evaluate if dev_eval else None, accelerator=accelerator)
    trainer.train()
    return trainer.result(examples=len(features), tokenizer=tokenizer)
