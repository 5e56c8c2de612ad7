"""Train the text-to-text generator on SuperNI training instances (CLS tasks; "w/ GEN" adds GEN tasks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crosstask.data.prompts import PromptConfig, PromptEncoder
from crosstask.data.tasktype import TypedTask
from crosstask.models.generator import GeneratorConfig, encode_target, load_generator, save_generator, seq2seq_collate
from crosstask.training.trainer import Trainer, TrainingArguments


@dataclass
class GeneratorTrainingConfig:
    model: GeneratorConfig = field(default_factory=GeneratorConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    mix_gen: bool = False


def generator_features(tasks: Sequence[TypedTask], encoder: PromptEncoder, tokenizer, prompt: PromptConfig,
                       max_target_length: int, mix_gen: bool) -> list[dict]:
    from crosstask.evaluation.generator import source_ids

    return [{"input_ids": source_ids(t, i.input, encoder, prompt),
             "labels": encode_target(tokenizer, i.outputs[0], max_target_length)}
            for t in tasks if t.is_cls or mix_gen for i in t.task.instances]


def seq2seq_loss(model, batch: dict):
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss


def train_generator(train_tasks: Sequence[TypedTask], config: GeneratorTrainingConfig, args: TrainingArguments,
                    dev_tasks: Sequence[TypedTask] = (), accelerator=None) -> dict:
    from crosstask.evaluation.generator import predict_generator
    from crosstask.evaluation.metrics import aggregate

    from accelerate.utils import set_seed

    set_seed(args.seed)  # the new head / cross-attention weights depend on it
    model, tokenizer = load_generator(config.model.model, config.model.trust_remote_code, config.model.arch)
    model.train()
    encoder = PromptEncoder(tokenizer, config.model.max_source_length)
    features = generator_features(train_tasks, encoder, tokenizer, config.prompt, config.model.max_target_length,
                                  config.mix_gen)

    def evaluate(m):
        predictions = predict_generator(m, tokenizer, list(dev_tasks), encoder, config.prompt,
                                        max_new_tokens=config.model.max_target_length, accelerator=trainer.accelerator)
        return aggregate(p.scored() for p in predictions)["overall"]

    def save(m, directory: Path):
        save_generator(m, tokenizer, directory)

    trainer = Trainer(model, features, lambda fs: seq2seq_collate(fs, tokenizer.pad_token_id), seq2seq_loss, args,
                      save, evaluate_fn=evaluate if dev_tasks else None, accelerator=accelerator)
    state = trainer.train()
    return {"examples": len(features), "steps": state.global_step, "best_step": state.best_step,
            "best_dev": state.best_metric, "log": state.log, "trainer": trainer}
