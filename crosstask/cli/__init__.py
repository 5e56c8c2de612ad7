"""`crosstask` command line: a thin shell over the Python API."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from crosstask.core.errors import CrosstaskError
from crosstask.core.precision import MIXED_PRECISIONS
from crosstask.reporting.summary import render_recross, render_superni


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {number}")
    return number


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="data directory: a SuperNI or ReCross folder, or a root holding superni/ "
                        "(default: $CROSSTASK_DATA, else ../shared/data beside the repo)")
    source.add_argument("--demo", action="store_true", help="use the packaged demo benchmark (generated offline)")
    parser.add_argument("--demo-seed", type=int, default=0, help="seed of the demo benchmark (default 0)")


def _add_prompt_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num-pos", type=_non_negative, default=0, help="positive demonstrations in the prompt")
    parser.add_argument("--num-neg", type=_non_negative, default=0, help="negative demonstrations in the prompt")
    parser.add_argument("--explanations", action="store_true", help="include demonstration explanations")
    parser.add_argument("--label-mode", choices=["instances", "examples"], default="instances",
                        help="test-task label spaces: all instances (seed; leaks test labels) or examples only")
    parser.add_argument("--max-test-instances", type=_non_negative, default=100)
    parser.add_argument("--all-languages", action="store_true", help="keep non-English tasks")
    parser.add_argument("--seed", type=int, default=42)


def _add_precision_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mixed-precision", choices=MIXED_PRECISIONS, default="auto",
                        help='"auto" (default): bf16 autocast where bf16 is native (CUDA with bf16, CPUs with AMX / AVX-512-BF16), fp32 otherwise; "no": fp32; an explicit bf16 on a CPU without it warns (~50x slower)')


def _add_generator_arch_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--generator-arch", choices=["unilm", "bert2bert", "seq2seq"], default=None,
                        help="generator architecture (default: unilm for BERT backbones such as the packaged "
                             "MiniLM — one shared pretrained Transformer; seq2seq for T5 / BART ids)")


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default", help="hub id or local path (default: packaged all-MiniLM-L6-v2)")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--max-length", type=int, default=256, help="max source / pair length in tokens")
    parser.add_argument("--max-target-length", type=int, default=64)
    _add_prompt_args(parser)


def _superni_dir(args: argparse.Namespace) -> Path:
    if args.demo:
        from crosstask.data.demo import ensure_demo_benchmark
        return ensure_demo_benchmark(seed=args.demo_seed)
    from crosstask.data.location import resolve_dataset_dir
    return resolve_dataset_dir(args.data, "superni")


def cmd_data_summary(args: argparse.Namespace) -> None:
    from crosstask.data import summary
    from crosstask.data.location import resolve_dataset_dir
    if args.demo:
        root = _superni_dir(args)
    else:
        root = resolve_dataset_dir(args.data, args.kind if args.kind != "auto" else "superni")
    is_recross = args.kind == "recross" or (args.kind == "auto" and (root / "split.json").exists())
    result = summary.summarize_recross(root) if is_recross else summary.summarize_superni(root, args.label_mode)
    if args.json:
        from crosstask.core.io import atomic_write_json
        atomic_write_json(args.json, result)
    print(json.dumps(result, indent=2) if args.format == "json" else
          (render_recross(result) if is_recross else render_superni(result)))


def cmd_baselines(args: argparse.Namespace) -> None:
    from crosstask.data.superni import load_split
    from crosstask.data.tasktype import TaskTypeRule, type_task
    from crosstask.evaluation.baselines import BASELINES, run_baselines
    from crosstask.evaluation.tables import metrics_table

    root = _superni_dir(args)
    split = load_split(root, args.split, max_instances=args.max_instances)
    rule = TaskTypeRule(max_labels=args.max_labels)
    typed = [type_task(task, args.label_mode, rule) for task in split.tasks]
    if args.tasks != "all":
        typed = [t for t in typed if t.task_type.value == args.tasks.upper()]
    if not typed:  # never a score over zero instances
        raise CrosstaskError(f"no {args.tasks.upper()} {args.split} tasks in {root} ({len(split.tasks)} loaded, "
                             f"{len(split.missing)} missing on disk)")
    names = args.baseline or list(BASELINES)
    results = run_baselines(typed, names, seed=args.seed)
    from crosstask.data.benchmark import fingerprint_tasks
    report = {
        "data": str(root), "data_hash": fingerprint_tasks(typed), "split": args.split, "tasks": args.tasks, "n_tasks": len(typed),
        "missing_tasks": split.missing, "label_space_mode": args.label_mode, "seed": args.seed, "results": results,
    }
    if args.json:
        from crosstask.core.io import atomic_write_json
        atomic_write_json(args.json, report)
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return
    print(f"Heuristic baselines on {len(typed)} {args.tasks.upper()} {args.split} tasks of {root} "
          f"({sum(r['overall']['n'] for r in results.values()) // max(len(results), 1)} instances; "
          f"label space mode: {args.label_mode}; seed {args.seed}; data hash {report['data_hash']}; "
          f"{len(split.missing)} tasks missing on disk)\n")
    print(metrics_table(results))


def _data_config(args: argparse.Namespace):
    from crosstask.data.benchmark import DataConfig
    return DataConfig(data=args.data, demo=args.demo, demo_seed=args.demo_seed,
                      max_train_instances=getattr(args, "max_train_instances", 100),
                      max_test_instances=args.max_test_instances, dev_tasks=getattr(args, "dev_tasks", 0),
                      max_dev_instances=getattr(args, "max_dev_instances", 50), label_mode=args.label_mode,
                      max_train_labels=getattr(args, "max_train_labels", None),
                      english_only=not args.all_languages, seed=args.seed)


def _prompt_config(args: argparse.Namespace):
    from crosstask.data.prompts import PromptConfig
    return PromptConfig(args.num_pos, args.num_neg, args.explanations)


def cmd_train(args: argparse.Namespace) -> None:
    from crosstask.experiments import superni as pipeline
    from crosstask.training.trainer import TrainingArguments

    training = TrainingArguments(
        output_dir=args.output, epochs=args.epochs, batch_size=args.batch_size, grad_accum=args.grad_accum,
        lr=args.lr, head_lr=args.head_lr, weight_decay=args.weight_decay, scheduler=args.scheduler,
        warmup_ratio=args.warmup_ratio, seed=args.seed, save_every=args.save_every, eval_every=args.eval_every,
        max_steps=args.max_steps, resume=args.resume, mixed_precision=args.mixed_precision,
        overwrite=args.overwrite, skip_nonfinite=args.skip_nonfinite)
    if args.kind == "classifier":
        from crosstask.models.classifier import ClassifierConfig
        from crosstask.training.classifier import ClassifierTrainingConfig
        from crosstask.training.pairs import PairConfig
        config = ClassifierTrainingConfig(
            ClassifierConfig(args.model, args.pooling, args.dropout, args.trust_remote_code, args.shared_context),
            PairConfig(args.negatives, args.mix_gen, args.gen_negatives, args.seed), _prompt_config(args), args.max_length)
    else:
        from crosstask.models.generator import GeneratorConfig
        from crosstask.training.generator import GeneratorTrainingConfig
        config = GeneratorTrainingConfig(
            GeneratorConfig(args.model, args.trust_remote_code, args.max_length, args.max_target_length,
                            args.generator_arch), _prompt_config(args), args.mix_gen)
    summary = pipeline.train(args.kind, _data_config(args), config, training)
    print(f"trained {args.kind}: {summary['steps']} steps, best dev {summary['best_dev']} at step "
          f"{summary['best_step']}; model in {summary['model_dir']}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from crosstask.experiments import superni as pipeline
    from crosstask.evaluation.tables import results_markdown

    options = pipeline.EvalOptions(fair=not args.no_fair, n_best=args.n_best, max_length=args.max_length,
                                   max_new_tokens=args.max_target_length, batch_size=args.batch_size,
                                   scope=args.tasks, mixed_precision=args.mixed_precision)
    report = pipeline.evaluate(_data_config(args), args.output, args.classifier, args.generator, options,
                               prompt=_prompt_config(args), overwrite=args.overwrite)
    print(results_markdown(report))
    print(f"predictions, metrics.json and results.md in {args.output}")


def cmd_report(args: argparse.Namespace) -> None:
    from crosstask.reporting.plots import plot_em, plot_pair_counts

    evals = dict(_named_path(v) for v in args.eval)
    trains = dict(_named_path(v) for v in args.train or [])
    written = [plot_em(evals, Path(args.out) / "em.png")]
    if trains:
        written.append(plot_pair_counts(trains, Path(args.out) / "pairs.png"))
    print("wrote " + ", ".join(str(p) for p in written))


def _named_path(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name:
        raise CrosstaskError(f"expected NAME=PATH, got {value!r}")
    if not Path(path).is_file():
        raise CrosstaskError(f"{path}: no such file (for {name!r})")
    return name, Path(path)


def cmd_demo(args: argparse.Namespace) -> None:
    """The main job on the packaged demo benchmark, offline: data summary, train a classifier and a
    generator with the packaged default model, evaluate both beside the baselines, plot."""
    from crosstask.experiments import superni as pipeline
    from crosstask.data import summary
    from crosstask.data.benchmark import DataConfig
    from crosstask.models.classifier import ClassifierConfig
    from crosstask.models.generator import GeneratorConfig
    from crosstask.reporting.plots import plot_em
    from crosstask.evaluation.tables import results_markdown
    from crosstask.training.classifier import ClassifierTrainingConfig
    from crosstask.training.generator import GeneratorTrainingConfig
    from crosstask.training.pairs import PairConfig
    from crosstask.training.trainer import TrainingArguments

    out = Path(args.output)
    data = DataConfig(demo=True, demo_seed=args.demo_seed, max_train_instances=args.train_instances, dev_tasks=2,
                      max_dev_instances=20, max_test_instances=args.test_instances, seed=args.seed)
    print(render_superni(summary.summarize_superni(data.resolve_root())), end="\n\n")
    if args.baselines_only:
        for tasks in ("cls", "gen"):
            cmd_baselines(argparse.Namespace(
                demo=True, demo_seed=args.demo_seed, data=None, split="test", tasks=tasks, label_mode="instances",
                max_labels=100, max_instances=args.test_instances, baseline=None, seed=args.seed, format="markdown",
                json=None))
            print()
        return
    runs = {
        "classifier": (ClassifierTrainingConfig(ClassifierConfig(args.model), PairConfig(seed=args.seed), max_length=128),
                       TrainingArguments(str(out / "classifier"), epochs=2, batch_size=16, lr=5e-5, head_lr=1e-3,
                                         warmup_ratio=0.06, seed=args.seed, resume=not args.fresh,
                                         overwrite=args.fresh)),
        "generator": (GeneratorTrainingConfig(GeneratorConfig(args.model, max_source_length=128, max_target_length=16,
                                                              arch=args.generator_arch), mix_gen=True),
                      TrainingArguments(str(out / "generator"), epochs=3, batch_size=16, lr=2e-4, warmup_ratio=0.06,
                                        seed=args.seed, resume=not args.fresh, overwrite=args.fresh)),
    }
    for kind, (config, training) in runs.items():
        if (Path(training.output_dir) / "train_summary.json").exists() and not args.fresh:
            print(f"{kind}: reusing {training.output_dir} (pass --fresh to retrain)")
            continue
        print(f"training the {kind} on the demo training tasks ...")
        pipeline.train(kind, data, config, training)
    # the generator's final export: its dev EM on the 2 held-out demo tasks (whose labels it never saw) is 0
    # at every epoch, so best/ would just be the first, least-trained checkpoint
    report = pipeline.evaluate(data, out / "eval", str(out / "classifier"), str(out / "generator" / "final"),
                               pipeline.EvalOptions(max_length=128, max_new_tokens=16, n_best=4))
    print(results_markdown(report))
    plot = plot_em({"demo": out / "eval" / "metrics.json"}, out / "em.png")
    print(f"predictions, metrics.json, results.md in {out / 'eval'}; plot {plot}")


def build_parser() -> argparse.ArgumentParser:
    from crosstask.cli.validation import OneLineParser
    parser = OneLineParser(prog="crosstask", description="Cross-task generalisation toolkit: "
                                     "SuperNI generator vs. classifier, ReCross retrieval-augmented adaptation.")
    commands = parser.add_subparsers(dest="command", required=True)
    from crosstask.cli.recross import register as register_recross
    register_recross(commands)
    __import__("crosstask.cli.export", fromlist=["register"]).register(commands)  # crosstask export

    data = commands.add_parser("data", help="inspect datasets").add_subparsers(dest="data_command", required=True)
    summary = data.add_parser("summary", help="tasks per split, CLS/GEN counts, label spaces, missing tasks",
                              description="Summarise a SuperNI directory or a ReCross (T0) directory.")
    _add_data_args(summary)
    summary.add_argument("--kind", choices=["auto", "superni", "recross"], default="auto",
                         help="dataset kind (auto: ReCross if split.json is present)")
    summary.add_argument("--label-mode", choices=["instances", "examples"], default="instances",
                         help="label spaces from all instances (seed behaviour, leaks test labels) or from "
                              "the Positive/Negative Examples only (leakage-free)")
    summary.add_argument("--format", choices=["markdown", "json"], default="markdown")
    summary.add_argument("--json", metavar="PATH", help="also write the summary as JSON to PATH")
    summary.set_defaults(func=cmd_data_summary)

    base = commands.add_parser("baselines", help="heuristic baselines (EM, ROUGE-L) on SuperNI tasks",
                               description="Random label, most frequent positive-example label, first demo "
                                           "output and copy-input baselines.")
    _add_data_args(base)
    base.add_argument("--split", default="test", choices=["train", "test"])
    base.add_argument("--tasks", default="cls", choices=["cls", "gen", "all"], help="which tasks (default: CLS)")
    base.add_argument("--label-mode", choices=["instances", "examples"], default="instances")
    base.add_argument("--max-labels", type=int, default=100, help="CLS rule: at most this many labels")
    base.add_argument("--max-instances", type=_non_negative, default=100, help="instances per task (test: the first N)")
    base.add_argument("--baseline", action="append", help="run only this baseline (repeatable)")
    base.add_argument("--seed", type=int, default=42)
    base.add_argument("--format", choices=["markdown", "json"], default="markdown")
    base.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    base.set_defaults(func=cmd_baselines)

    train = commands.add_parser("train", help="train a classifier or a generator on SuperNI training tasks",
                                description="Train on the training split (minus held-out dev tasks); the best "
                                            "checkpoint by dev EM is exported to OUTPUT/best.")
    train.add_argument("kind", choices=["classifier", "generator"])
    _add_data_args(train)
    _add_model_args(train)
    train.add_argument("--output", required=True, help="run directory (checkpoints, best/, final/, logs)")
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--batch-size", type=int, default=16, help="global batch per micro-step (over all processes)")
    train.add_argument("--grad-accum", type=int, default=1)
    train.add_argument("--lr", type=float, default=5e-5)
    train.add_argument("--head-lr", type=float, default=None, help="classifier head learning rate (default: --lr)")
    train.add_argument("--weight-decay", type=float, default=0.01)
    train.add_argument("--scheduler", default="linear", help="learning-rate schedule: linear, cosine, "
                       "cosine_with_restarts, polynomial, constant, constant_with_warmup, inverse_sqrt")
    train.add_argument("--warmup-ratio", type=float, default=0.0)
    train.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps (0: each epoch end)")
    train.add_argument("--eval-every", type=int, default=0, help="dev evaluation every N steps (0: each epoch end)")
    train.add_argument("--max-steps", type=int, default=None,
                       help="stop after N optimizer steps (N ≥ 1; 0 is an error, not 'no limit'; default: all epochs)")
    train.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output that "
                       "loads (same settings as its run_config.json)")
    train.add_argument("--overwrite", action="store_true", help="replace a run already in --output")
    train.add_argument("--skip-nonfinite", action="store_true", help="skip (and count) steps with a non-finite loss "
                       "instead of stopping with an error")
    train.add_argument("--max-train-instances", type=_non_negative, default=100)
    train.add_argument("--max-train-labels", type=int, default=None, help="only CLS training tasks with ≤ N labels")
    train.add_argument("--dev-tasks", type=_non_negative, default=10, help="CLS training tasks held out for model selection")
    train.add_argument("--max-dev-instances", type=_non_negative, default=20)
    train.add_argument("--pooling", choices=["mean", "first"], default="mean")
    train.add_argument("--dropout", type=float, default=0.2)
    train.add_argument("--shared-context", action="store_true",
                       help="classifier variant: all candidates of an instance in one pass (context does not "
                            "attend to candidates); faster to train and evaluate")
    train.add_argument("--negatives", type=int, default=None, help="negatives per positive (default: all labels)")
    train.add_argument("--mix-gen", action="store_true", help="'w/ GEN': add the generation tasks to training")
    _add_generator_arch_arg(train)
    train.add_argument("--gen-negatives", default="matched",
                       help="negatives for GEN tasks with --mix-gen: matched (CLS ratio), none (seed), or a number")
    _add_precision_arg(train)
    train.set_defaults(func=cmd_train)

    ev = commands.add_parser("evaluate", help="evaluate a classifier and/or generator on the unseen test tasks",
                             description="Writes predictions-*.jsonl, metrics.json and results.md; baselines beside.")
    _add_data_args(ev)
    ev.add_argument("--classifier", help="classifier directory (or a training run directory)")
    ev.add_argument("--generator", help="generator directory (or a training run directory)")
    ev.add_argument("--output", required=True)
    ev.add_argument("--overwrite", action="store_true", help="replace an evaluation with other settings in --output")
    ev.add_argument("--tasks", choices=["cls", "all"], default="all",
                    help="cls: CLS test tasks only; all: also GEN tasks (N-best, reranking, combined score)")
    ev.add_argument("--no-fair", action="store_true", help="skip the fair generator (label-space ranking)")
    ev.add_argument("--n-best", type=int, default=4, help="beam size / N-best for GEN tasks and reranking")
    ev.add_argument("--batch-size", type=int, default=64)
    ev.add_argument("--max-length", type=int, default=256)
    ev.add_argument("--max-target-length", type=int, default=64)
    _add_prompt_args(ev)
    _add_precision_arg(ev)
    ev.set_defaults(func=cmd_evaluate)

    rep = commands.add_parser("report", help="plots from evaluation and training runs")
    rep.add_argument("--eval", action="append", required=True, metavar="NAME=metrics.json",
                     help="an evaluation (repeatable); NAME like 'cls w/o GEN'")
    rep.add_argument("--train", action="append", metavar="NAME=train_summary.json", help="a classifier training run")
    rep.add_argument("--out", required=True, help="directory for the PNG plots")
    rep.set_defaults(func=cmd_report)

    demo = commands.add_parser("demo", help="run the main job on the packaged demo benchmark (offline)",
                               description="Generate the demo benchmark, train a classifier and a generator on it with the "
                                           "packaged model, evaluate both beside the heuristic baselines, plot.")
    demo.add_argument("--demo-seed", type=int, default=0, help="seed of the demo benchmark (default 0)")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--model", default="default", help="backbone (default: packaged all-MiniLM-L6-v2)")
    demo.add_argument("--output", default="runs/demo", help="run directory (default runs/demo)")
    demo.add_argument("--train-instances", type=_non_negative, default=60)
    demo.add_argument("--test-instances", type=_non_negative, default=30)
    demo.add_argument("--fresh", action="store_true", help="retrain even if a finished run exists")
    _add_generator_arch_arg(demo)
    demo.add_argument("--baselines-only", action="store_true", help="only the data summary and the baselines (seconds)")
    demo.set_defaults(func=cmd_demo)
    return parser


def _quiet_libraries() -> None:
    """Keep library chatter (load reports, length warnings, deprecations) out of the user's way."""
    import warnings
    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        from transformers.utils import logging as hf_logging
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at emit time (not the one of the first `main()` call), so
    in-process callers that swap stderr (tests, notebooks) never see a closed stream."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; the property ignores that
        pass


def _show_crosstask_log() -> None:
    """crosstask's own log lines (e.g. which precision `auto` chose) on stderr, once per process."""
    logger = logging.getLogger("crosstask")
    if not any(isinstance(h, _CurrentStderrHandler) for h in logger.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("crosstask: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    _show_crosstask_log()
    try:
        from crosstask.cli.validation import validate
        validate(args)  # every flag, choice and path, before any work
        args.func(args)
    except (CrosstaskError, OSError, UnicodeDecodeError) as exc:
        from crosstask.core.errors import describe_os_error
        message = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
        print(f"crosstask: error: {' '.join(message.split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crosstask: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
