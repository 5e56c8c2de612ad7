"""`crosstask` command line: a thin shell over the Python API."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crosstask.errors import CrosstaskError


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
        from crosstask.io import atomic_write_json
        atomic_write_json(args.json, result)
    print(json.dumps(result, indent=2) if args.format == "json" else
          (summary.render_recross(result) if is_recross else summary.render_superni(result)))


def cmd_baselines(args: argparse.Namespace) -> None:
    from crosstask.data.superni import load_split
    from crosstask.data.tasktype import TaskTypeRule, type_task
    from crosstask.evaluation.baselines import BASELINES, run_baselines
    from crosstask.reporting.tables import metrics_table

    root = _superni_dir(args)
    split = load_split(root, args.split, max_instances=args.max_instances)
    rule = TaskTypeRule(max_labels=args.max_labels)
    typed = [type_task(task, args.label_mode, rule) for task in split.tasks]
    if args.tasks != "all":
        typed = [t for t in typed if t.task_type.value == args.tasks.upper()]
    names = args.baseline or list(BASELINES)
    results = run_baselines(typed, names, seed=args.seed)
    report = {
        "data": str(root), "split": args.split, "tasks": args.tasks, "n_tasks": len(typed),
        "missing_tasks": split.missing, "label_space_mode": args.label_mode, "seed": args.seed, "results": results,
    }
    if args.json:
        from crosstask.io import atomic_write_json
        atomic_write_json(args.json, report)
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return
    print(f"Heuristic baselines on {len(typed)} {args.tasks.upper()} {args.split} tasks of {root} "
          f"({sum(r['overall']['n'] for r in results.values()) // max(len(results), 1)} instances; "
          f"label space mode: {args.label_mode}; seed {args.seed}; {len(split.missing)} tasks missing on disk)\n")
    print(metrics_table(results))


def cmd_demo(args: argparse.Namespace) -> None:
    """The main job on the packaged demo benchmark, offline: data summary, then baselines."""
    from crosstask.data import summary
    from crosstask.data.demo import ensure_demo_benchmark

    root = ensure_demo_benchmark(seed=args.demo_seed)
    print(summary.render_superni(summary.summarize_superni(root)), end="\n\n")
    for tasks in ("cls", "gen"):
        cmd_baselines(argparse.Namespace(
            demo=True, demo_seed=args.demo_seed, data=None, split="test", tasks=tasks, label_mode="instances",
            max_labels=100, max_instances=100, baseline=None, seed=args.seed, format="markdown", json=None))
        print()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crosstask", description="Cross-task generalisation toolkit: "
                                     "SuperNI generator vs. classifier, ReCross retrieval-augmented adaptation.")
    commands = parser.add_subparsers(dest="command", required=True)

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

    demo = commands.add_parser("demo", help="run the main job on the packaged demo benchmark (offline)",
                               description="Generate the demo benchmark if needed, summarise it, run the baselines.")
    demo.add_argument("--demo-seed", type=int, default=0, help="seed of the demo benchmark (default 0)")
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CrosstaskError as exc:
        print(f"crosstask: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        print(f"crosstask: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crosstask: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
