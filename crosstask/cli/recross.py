"""`crosstask recross ...`: the ReCross experiment from the command line (a thin shell over
`crosstask.experiments.recross`). `register(commands)` adds the command group to a subparsers object."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from crosstask.cli.common import (
    PRECISION_HELP,
    add_generator_arch_arg,
    add_precision_arg,
    add_report_to_arg,
    non_negative,
    positive,
)
from crosstask.cli.options import finish, from_args, option, save_config
from crosstask.cli.validation import check_reranker_rows
from crosstask.core.errors import CrosstaskError
from crosstask.core.io import read_jsonl
from crosstask.core.precision import ENCODER_PRECISIONS, MIXED_PRECISIONS
from crosstask.core.runs import run_lock
from crosstask.data.location import resolve_dataset_dir
from crosstask.data.t0 import load_upstream_pool, read_task_lists, target_names
from crosstask.experiments.distant_supervision import DistantSupervisionConfig, build_distant_supervision
from crosstask.experiments.recross import TargetsConfig, UpstreamConfig, run_targets, train_upstream
from crosstask.experiments.recross_round import METHODS, RecrossConfig, build_retriever
from crosstask.models.generator import GeneratorConfig
from crosstask.models.kinds import detect_kind
from crosstask.reporting.plots import loss_curve_report
from crosstask.reporting.recross import recross_report
from crosstask.training.adapt import AdaptConfig
from crosstask.training.pairs import PairConfig
from crosstask.training.reranker import RerankerConfig, train_reranker, train_shared_reranker
from crosstask.training.trainer import TrainingArguments

logger = logging.getLogger(__name__)


def _recross_dir(args: argparse.Namespace) -> Path:
    return resolve_dataset_dir(args.data, "recross")


def _pick(value: str, allowed: list[str] | tuple[str, ...], what: str) -> list[str]:
    """A comma-separated selection from `allowed` ("all": every one), in the order given."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    if items == ["all"]:
        items = list(allowed)
    unknown = [v for v in items if v not in allowed]
    if unknown or not items:
        raise CrosstaskError(f"unknown {what} {', '.join(unknown) or repr(value)} (choose from: "
                             f"{', '.join(allowed) or 'none found'}, or all)")
    return list(dict.fromkeys(items))


def _adapt_config(args: argparse.Namespace) -> AdaptConfig:
    return from_args(AdaptConfig, args, pairs=from_args(PairConfig, args, mix_gen=True))


def cmd_upstream(args: argparse.Namespace) -> None:
    training = from_args(TrainingArguments, args, output_dir=args.output)
    config = from_args(UpstreamConfig, args, max_per_task=args.max_per_task or None,
                       exclude_tasks=tuple(t.strip() for t in args.exclude_tasks.split(",") if t.strip()))
    summary = train_upstream(_recross_dir(args), args.output, config, training)
    save_config(args, args.output)
    loss_curve_report(args.output)
    kinds = list(summary["typed_tasks"].values())
    print(f"trained the upstream {args.kind} on {summary['n_records']} records of {len(summary['upstream_tasks'])} "
          f"upstream tasks ({kinds.count('CLS')} CLS / {kinds.count('GEN')} GEN templates; targets excluded): "
          f"{summary['steps']} steps; model in {summary['model_dir']}"
          + (f"; held out: {', '.join(summary['held_out_tasks'])}" if summary["held_out_tasks"] else ""))


def cmd_distant_supervision(args: argparse.Namespace) -> None:
    config = from_args(DistantSupervisionConfig, args, max_per_task=args.max_per_task or None,
                       adapt=_adapt_config(args))
    recross_dir = _recross_dir(args)
    model, kind = detect_kind(args.upstream)
    pool = load_upstream_pool(recross_dir, config.max_per_task, config.seed)
    pseudo = _pick(args.pseudo_targets, pool.tasks, "pseudo-target")
    output = Path(args.output)
    retrieval = RecrossConfig("distant-supervision", retriever=config.retriever, model_kind=kind,
                              cache_dir=str(output.parent / "index-cache"), adapt=config.adapt)
    retriever = build_retriever(retrieval, pool.records, pool.files, model, output.parent, seed=config.seed)
    rows = build_distant_supervision(pool.records, model, pseudo, retriever, config, output=output)
    positives = sum(int(r["label"]) for r in rows)
    print(f"wrote {len(rows)} rows ({positives} positive, {len(rows) - positives} negative) from "
          f"{len(pseudo)} pseudo-targets to {output}")


def cmd_train_reranker(args: argparse.Namespace) -> None:
    path = Path(args.data_file)
    if not path.is_file():
        raise CrosstaskError(f"{path}: no such file (run `crosstask recross distant-supervision` first)")
    rows = read_jsonl(path)
    check_reranker_rows(path, rows)  # objects with query, candidate and a label 0 or 1, before any model loads
    c = from_args(RerankerConfig, args)
    if c.shared_context:
        out = train_shared_reranker(rows, c.model, args.output, epochs=c.epochs, batch_size=c.batch_size,
                                    seed=c.seed, lr=c.lr, max_length=c.max_length, mixed_precision=c.mixed_precision)
    else:
        out = train_reranker(rows, c.model, args.output, epochs=c.epochs, batch_size=c.batch_size, seed=c.seed,
                             lr=c.lr, max_length=c.max_length)
    save_config(args, out)
    print(f"trained the reranker on {len(rows)} pairs; saved to {out}")


def _upstream_task_names(recross_dir: Path) -> list[str]:
    """The T0 upstream tasks of split.json with a file under upstream/ (possible pseudo-targets)."""
    lists = read_task_lists(recross_dir)
    return [t for t in lists["T0"]
            if t not in lists["evaluation"] and (recross_dir / "upstream" / f"{t}.json").exists()]


def cmd_run(args: argparse.Namespace) -> None:
    recross_dir = _recross_dir(args)
    real = target_names(recross_dir)
    targets = real if args.target.strip() == "all" else \
        _pick(args.target, [*real, *_upstream_task_names(recross_dir)], "target")
    methods = _pick(args.retriever, (*METHODS, "ceiling"), "retriever")
    if args.retriever.strip() == "all":
        methods = list(METHODS)
        if not args.reranker:
            methods.remove("dense_rerank")
            logger.info("no --reranker given, so dense_rerank is skipped")
    if args.ceiling and "ceiling" not in methods:
        methods.append("ceiling")
    config = from_args(TargetsConfig, args, max_per_task=args.max_per_task or None, adapt=_adapt_config(args))
    with run_lock(args.output):
        summary = run_targets(recross_dir, args.upstream, methods, targets, args.output, config)
    save_config(args, args.output)
    print(f"{len(targets)} targets × {len(methods)} methods done; summary in {Path(args.output) / 'summary.json'} "
          f"(data hash {summary['data_hash']})")


def cmd_report(args: argparse.Namespace) -> None:
    report = recross_report(args.runs, args.out, notes=args.notes, name=args.name)
    print(Path(report["table"]).read_text(encoding="utf-8"))
    written = [report["table"], *report["heatmaps"], str(Path(args.out) / f"{args.name}.json"),
               *(u["summary_file"] for u in report["upstreams"])]
    print("wrote " + ", ".join(p for p in written if p))


def _add_data_arg(parser: argparse.ArgumentParser, *seed_sets) -> None:
    parser.add_argument("--data", help="ReCross directory, or a root holding recross/ (default: $CROSSTASK_DATA, "
                        "else ../shared/data beside the repo)")
    option(parser, "--seed", type=int, sets=list(seed_sets))


def _add_adapt_args(parser: argparse.ArgumentParser, pool: type) -> None:
    option(parser, "--adapt-lr", type=float, sets=(AdaptConfig, "lr"), help="adaptation learning rate (paper: 6e-6)")
    option(parser, "--adapt-batch-size", type=positive, sets=(AdaptConfig, "batch_size"))
    option(parser, "--adapt-epochs", type=positive, sets=(AdaptConfig, "epochs"))
    option(parser, "--adapt-negatives", type=positive, sets=(PairConfig, "negatives"),
           help="classifier adaptation: k sampled negative options per positive (default: all)")
    option(parser, "--adapt-max-steps", type=positive, sets=(AdaptConfig, "max_steps"),
           help="cap on adaptation optimiser steps")
    option(parser, "--max-length", type=positive, sets=(AdaptConfig, "max_length"),
           help="max pair / source length in tokens")
    option(parser, "--max-per-task", type=non_negative, sets=(pool, "max_per_task"),
           help="upstream records per task in the retrieval pool (seeded sample; 0 or none: all)")
    option(parser, "--mixed-precision", choices=MIXED_PRECISIONS, sets=(AdaptConfig, "mixed_precision"),
           help=f"adaptation and evaluation; {PRECISION_HELP}")


def _register_upstream(sub) -> None:
    up = sub.add_parser("upstream", help="train the upstream model on the T0 upstream pool (targets excluded)",
                        description="Train a classifier ('w/ GEN' pairs) or generator on the T0 upstream tasks of "
                                    "split.json; evaluation targets are never used.")
    option(up, "--kind", choices=["classifier", "generator"], required=True, sets=(UpstreamConfig, "kind"))
    add_generator_arch_arg(up, (UpstreamConfig, "generator_arch"), (GeneratorConfig, "arch"))
    up.add_argument("--output", required=True,
                    help="run directory: best/, final/, run_config.json, train_summary.json")
    _add_data_arg(up, (TrainingArguments, "seed"))
    option(up, "--model", sets=(UpstreamConfig, "model"), help="backbone: hub id or local path ('default': packaged "
           "MiniLM)")
    option(up, "--max-per-task", type=non_negative, sets=(UpstreamConfig, "max_per_task"),
           help="records per upstream task (0: all)")
    run = TrainingArguments
    option(up, "--epochs", type=positive, sets=(run, "epochs"))
    option(up, "--batch-size", type=positive, sets=(run, "batch_size"))
    option(up, "--lr", sets=(run, "lr"))
    option(up, "--head-lr", type=float, sets=(run, "head_lr"), help="classifier head learning rate (default: --lr)")
    option(up, "--warmup-ratio", sets=(run, "warmup_ratio"))
    option(up, "--max-length", type=positive, sets=(UpstreamConfig, "max_length"),
           help="max pair / source length in tokens")
    option(up, "--max-steps", type=positive, sets=(run, "max_steps"))
    option(up, "--siamese", sets=(UpstreamConfig, "siamese"),
           help="classifier upstream: context and candidate pooled apart, head on [u, v, u*v, |u-v|] "
                "(--batch-size counts instances, each with all its candidates)")
    option(up, "--expand-options", sets=(UpstreamConfig, "expand_options"),
           help="classifier upstream: an input's options listed by index are its candidates, trained as "
                "'index: option text' (evaluate with `recross run --expand-options`)")
    option(up, "--max-cls-labels", type=positive, sets=(UpstreamConfig, "max_cls_labels"),
           help="templates with ≤ N labels are CLS")
    option(up, "--dev-templates", type=non_negative, sets=(UpstreamConfig, "dev_templates"),
           help="CLS templates held out as dev")
    up.add_argument("--exclude-tasks", default="", help="comma-separated upstream tasks left out of training: "
                    "held-out pseudo-targets (`recross run --target TASK`) to choose adaptation settings on")
    option(up, "--resume", sets=(run, "resume"), help="continue from the newest checkpoint in --output")
    option(up, "--overwrite", sets=(run, "overwrite"), help="replace a run already in --output")
    add_precision_arg(up, (run, "mixed_precision"))
    add_report_to_arg(up, (run, "report_to"))
    finish(up, cmd_upstream)


def _register_distant_supervision(sub) -> None:
    ds = sub.add_parser("distant-supervision", help="(query, candidate, label) rows for the reranker",
                        description="Each pseudo-target: adapt upstream copies on groups of retrieved candidates; "
                                    "candidates lowering its held-out loss are positives, those raising it negatives.")
    ds.add_argument("--upstream", required=True, help="upstream run or model directory")
    ds.add_argument("--output", required=True, help="rows as JSONL (resumable: parts kept in FILE.parts/)")
    config = DistantSupervisionConfig
    _add_data_arg(ds, (config, "seed"), (AdaptConfig, "seed"), (PairConfig, "seed"))
    ds.add_argument("--pseudo-targets", default="all", help="comma-separated upstream tasks, or all")
    option(ds, "--retriever", choices=["random", "bm25", "sbert", "dense"], sets=(config, "retriever"))
    option(ds, "--n-query-sets", type=positive, sets=(config, "n_query_sets"), help="query sets per pseudo-target")
    option(ds, "--query-size", type=positive, sets=(config, "query_size"))
    option(ds, "--group-size", type=positive, sets=(config, "group_size"))
    option(ds, "--n-groups", type=positive, sets=(config, "n_groups"))
    option(ds, "--heldout-size", type=positive, sets=(config, "heldout_size"))
    _add_adapt_args(ds, config)
    finish(ds, cmd_distant_supervision)


def _register_train_reranker(sub) -> None:
    rr = sub.add_parser("train-reranker", help="train the cross-encoder reranker on distant-supervision rows",
                        description="2-way cross-encoder (helpful / unhelpful) over (query, candidate) pairs.")
    rr.add_argument("--data-file", required=True, help="JSONL rows from distant-supervision")
    rr.add_argument("--output", required=True, help="reranker directory")
    config = RerankerConfig
    option(rr, "--model", sets=(config, "model"), help="base model ('default': packaged MiniLM)")
    option(rr, "--epochs", type=positive, sets=(config, "epochs"))
    option(rr, "--batch-size", type=positive, sets=(config, "batch_size"))
    option(rr, "--lr", sets=(config, "lr"))
    option(rr, "--max-length", type=positive, sets=(config, "max_length"))
    option(rr, "--seed", type=int, sets=(config, "seed"))
    option(rr, "--shared-context", sets=(config, "shared_context"),
           help="train the shared-context reranker (candidate encoded once, all queries in one pass; "
                "--batch-size counts candidates) instead of a CrossEncoder")
    option(rr, "--mixed-precision", choices=MIXED_PRECISIONS, sets=(config, "mixed_precision"),
           help="shared-context training only; auto: bf16 where native, fp32 otherwise")
    finish(rr, cmd_train_reranker)


def _register_run(sub) -> None:
    run = sub.add_parser("run", help="retrieve, adapt and evaluate per target × retriever (resumable)",
                         description="Per round: sample unlabeled queries, retrieve N upstream records, adapt a copy "
                                     "of the upstream model, evaluate on test-1000; finished rounds are never redone.")
    config = TargetsConfig
    run.add_argument("--target", default="all",
                     help="comma-separated targets under targets/, or all; an upstream task name is run as a held-out "
                          "pseudo-target (test and queries from its own records, left out of the pool)")
    run.add_argument("--retriever", default="all",
                     help=f"comma-separated of {', '.join(METHODS)}, ceiling (with --ceiling K), or all (no ceiling)")
    option(run, "--aggregation", choices=["fused", "concat"], sets=(config, "aggregation"),
           help="multi-query aggregation: fused (reciprocal rank, deduplicated) or concat (the paper's: "
                "each query's top ⌈N/|Q|⌉ concatenated, duplicates kept, trimmed to N)")
    option(run, "--ceiling", type=non_negative, sets=(config, "ceiling"),
           help="also run the ceiling diagnostic: adapt on K *labelled* validation records of the target "
                "instead of retrieved ones (an upper bound; 0: off)")
    option(run, "--rounds", type=non_negative, sets=(config, "rounds"))
    option(run, "--n", type=positive, sets=(config, "n"), help="retrieved upstream records per round")
    option(run, "--queries", type=positive, sets=(config, "query_size"), help="unlabeled target queries per round")
    run.add_argument("--upstream", required=True, help="upstream run or model directory")
    run.add_argument("--output", required=True, help="run root (per target × method run dirs, summary.json)")
    _add_data_arg(run, (config, "seed"), (AdaptConfig, "seed"), (PairConfig, "seed"))
    option(run, "--reranker", sets=(config, "reranker"), help="reranker directory (for dense_rerank)")
    option(run, "--mu", type=positive, sets=(config, "mu"), help="retrieve μ·N before reranking")
    option(run, "--index", choices=["exact", "hnsw", "ivf"], sets=(config, "index_kind"), help="dense index kind")
    option(run, "--encoder", sets=(config, "encoder"),
           help="encoder for dense / sbert (default: upstream encoder / packaged MiniLM)")
    option(run, "--index-cache", sets=(config, "index_cache"),
           help="index cache directory (default: OUTPUT/index-cache); indexes are keyed by pool content, encoder "
                "and index settings, so run roots can share one")
    option(run, "--encoder-precision", choices=ENCODER_PRECISIONS, sets=(config, "encoder_precision"),
           help="index encoders (dense, sbert); auto: bf16 autocast where bf16 is native (AMX / "
                "AVX-512-BF16 CPUs, GPUs), fp32 otherwise; near-identical sets")
    option(run, "--max-test", "--test-records", dest="max_test", type=positive, sets=(config, "max_test"),
           help="evaluate on the first N test records (default: all of test-1000)")
    option(run, "--num-beams", type=positive, sets=(config, "num_beams"))
    option(run, "--max-new-tokens", type=positive, sets=(config, "max_new_tokens"))
    option(run, "--expand-options", sets=(config, "expand_options"),
           help="rank classification: score an option the input lists by index ('- A: text', 'Ending 2: "
                "text') as 'A: text' instead of 'A' (a siamese classifier cannot tell bare indices apart); on "
                "whenever the upstream was trained with `recross upstream --expand-options`")
    _add_adapt_args(run, config)
    finish(run, cmd_run)


def register(commands) -> argparse.ArgumentParser:
    """Add the `recross` command group (upstream, distant-supervision, train-reranker, run, report)."""
    group = commands.add_parser("recross", help="ReCross: retrieval-augmented adaptation to unseen T0 targets",
                                description="Upstream model on the T0 pool, retrieval + adaptation per target, "
                                            "report.")
    sub = group.add_subparsers(dest="recross_command", required=True)
    _register_upstream(sub)
    _register_distant_supervision(sub)
    _register_train_reranker(sub)
    _register_run(sub)
    rep = sub.add_parser("report", help="Markdown table, heatmap and recross.json from a run root",
                         description="Mean ± std over rounds per target × method, the paper's Table 1 as reference.")
    rep.add_argument("--runs", required=True, nargs="+",
                     help="run root(s) of `recross run` (or summary.json files), e.g. a classifier and a generator "
                     "upstream run: one section each")
    rep.add_argument("--out", required=True, help="directory for recross.md, heatmap.png, recross.json")
    rep.add_argument("--notes", help="a Markdown file appended to recross.md (setup, reading of the numbers)")
    rep.add_argument("--name", default="recross", help="file stem of the report: <name>.md, <name>.json, "
                     "<name>_heatmap.png (default recross: recross.md, recross.json, heatmap.png), so a second "
                     "upstream's report can sit beside the first, e.g. --name recross_classifier")
    finish(rep, cmd_report)
    return group
