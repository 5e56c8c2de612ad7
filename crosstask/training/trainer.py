"""A training loop readable in one screen, with accelerate for DDP (`accelerate launch` / `torchrun`).

`batch_size` is the *global* batch of one micro-step: under N processes each takes every N-th example
of it, so 1 and N processes see the same batches and, with per-example mean losses, the same
gradients. Checkpoints hold a Hugging Face `save_pretrained` export (safetensors) and the full
training state (optimizer, scheduler, RNG); `resume=True` continues from the newest one.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from crosstask.io import atomic_write_json

LossFn = Callable[[nn.Module, dict], torch.Tensor]
SaveFn = Callable[[nn.Module, Path], None]
EvalFn = Callable[[nn.Module], dict]


@dataclass
class TrainingArguments:
    output_dir: str
    epochs: int = 1
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 5e-5
    head_lr: float | None = None  # classifier head; None = same as lr
    weight_decay: float = 0.01
    scheduler: str = "linear"  # any transformers.get_scheduler name: linear, constant, cosine, ...
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 42
    save_every: int = 0  # optimizer steps between checkpoints; 0 = end of each epoch only
    eval_every: int = 0  # optimizer steps between dev evaluations; 0 = end of each epoch only
    keep_checkpoints: int = 2  # 0 = write no checkpoint at all (short runs resumed by their caller, e.g. adaptation)
    select_metric: str = "exact_match"
    max_steps: int | None = None
    resume: bool = False
    mixed_precision: str = "no"  # "no" | "bf16" | "fp16"
    log_every: int = 10
    progress: bool = True


@dataclass
class TrainerState:
    global_step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    best_metric: float | None = None
    best_step: int | None = None
    log: list[dict] = field(default_factory=list)


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int, mega: int = 50) -> list[list[int]]:
    """Shuffle, sort by length inside mega-batches of `mega` batches (little padding), shuffle batches."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    span = batch_size * mega
    for start in range(0, len(order), span):
        chunk = sorted(order[start:start + span], key=lambda i: -lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _checkpoints(output_dir: Path) -> list[Path]:
    found = [p for p in output_dir.glob("checkpoint-*") if (p / "trainer_state.json").exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def make_accelerator(mixed_precision: str = "no"):
    """An Accelerator that also runs multi-process on CPU (gloo) under torchrun / accelerate launch:
    accelerate only looks for a CPU process group when told the run is CPU-only. `mixed_precision`
    "bf16" autocasts matmuls to bfloat16 (fast on GPUs and on CPUs with AMX / AVX512-BF16)."""
    from accelerate import Accelerator

    has_accelerator = torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available()) \
        or torch.backends.mps.is_available()
    try:
        return Accelerator(cpu=not has_accelerator, mixed_precision=mixed_precision)
    except ValueError:
        # accelerate keeps one process-wide state; a single process (e.g. ReCross adaptation in bf16
        # after an fp32 training in the same Python session) may start over, a process group may not
        from accelerate.state import AcceleratorState, PartialState

        if PartialState().num_processes > 1:
            raise
        AcceleratorState._reset_state(reset_partial_state=True)
        return Accelerator(cpu=not has_accelerator, mixed_precision=mixed_precision)


class Trainer:
    def __init__(self, model: nn.Module, features: Sequence[dict], collate: Callable[[list[dict]], dict],
                 loss_fn: LossFn, args: TrainingArguments, save_fn: SaveFn,
                 param_groups: list[dict] | None = None, evaluate_fn: EvalFn | None = None, accelerator=None):
        from accelerate.utils import set_seed

        self.args, self.features, self.collate, self.loss_fn = args, features, collate, loss_fn
        self.save_fn, self.evaluate_fn = save_fn, evaluate_fn
        self.accelerator = accelerator or make_accelerator(args.mixed_precision)
        set_seed(args.seed)
        self.output_dir = Path(args.output_dir)
        groups = param_groups or [{"params": [p for p in model.parameters() if p.requires_grad], "lr": args.lr}]
        optimizer = torch.optim.AdamW(groups, lr=args.lr, weight_decay=args.weight_decay)
        self.lengths = [len(f["input_ids"]) for f in features]
        per_epoch = math.ceil(math.ceil(len(features) / args.batch_size) / args.grad_accum)
        self.total_steps = min(args.max_steps or per_epoch * args.epochs, per_epoch * args.epochs)
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        from transformers import get_scheduler
        self.scheduler = get_scheduler(args.scheduler, optimizer, num_warmup_steps=int(args.warmup_ratio * self.total_steps),
                                       num_training_steps=self.total_steps)
        self.accelerator.register_for_checkpointing(self.scheduler)
        self.state = TrainerState()

    # --- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        if self.args.keep_checkpoints == 0:
            return
        acc = self.accelerator
        path = self.output_dir / f"checkpoint-{self.state.global_step}"
        acc.save_state(str(path / "state"))
        if acc.is_main_process:
            self.save_fn(acc.unwrap_model(self.model), path / "model")
            atomic_write_json(path / "trainer_state.json", asdict(self.state))  # written last: marks it complete
            for old in _checkpoints(self.output_dir)[:-self.args.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()

    def maybe_resume(self) -> None:
        found = _checkpoints(self.output_dir) if self.args.resume else []
        if found:
            self.accelerator.load_state(str(found[-1] / "state"))
            self.state = TrainerState(**json.loads((found[-1] / "trainer_state.json").read_text()))
            self.accelerator.print(f"resumed from {found[-1]} (step {self.state.global_step})")

    # --- evaluation ----------------------------------------------------------------------------
    def evaluate(self) -> None:
        if self.evaluate_fn is None:
            return
        self.model.eval()
        metrics = self.evaluate_fn(self.accelerator.unwrap_model(self.model))
        self.model.train()
        value = metrics.get(self.args.select_metric)
        self.state.log.append({"step": self.state.global_step, "dev": metrics})
        if value is not None and (self.state.best_metric is None or value > self.state.best_metric):
            self.state.best_metric, self.state.best_step = value, self.state.global_step
            if self.accelerator.is_main_process:
                self.save_fn(self.accelerator.unwrap_model(self.model), self.output_dir / "best")
        self.accelerator.print(f"step {self.state.global_step}: dev {metrics}")
        self.accelerator.wait_for_everyone()

    # --- the loop --------------------------------------------------------------------------------
    def train(self) -> TrainerState:
        from tqdm.auto import tqdm

        acc, args = self.accelerator, self.args
        self.maybe_resume()
        self.model.train()
        bar = tqdm(total=self.total_steps, initial=self.state.global_step, desc="train",
                   disable=not (args.progress and acc.is_local_main_process))
        running = []
        while self.state.global_step < self.total_steps and self.state.epoch < args.epochs:
            batches = length_grouped_batches(self.lengths, args.batch_size, args.seed + self.state.epoch)
            steps = [batches[i:i + args.grad_accum] for i in range(0, len(batches), args.grad_accum)]
            for step_batches in steps[self.state.step_in_epoch:]:
                running.append(self.optimizer_step(step_batches))
                self.state.global_step += 1
                self.state.step_in_epoch += 1
                bar.update(1)
                step, done = self.state.global_step, self.state.global_step >= self.total_steps
                if step % args.log_every == 0 or done:
                    self.state.log.append({"step": step, "loss": sum(running) / len(running),
                                           "lr": self.scheduler.get_last_lr()[0]})
                    bar.set_postfix(loss=f"{self.state.log[-1]['loss']:.4f}")
                    running = []
                if done:
                    break
                if args.eval_every and step % args.eval_every == 0:
                    self.evaluate()
                if args.save_every and step % args.save_every == 0:
                    self.save_checkpoint()
            if self.state.global_step >= self.total_steps:
                break
            self.state.epoch, self.state.step_in_epoch = self.state.epoch + 1, 0
            if self.state.epoch < args.epochs:  # end of a middle epoch: evaluate and checkpoint
                self.evaluate()
                self.save_checkpoint()
        bar.close()
        self.evaluate()
        self.save_checkpoint()
        if acc.is_main_process:
            self.save_fn(acc.unwrap_model(self.model), self.output_dir / "final")
            atomic_write_json(self.output_dir / "trainer_state.json", asdict(self.state))
        acc.wait_for_everyone()
        return self.state

    def optimizer_step(self, step_batches: list[list[int]]) -> float:
        """Forward/backward over the micro-batches of one step (this process's share), then update."""
        acc = self.accelerator
        total = 0.0
        for i, indices in enumerate(step_batches):
            local = indices[acc.process_index::acc.num_processes]
            sync = i == len(step_batches) - 1
            with nullcontext() if sync else acc.no_sync(self.model):
                batch = {k: v.to(acc.device) if isinstance(v, torch.Tensor) else v
                         for k, v in self.collate([self.features[j] for j in local]).items()}
                loss = self.loss_fn(self.model, batch) / len(step_batches)
                acc.backward(loss)
            total += loss.item()
        if self.args.max_grad_norm:
            acc.clip_grad_norm_(self.model.parameters(), self.args.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad()
        if acc.num_processes > 1:  # log the loss of the whole global batch, not of this process's share
            total = acc.reduce(torch.tensor(total, device=acc.device), reduction="mean").item()
        return total
