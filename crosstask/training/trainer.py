"""A training loop readable in one screen, with accelerate for DDP (`accelerate launch` / `torchrun`).

`batch_size` is the *global* batch of one micro-step: under N processes each takes every N-th example
of it, so 1 and N processes see the same batches and, with per-example mean losses, the same
gradients. Checkpoints hold a Hugging Face `save_pretrained` export (safetensors) and the full
training state (optimizer, scheduler, RNG); `resume=True` continues from the newest one.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from crosstask.core.checks import check_training_arguments
from crosstask.core.defaults import DEFAULT_SEED
from crosstask.core.errors import TrainingError, warn
from crosstask.core.io import as_write_error, atomic_save_dir, atomic_write_json
from crosstask.core.precision import resolve_precision

LossFn = Callable[[nn.Module, dict], torch.Tensor]
SaveFn = Callable[[nn.Module, Path], None]
EvalFn = Callable[[nn.Module], dict]
DevEval = Callable[[nn.Module, object, object], dict]  # (model, PromptEncoder, Accelerator) -> dev metrics
logger = logging.getLogger(__name__)


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
    seed: int = DEFAULT_SEED
    save_every: int = 0  # optimizer steps between checkpoints; 0 = end of each epoch only
    eval_every: int = 0  # optimizer steps between dev evaluations; 0 = end of each epoch only
    keep_checkpoints: int = 2  # 0 = write no checkpoint at all (short runs resumed by their caller, e.g. adaptation)
    select_metric: str = "exact_match"
    max_steps: int | None = None
    resume: bool = False
    mixed_precision: str = "auto"  # "auto" (bf16 where native, else fp32) | "no" | "bf16" | "fp16"
    log_every: int = 10
    progress: bool = True
    skip_nonfinite: bool = False  # a non-finite loss skips the step (counted) instead of stopping training
    overwrite: bool = False  # pipeline.train: replace a run already in output_dir (else refused unless resume)
    report_to: str = "none"  # "none" | "tensorboard" (output_dir/tensorboard/) | "wandb": loss and lr every step

    def __post_init__(self):
        check_training_arguments(self)


@dataclass
class TrainerState:
    global_step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    best_metric: float | None = None
    best_step: int | None = None
    log: list[dict] = field(default_factory=list)
    skipped_steps: int = 0  # steps skipped for a non-finite loss (skip_nonfinite)


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
    """Complete checkpoints (trainer_state.json is written last), oldest first."""
    found = [p for p in output_dir.glob("checkpoint-*") if p.name.split("-", 1)[1].isdigit()
             and (p / "trainer_state.json").exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:limit] + ("…" if len(text) > limit else "")


def make_accelerator(mixed_precision: str = "auto", report_to: str = "none", project_dir: str | Path | None = None):
    """An Accelerator that also runs multi-process on CPU (gloo) under torchrun / accelerate launch:
    accelerate only looks for a CPU process group when told the run is CPU-only. `mixed_precision`
    "auto" is bf16 autocast where bf16 is native (CUDA with bf16, CPUs with AMX / AVX-512-BF16) and
    fp32 elsewhere (crosstask.core.precision); "no" is fp32; "bf16" / "fp16" are taken as asked.
    `report_to` "tensorboard" / "wandb": the accelerate tracker the `Trainer` logs to (under `project_dir`)."""
    from accelerate import Accelerator

    has_accelerator = torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available()) \
        or torch.backends.mps.is_available()
    device_type = "cuda" if torch.cuda.is_available() else ("cpu" if not has_accelerator else "other")
    mixed_precision = resolve_precision(mixed_precision, device_type)
    tracking = {} if report_to == "none" else {"log_with": report_to, "project_dir": str(project_dir or ".")}
    try:
        return Accelerator(cpu=not has_accelerator, mixed_precision=mixed_precision, **tracking)
    except ValueError:
        # accelerate keeps one process-wide state; a single process (e.g. ReCross adaptation in bf16
        # after an fp32 training in the same Python session) may start over, a process group may not
        from accelerate.state import AcceleratorState, PartialState

        if PartialState().num_processes > 1:
            raise
        AcceleratorState._reset_state(reset_partial_state=True)
        return Accelerator(cpu=not has_accelerator, mixed_precision=mixed_precision, **tracking)


@dataclass
class TrainResult:
    """What a training run returns: its step counts, dev selection and log, and the trained model (unwrapped)."""

    steps: int
    best_step: int | None
    best_dev: float | None
    log: list[dict]
    skipped_nonfinite_steps: int = 0
    pairs: dict | None = None  # classifier: pair counts by kind
    examples: int | None = None  # generator: training examples
    model: nn.Module | None = field(default=None, repr=False, compare=False)
    param_groups: list[dict] = field(default_factory=list, repr=False, compare=False)  # name, lr, params
    tokenizer: object = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        """The summary fields (no model): pairs or examples, steps, best step and dev metric, log, skipped steps."""
        out = {"pairs": self.pairs} if self.pairs is not None else {"examples": self.examples}
        return {**out, "steps": self.steps, "best_step": self.best_step, "best_dev": self.best_dev, "log": self.log,
                "skipped_nonfinite_steps": self.skipped_nonfinite_steps}


class Trainer:
    def __init__(self, model: nn.Module, features: Sequence[dict], collate: Callable[[list[dict]], dict],
                 loss_fn: LossFn, args: TrainingArguments, save_fn: SaveFn,
                 param_groups: list[dict] | None = None, evaluate_fn: EvalFn | None = None, accelerator=None):
        from accelerate.utils import set_seed

        self.args, self.features, self.collate, self.loss_fn = args, features, collate, loss_fn
        self.save_fn, self.evaluate_fn = save_fn, evaluate_fn
        self.accelerator = accelerator or make_accelerator(args.mixed_precision, args.report_to, args.output_dir)
        if args.report_to != "none" and not self.accelerator.log_with:
            warn(f"report_to={args.report_to!r}, but the accelerator given has no tracker (make it with "
                 "make_accelerator(..., report_to=..., project_dir=...)); nothing is tracked")
        set_seed(args.seed)
        self.output_dir = Path(args.output_dir)
        groups = param_groups or [{"params": [p for p in model.parameters() if p.requires_grad], "lr": args.lr}]
        optimizer = torch.optim.AdamW(groups, lr=args.lr, weight_decay=args.weight_decay)
        self.lengths = [len(f["input_ids"]) for f in features]
        per_epoch = math.ceil(math.ceil(len(features) / args.batch_size) / args.grad_accum)
        self.total_steps = min(args.max_steps or per_epoch * args.epochs, per_epoch * args.epochs)
        if self.total_steps < 1:
            raise TrainingError(f"nothing to train: {len(features)} training examples give 0 optimizer steps "
                                f"(output {self.output_dir}); check the training data and its filters")
        self.own_checkpoints: list[Path] = []  # rotation deletes only checkpoints this run wrote or resumed from
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        from transformers import get_scheduler
        self.scheduler = get_scheduler(args.scheduler, optimizer,
                                       num_warmup_steps=int(args.warmup_ratio * self.total_steps),
                                       num_training_steps=self.total_steps)
        self.accelerator.register_for_checkpointing(self.scheduler)
        self.state = TrainerState()

    # --- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        if self.args.keep_checkpoints == 0:
            return
        acc = self.accelerator
        path = self.output_dir / f"checkpoint-{self.state.global_step}"
        if path in self.own_checkpoints:  # the checkpoint this run resumed from: already saved
            return
        tmp = self.output_dir / f".checkpoint-{self.state.global_step}.tmp"  # renamed into place when complete
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        acc.wait_for_everyone()
        try:
            acc.save_state(str(tmp / "state"))
            if acc.is_main_process:
                self.save_fn(acc.unwrap_model(self.model), tmp / "model")
                atomic_write_json(tmp / "trainer_state.json", asdict(self.state))
            acc.wait_for_everyone()
            if acc.is_main_process:
                if path.exists():  # a stale or unreadable checkpoint of this run, past the one it resumed from
                    shutil.rmtree(path)
                tmp.rename(path)
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            error = as_write_error(path, exc)
            if error is exc:
                raise
            raise error from None
        if acc.is_main_process:
            self.own_checkpoints.append(path)
            for old in self.own_checkpoints[:-self.args.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
            self.own_checkpoints = self.own_checkpoints[-self.args.keep_checkpoints:]
        acc.wait_for_everyone()

    def maybe_resume(self) -> None:
        """Continue from the newest checkpoint that loads; unreadable ones (truncated safetensors, broken
        trainer_state.json) are skipped with a warning. None loading at all is an error."""
        found = _checkpoints(self.output_dir) if self.args.resume else []
        for path in reversed(found):
            try:
                state = TrainerState(**json.loads((path / "trainer_state.json").read_text(encoding="utf-8")))
                self.accelerator.load_state(str(path / "state"))
            except Exception as exc:  # noqa: BLE001 - any failure to load means: try the previous one
                warn(f"{path} does not load ({type(exc).__name__}: {_one_line(exc)}); trying the previous checkpoint")
                continue
            self.state, self.own_checkpoints = state, [path]
            if self.accelerator.is_main_process:
                logger.info("resumed from %s (step %d)", path, self.state.global_step)
            return
        if found:
            raise TrainingError(f"--resume: no checkpoint in {self.output_dir} loads "
                                f"({', '.join(p.name for p in found)}); use --overwrite to start again")

    # --- evaluation ----------------------------------------------------------------------------
    def evaluate(self) -> None:
        if self.evaluate_fn is None:
            return
        self.model.eval()
        metrics = self.evaluate_fn(self.accelerator.unwrap_model(self.model))
        self.model.train()
        value = metrics.get(self.args.select_metric)
        self.state.log.append({"step": self.state.global_step, "dev": metrics})
        if value is not None and math.isfinite(value) and (self.state.best_metric is None
                                                            or value > self.state.best_metric):
            self.state.best_metric, self.state.best_step = value, self.state.global_step
            if self.accelerator.is_main_process:  # best/ only ever holds a model evaluated right here
                model, selected = self.accelerator.unwrap_model(self.model), {
                    "step": self.state.global_step, "metric": self.args.select_metric, "value": value, "dev": metrics}
                atomic_save_dir(self.output_dir / "best", lambda d: (
                    self.save_fn(model, d), atomic_write_json(d / "selection.json", selected)))
        self.track({f"dev/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))})
        if self.accelerator.is_main_process:
            logger.info("step %d: dev %s", self.state.global_step, metrics)
        self.accelerator.wait_for_everyone()

    # --- the loop --------------------------------------------------------------------------------
    def result(self, **extra) -> TrainResult:
        """The finished run as a `TrainResult` (after `train()`)."""
        groups = [{k: v for k, v in g.items() if k in ("name", "lr", "params")} for g in self.optimizer.param_groups]
        return TrainResult(self.state.global_step, self.state.best_step, self.state.best_metric, self.state.log,
                           self.state.skipped_steps, model=self.accelerator.unwrap_model(self.model),
                           param_groups=groups, **extra)

    # --- tracking (accelerate trackers: --report-to) ------------------------------------------------
    def start_tracking(self) -> None:
        """Start the run's tracker (TensorBoard: output_dir/tensorboard/; W&B: project "crosstask", run named
        after output_dir) with the training arguments as its hyperparameters."""
        args = self.args
        if args.report_to == "none" or not self.accelerator.log_with:
            return
        config = {k: v for k, v in asdict(args).items() if isinstance(v, (bool, int, float, str))}
        name = Path(args.output_dir).name
        project = "tensorboard" if args.report_to == "tensorboard" else "crosstask"
        self.accelerator.init_trackers(project, config=config,
                                       init_kwargs={"wandb": {"name": name, "dir": str(self.output_dir)}})

    def track(self, values: dict) -> None:
        """Log `values` at the current step to the run's tracker (nothing without one)."""
        if self.args.report_to != "none" and self.accelerator.trackers and values:
            self.accelerator.log(values, step=self.state.global_step)

    def end_tracking(self) -> None:
        """Flush and close the trackers. Not `accelerator.end_training()`: that also destroys the process group,
        which the caller may still need (evaluation after training under torchrun)."""
        trackers = getattr(self.accelerator, "trackers", [])
        for tracker in trackers:
            tracker.finish()
        trackers.clear()

    def train(self) -> TrainerState:
        try:
            return self._train()
        finally:  # an error (diverged, disk full, interrupted) gets a line of its own, not the bar's
            if getattr(self, "bar", None) is not None:
                self.bar.close()
            self.end_tracking()

    def _train(self) -> TrainerState:
        from tqdm.auto import tqdm

        acc, args = self.accelerator, self.args
        self.maybe_resume()
        self.start_tracking()
        self.model.train()
        bar = self.bar = tqdm(total=self.total_steps, initial=self.state.global_step, desc="train",
                   disable=not (args.progress and acc.is_local_main_process))
        running = []
        while self.state.global_step < self.total_steps and self.state.epoch < args.epochs:
            batches = length_grouped_batches(self.lengths, args.batch_size, args.seed + self.state.epoch)
            steps = [batches[i:i + args.grad_accum] for i in range(0, len(batches), args.grad_accum)]
            for step_batches in steps[self.state.step_in_epoch:]:
                loss = self.optimizer_step(step_batches)
                if math.isfinite(loss):
                    running.append(loss)
                self.state.global_step += 1
                self.state.step_in_epoch += 1
                bar.update(1)
                if math.isfinite(loss):
                    self.track({"train/loss": loss, "train/learning_rate": self.scheduler.get_last_lr()[0]})
                step, done = self.state.global_step, self.state.global_step >= self.total_steps
                if (step % args.log_every == 0 or done) and running:
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
        if self.state.skipped_steps and self.state.skipped_steps >= self.state.global_step:
            raise TrainingError(f"every one of the {self.state.global_step} steps had a non-finite loss: nothing "
                                "was learned (lower --lr)")
        self.evaluate()
        self.save_checkpoint()
        if acc.is_main_process:
            model = acc.unwrap_model(self.model)
            atomic_save_dir(self.output_dir / "final", lambda d: self.save_fn(model, d))
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
        norm = None
        if self.args.max_grad_norm:
            norm = acc.clip_grad_norm_(self.model.parameters(), self.args.max_grad_norm)
        # a non-finite loss (or, without an fp16 grad scaler, which skips those itself, gradient norm)
        bad = not math.isfinite(total) or (norm is not None and getattr(acc, "scaler", None) is None
                                          and not bool(torch.isfinite(torch.as_tensor(norm)).all()))
        if acc.num_processes > 1:
            bad = bool(acc.reduce(torch.tensor(float(bad), device=acc.device), reduction="sum").item())
        if bad:
            self.optimizer.zero_grad()
            step = self.state.global_step + 1
            if not self.args.skip_nonfinite:
                raise TrainingError(f"training diverged: non-finite loss ({total}) at step {step} (lr "
                                    f"{self.scheduler.get_last_lr()[0]:g}); no model was exported, earlier "
                                    "checkpoints are kept. Lower --lr, or pass --skip-nonfinite to skip such steps")
            self.state.skipped_steps += 1
            self.scheduler.step()
            warn(f"step {step}: non-finite loss ({total}); step skipped ({self.state.skipped_steps} so far)")
            return float("nan")
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad()
        if acc.num_processes > 1:  # log the loss of the whole global batch, not of this process's share
            total = acc.reduce(torch.tensor(total, device=acc.device), reduction="mean").item()
        return total
