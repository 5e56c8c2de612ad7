"""`crosstask train`, `crosstask evaluate` and `crosstask demo`: the SuperNI experiment from the command line
(a thin shell over `crosstask.experiments.superni` and `crosstask.experiments.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from crosstask.cli.common import (
    add_data_args,
    add_generator_arch_arg,
    add_precision_arg,
    add_prompt_args,
    add_report_to_arg,
    non_negative,
    prompt_overrides,
)
from crosstask.cli.data import print_baselines
from crosstask.cli.options import finish, from_args, option, save_config
from crosstask.data.benchmark import DataConfig
from crosstask.data.prompts import PromptConfig
from crosstask.evaluation.tables import results_markdown
from crosstask.experiments import superni as pipeline
from crosstask.experiments.demo import DemoConfig, run_demo
from crosstask.models.classifier import ClassifierConfig
from crosstask.models.generator import GeneratorConfig
from crosstask.reporting.plots import loss_curve_report, plot_em, plot_gen
from crosstask.reporting.summary import render_superni
from crosstask.training.classifier import ClassifierTrainingConfig
from crosstask.training.generator import GeneratorTrainingConfig
from crosstask.training.pairs import PairConfig
from crosstask.training.trainer import TrainingArguments


def cmd_train(args: argparse.Namespace) -> None:
    training = from_args(TrainingArguments, args, output_dir=args.output)
    if args.kind == "classifier":
        config = from_args(ClassifierTrainingConfig, args, model=from_args(ClassifierConfig, args),
                           pairs=from_args(PairConfig, args), prompt=from_args(PromptConfig, args))
    else:
        config = from_args(GeneratorTrainingConfig, args, model=from_args(GeneratorConfig, args),
                           prompt=from_args(PromptConfig, args))
    summary = pipeline.train(args.kind, from_args(DataConfig, args), config, training)
    save_config(args, args.output)
    curve = loss_curve_report(args.output)
    print(f"trained {args.kind}: {summary['steps']} steps, best dev {summary['best_dev']} at step "
          f"{summary['best_step']}; model in {summary['model_dir']}" + (f"; loss curve {curve}" if curve else ""))


def cmd_evaluate(args: argparse.Namespace) -> None:
    report = pipeline.evaluate(from_args(DataConfig, args), args.output, args.classifier, args.generator,
                               from_args(pipeline.EvalOptions, args), prompt=prompt_overrides(args),
                               overwrite=args.overwrite)
    save_config(args, args.output)
    print(results_markdown(report))
    print(f"predictions, metrics.json and results.md in {args.output}")


def cmd_demo(args: argparse.Namespace) -> None:
    """The main job on the packaged demo benchmark, offline (`crosstask.experiments.demo.run_demo`)."""
    result = run_demo(from_args(DemoConfig, args))
    print(render_superni(result.summary), end="\n\n")
    if result.baselines:
        for report in result.baselines.values():
            print_baselines(report, "markdown")
            print()
        return
    print(results_markdown(result.evaluation))
    out, evals = Path(result.eval_dir).parent, {"demo": result.eval_dir / "metrics.json"}
    plots = [plot_em(evals, out / "em.png"), plot_gen(evals, out / "rouge.png"),
             *(loss_curve_report(out / kind) for kind in ("classifier", "generator"))]
    print(f"predictions, metrics.json, results.md in {result.eval_dir}; plots "
          + ", ".join(str(p) for p in plots if p))


def _seed(parser: argparse.ArgumentParser, *sets) -> None:
    option(parser, "--seed", type=int, sets=[(DataConfig, "seed"), *sets],
           help="seed of data sampling (training: also of pairs, shuffling and initialisation)")


def _register_train(commands) -> None:
    train = commands.add_parser("train", help="train a classifier or a generator on SuperNI training tasks",
                                description="Train on the training split (minus held-out dev tasks); the best "
                                            "checkpoint by dev EM is exported to OUTPUT/best.")
    train.add_argument("kind", choices=["classifier", "generator"])
    add_data_args(train)
    models = [(ClassifierConfig, "model"), (GeneratorConfig, "model")]
    option(train, "--model", sets=models, help="hub id or local path ('default': packaged all-MiniLM-L6-v2)")
    option(train, "--trust-remote-code", sets=[(ClassifierConfig, "trust_remote_code"),
                                               (GeneratorConfig, "trust_remote_code")])
    option(train, "--max-length", type=int, sets=[(ClassifierTrainingConfig, "max_length"),
                                                   (GeneratorConfig, "max_source_length")],
           help="max source / pair length in tokens")
    option(train, "--max-target-length", type=int, sets=(GeneratorConfig, "max_target_length"))
    add_prompt_args(train)
    _seed(train, (TrainingArguments, "seed"), (PairConfig, "seed"))
    train.add_argument("--output", required=True, help="run directory (checkpoints, best/, final/, logs)")
    run = TrainingArguments
    option(train, "--epochs", sets=(run, "epochs"))
    option(train, "--batch-size", sets=(run, "batch_size"), help="global batch per micro-step (over all processes)")
    option(train, "--grad-accum", sets=(run, "grad_accum"))
    option(train, "--lr", sets=(run, "lr"))
    option(train, "--head-lr", type=float, sets=(run, "head_lr"), help="classifier head learning rate (default: --lr)")
    option(train, "--weight-decay", sets=(run, "weight_decay"))
    option(train, "--scheduler", sets=(run, "scheduler"), help="learning-rate schedule: linear, cosine, "
           "cosine_with_restarts, polynomial, constant, constant_with_warmup, inverse_sqrt")
    option(train, "--warmup-ratio", sets=(run, "warmup_ratio"))
    option(train, "--save-every", sets=(run, "save_every"), help="checkpoint every N steps (0: each epoch end)")
    option(train, "--eval-every", sets=(run, "eval_every"), help="dev evaluation every N steps (0: each epoch end)")
    option(train, "--max-steps", type=int, sets=(run, "max_steps"),
           help="stop after N optimizer steps (N ≥ 1; 0 is an error, not 'no limit'; default: all epochs)")
    option(train, "--resume", sets=(run, "resume"), help="continue from the newest checkpoint in --output that "
           "loads (same settings as its run_config.json)")
    option(train, "--overwrite", sets=(run, "overwrite"), help="replace a run already in --output")
    option(train, "--skip-nonfinite", sets=(run, "skip_nonfinite"), help="skip (and count) steps with a non-finite "
           "loss instead of stopping with an error")
    option(train, "--max-train-instances", type=non_negative, sets=(DataConfig, "max_train_instances"))
    option(train, "--max-train-labels", type=int, sets=(DataConfig, "max_train_labels"),
           help="only CLS training tasks with ≤ N labels")
    option(train, "--dev-tasks", type=non_negative, sets=(DataConfig, "dev_tasks"),
           help="CLS training tasks held out for model selection")
    option(train, "--max-dev-instances", type=non_negative, sets=(DataConfig, "max_dev_instances"))
    option(train, "--pooling", choices=["mean", "first"], sets=(ClassifierConfig, "pooling"))
    option(train, "--dropout", sets=(ClassifierConfig, "dropout"))
    option(train, "--shared-context", sets=(ClassifierConfig, "shared_context"),
           help="classifier variant: all candidates of an instance in one pass (context does not attend to "
                "candidates); faster to train and evaluate")
    option(train, "--siamese", sets=(ClassifierConfig, "siamese"),
           help="classifier architecture: context and candidate pooled in separate passes, head on [u, v, u*v, "
                "|u-v|] (learns balanced binary tasks the pair classifier does not; each context encoded once; "
                "--batch-size counts instances, each with all its candidates)")
    option(train, "--negatives", type=int, sets=(PairConfig, "negatives"),
           help="negatives per positive (default: all labels)")
    option(train, "--mix-gen", sets=[(PairConfig, "mix_gen"), (GeneratorTrainingConfig, "mix_gen")],
           help="'w/ GEN': add the generation tasks to training")
    add_generator_arch_arg(train, (GeneratorConfig, "arch"))
    option(train, "--gen-negatives", sets=(PairConfig, "gen_negatives"),
           help="negatives for GEN tasks with --mix-gen: matched (CLS ratio), none (seed), or a number")
    add_precision_arg(train, (run, "mixed_precision"))
    add_report_to_arg(train, (run, "report_to"))
    finish(train, cmd_train)


def _register_evaluate(commands) -> None:
    ev = commands.add_parser("evaluate", help="evaluate a classifier and/or generator on the unseen test tasks",
                             description="Writes predictions-*.jsonl, metrics.json and results.md; baselines beside. "
                                         "Prompt settings and lengths default to each saved model's own.")
    add_data_args(ev)
    ev.add_argument("--classifier", help="classifier directory (or a training run directory)")
    ev.add_argument("--generator", help="generator directory (or a training run directory)")
    ev.add_argument("--output", required=True)
    ev.add_argument("--overwrite", action="store_true", help="replace an evaluation with other settings in --output")
    options = pipeline.EvalOptions
    option(ev, "--tasks", choices=["cls", "all"], sets=(options, "scope"),
           help="cls: CLS test tasks only; all: also GEN tasks (N-best, reranking, combined score)")
    option(ev, "--no-fair", sets=(options, "fair", True), help="skip the fair generator (label-space ranking)")
    option(ev, "--n-best", sets=(options, "n_best"), help="beam size / N-best for GEN tasks and reranking")
    option(ev, "--batch-size", sets=(options, "batch_size"))
    option(ev, "--max-length", type=int, sets=(options, "max_length"), from_model=True,
           help="max source / pair length in tokens")
    option(ev, "--max-target-length", type=int, sets=(options, "max_new_tokens"), from_model=True,
           help="max generated tokens")
    add_prompt_args(ev, from_model=True)
    _seed(ev)
    add_precision_arg(ev, (options, "mixed_precision"))
    finish(ev, cmd_evaluate)


def _register_demo(commands) -> None:
    demo = commands.add_parser("demo", help="run the main job on the packaged demo benchmark (offline)",
                               description="Generate the demo benchmark, train a classifier and a generator on it "
                                           "with the packaged model, evaluate both beside the heuristic baselines, "
                                           "plot.")
    option(demo, "--demo-seed", sets=(DemoConfig, "demo_seed"), help="seed of the demo benchmark")
    option(demo, "--seed", type=int, sets=(DemoConfig, "seed"))
    option(demo, "--model", sets=(DemoConfig, "model"), help="backbone ('default': packaged all-MiniLM-L6-v2)")
    option(demo, "--output", sets=(DemoConfig, "output"), help="run directory")
    option(demo, "--train-instances", type=non_negative, sets=(DemoConfig, "train_instances"))
    option(demo, "--test-instances", type=non_negative, sets=(DemoConfig, "test_instances"))
    option(demo, "--fresh", sets=(DemoConfig, "fresh"), help="retrain even if a finished run exists")
    add_generator_arch_arg(demo, (DemoConfig, "generator_arch"))
    option(demo, "--baselines-only", sets=(DemoConfig, "baselines_only"),
           help="only the data summary and the baselines (seconds)")
    finish(demo, cmd_demo)


def register(commands) -> None:
    """Add `train`, `evaluate` and `demo`."""
    _register_train(commands)
    _register_evaluate(commands)
    _register_demo(commands)

