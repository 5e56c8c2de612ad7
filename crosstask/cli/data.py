"""`crosstask data summary`, `crosstask baselines` and `crosstask report`: inspect data, heuristic baselines,
plots from finished runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crosstask.cli.common import LABEL_MODES, add_data_args, add_holdout_arg, non_negative
from crosstask.cli.options import finish, from_args, option
from crosstask.core.errors import CrosstaskError
from crosstask.core.io import atomic_write_json
from crosstask.data import summary
from crosstask.data.benchmark import DataConfig
from crosstask.data.location import resolve_dataset_dir
from crosstask.evaluation.tables import metrics_table
from crosstask.experiments.baselines import BaselinesConfig, baselines_report
from crosstask.reporting.plots import plot_em, plot_pair_counts
from crosstask.reporting.summary import render_recross, render_superni


def cmd_data_summary(args: argparse.Namespace) -> None:
    if args.demo:
        root = from_args(DataConfig, args).resolve_root()
    else:
        root = resolve_dataset_dir(args.data, args.kind if args.kind != "auto" else "superni")
    is_recross = args.kind == "recross" or (args.kind == "auto" and (root / "split.json").exists())
    result = summary.summarize_recross(root) if is_recross else summary.summarize_superni(root, args.label_mode)
    if args.json:
        atomic_write_json(args.json, result)
    print(json.dumps(result, indent=2) if args.format == "json" else
          (render_recross(result) if is_recross else render_superni(result)))


def print_baselines(report: dict, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(report, indent=2))
        return
    results = report["results"]
    print(f"Heuristic baselines on {report['n_tasks']} {report['tasks'].upper()} {report['split']} tasks of "
          f"{report['data']} ({sum(r['overall']['n'] for r in results.values()) // max(len(results), 1)} instances; "
          f"label space mode: {report['label_space_mode']}; seed {report['seed']}; data hash {report['data_hash']}; "
          f"{len(report['missing_tasks'])} tasks missing on disk)\n")
    print(metrics_table(results))


def cmd_baselines(args: argparse.Namespace) -> None:
    config = from_args(BaselinesConfig, args, baselines=tuple(args.baseline) if args.baseline else None)
    report = baselines_report(from_args(DataConfig, args), config)
    if args.json:
        atomic_write_json(args.json, report)
    print_baselines(report, args.format)


def _named_path(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name:
        raise CrosstaskError(f"expected NAME=PATH, got {value!r}")
    if not Path(path).is_file():
        raise CrosstaskError(f"{path}: no such file (for {name!r})")
    return name, Path(path)


def cmd_report(args: argparse.Namespace) -> None:
    evals = dict(_named_path(v) for v in args.eval)
    trains = dict(_named_path(v) for v in args.train or [])
    written = [plot_em(evals, Path(args.out) / "em.png")]
    if trains:
        written.append(plot_pair_counts(trains, Path(args.out) / "pairs.png"))
    print("wrote " + ", ".join(str(p) for p in written))


def _output_args(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--format", choices=["markdown", "json"], default="markdown")
    parser.add_argument("--json", metavar="PATH", help=f"also write the {what} as JSON to PATH")


def register(commands) -> None:
    """Add `data summary`, `baselines` and `report`."""
    data = commands.add_parser("data", help="inspect datasets").add_subparsers(dest="data_command", required=True)
    summary_parser = data.add_parser("summary", help="tasks per split, CLS/GEN counts, label spaces, missing tasks",
                                     description="Summarise a SuperNI directory or a ReCross (T0) directory.")
    add_data_args(summary_parser)
    summary_parser.add_argument("--kind", choices=["auto", "superni", "recross"], default="auto",
                                help="dataset kind (auto: ReCross if split.json is present)")
    option(summary_parser, "--label-mode", choices=LABEL_MODES, sets=(DataConfig, "label_mode"),
           help="label spaces from all instances (seed behaviour, leaks test labels) or from the Positive/Negative "
                "Examples only (leakage-free)")
    _output_args(summary_parser, "summary")
    finish(summary_parser, cmd_data_summary)

    base = commands.add_parser("baselines", help="heuristic baselines (EM, ROUGE-L) on SuperNI tasks",
                               description="Random label, most frequent positive-example label, first demo "
                                           "output and copy-input baselines.")
    add_data_args(base)
    option(base, "--split", choices=["train", "test"], sets=(BaselinesConfig, "split"))
    option(base, "--tasks", choices=["cls", "gen", "all"], sets=(BaselinesConfig, "tasks"), help="which tasks")
    option(base, "--label-mode", choices=LABEL_MODES, sets=(DataConfig, "label_mode"))
    option(base, "--max-labels", sets=(DataConfig, "max_labels"), help="CLS rule: at most this many labels")
    option(base, "--max-instances", type=non_negative, sets=(DataConfig, "max_test_instances"),
           help="instances per task (the first N)")
    add_holdout_arg(base)
    base.add_argument("--baseline", action="append", help="run only this baseline (repeatable; default: all)")
    option(base, "--seed", type=int, sets=(DataConfig, "seed"))
    _output_args(base, "results")
    finish(base, cmd_baselines)

    rep = commands.add_parser("report", help="plots from evaluation and training runs")
    rep.add_argument("--eval", action="append", required=True, metavar="NAME=metrics.json",
                     help="an evaluation (repeatable); NAME like 'cls w/o GEN'")
    rep.add_argument("--train", action="append", metavar="NAME=train_summary.json", help="a classifier training run")
    rep.add_argument("--out", required=True, help="directory for the PNG plots")
    finish(rep, cmd_report)
