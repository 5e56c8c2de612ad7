"""`crosstask recross ...`: the ReCross experiment from the command line (a thin shell over
`crosstask.experiments.recross`). `register(commands)` adds the command group to a subparsers object."""

from __future__ import annotations

import argparse
from pathlib import Path

from crosstask.core.errors import CrosstaskError
from crosstask.data.t0 import load_upstream_pool
from crosstask.experiments.recross_round import METHODS
from crosstask.models.kinds import detect_kind
from crosstask.core.runs import run_lock
from crosstask.cli.validation import check_reranker_rows
from crosstask.core.precision import ENCODER_PRECISIONS, MIXED_PRECISIONS



def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {number}")
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {number}")
    return number


def _recross_dir(args: argparse.Namespace) -> Path:
    from crosstask.data.location import resolve_dataset_dir

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


def _adapt_config(args: argparse.Namespace):
    from crosstask.training.adapt import AdaptConfig
    from crosstask.training.pairs import PairConfig

    return AdaptConfig(lr=args.adapt_lr, batch_size=args.adapt_batch_size, epochs=args.adapt_epochs,
                       max_steps=args.adapt_max_steps, seed=args.seed, max_length=args.max_length,
                       mixed_precision=args.mixed_precision,
                       pairs=PairConfig(negatives=args.adapt_negatives, mix_gen=True, seed=args.seed))


def cmd_upstream(args: argparse.Namespace) -> None:
    from crosstask.experiments.recross import train_upstream
    from crosstask.training.trainer import TrainingArguments

    training = TrainingArguments(output_dir=args.output, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                 warmup_ratio=args.warmup_ratio, seed=args.seed, max_steps=args.max_steps,
                                 resume=args.resume, mixed_precision=args.mixed_precision, overwrite=args.overwrite)
    summary = train_upstream(_recross_dir(args), args.kind, args.output, max_per_task=args.max_per_task or None,
                             model=args.model, max_length=args.max_length, training_args=training,
                             max_cls_labels=args.max_cls_labels, seed=args.seed, dev_templates=args.dev_templates,
                             exclude_tasks=[t.strip() for t in args.exclude_tasks.split(",") if t.strip()],
                             generator_arch=args.generator_arch)
    kinds = list(summary["typed_tasks"].values())
    print(f"trained the upstream {args.kind} on {summary['n_records']} records of {len(summary['upstream_tasks'])} "
          f"upstream tasks ({kinds.count('CLS')} CLS / {kinds.count('GEN')} GEN templates; targets excluded): "
          f"{summary['steps']} steps; model in {summary['model_dir']}"
          + (f"; held out: {', '.join(summary['held_out_tasks'])}" if summary["held_out_tasks"] else ""))


def cmd_distant_supervision(args: argparse.Namespace) -> None:
    from crosstask.experiments.recross_round import RecrossConfig, build_retriever
    from crosstask.experiments.distant_supervision import build_distant_supervision

    recross_dir = _recross_dir(args)
    model, kind = detect_kind(args.upstream)
    pool = load_upstream_pool(recross_dir, args.max_per_task or None, args.seed)
    pseudo = _pick(args.pseudo_targets, pool.tasks, "pseudo-target")
    output = Path(args.output)
    config = RecrossConfig("distant-supervision", retriever=args.retriever, model_kind=kind,
                           cache_dir=str(output.parent / "index-cache"), adapt=_adapt_config(args))
    retriever = build_retriever(config, pool.records, pool.files, model, output.parent, seed=args.seed)
    rows = build_distant_supervision(
        pool.records, model, pseudo_targets=pseudo, retriever=retriever, kind=kind, n_query_sets=args.n_query_sets,
        query_size=args.query_size, group_size=args.group_size, n_groups=args.n_groups, heldout_size=args.heldout_size,
        seed=args.seed, adapt=config.adapt, output=output)
    positives = sum(int(r["label"]) for r in rows)
    print(f"wrote {len(rows)} rows ({positives} positive, {len(rows) - positives} negative) from "
          f"{len(pseudo)} pseudo-targets to {output}")


def cmd_train_reranker(args: argparse.Namespace) -> None:
    from crosstask.core.io import read_jsonl
    from crosstask.training.reranker import train_reranker

    path = Path(args.data_file)
    if not path.is_file():
        raise CrosstaskError(f"{path}: no such file (run `crosstask recross distant-supervision` first)")
    rows = read_jsonl(path)
    check_reranker_rows(path, rows)  # objects with query, candidate and a label 0 or 1, before any model loads
    if args.shared_context:
        from crosstask.training.reranker import train_shared_reranker

        out = train_shared_reranker(rows, args.model, args.output, epochs=args.epochs, batch_size=args.batch_size,
                                    seed=args.seed, lr=args.lr, max_length=args.max_length,
                                    mixed_precision=args.mixed_precision)
    else:
        out = train_reranker(rows, args.model, args.output, epochs=args.epochs, batch_size=args.batch_size,
                             seed=args.seed, lr=args.lr, max_length=args.max_length)
    print(f"trained the reranker on {len(rows)} pairs; saved to {out}")


def _upstream_task_names(recross_dir: Path) -> list[str]:
    """The T0 upstream tasks of split.json with a file under upstream/ (possible pseudo-targets)."""
    from crosstask.data.t0 import read_task_lists

    lists = read_task_lists(recross_dir)
    return [t for t in lists["T0"] if t not in lists["evaluation"] and (recross_dir / "upstream" / f"{t}.json").exists()]


def cmd_run(args: argparse.Namespace) -> None:
    from crosstask.data.t0 import target_names
    from crosstask.experiments.recross import run_targets

    recross_dir = _recross_dir(args)
    real = target_names(recross_dir)
    targets = real if args.target.strip() == "all" else \
        _pick(args.target, [*real, *_upstream_task_names(recross_dir)], "target")
    methods = _pick(args.retriever, (*METHODS, "ceiling"), "retriever")
    if args.retriever.strip() == "all":
        methods = list(METHODS)
        if not args.reranker:
            methods.remove("dense_rerank")
            print("note: no --reranker given, so dense_rerank is skipped")
    if args.ceiling and "ceiling" not in methods:
        methods.append("ceiling")
    with run_lock(args.output):
        summary = run_targets(recross_dir, args.upstream, methods, targets, args.rounds, args.n, args.queries, args.output,
                          args.reranker, args.mu, max_per_task=args.max_per_task or None, index_kind=args.index,
                          max_test=args.max_test, adapt=_adapt_config(args), encoder=args.encoder,
                          num_beams=args.num_beams, max_new_tokens=args.max_new_tokens, seed=args.seed,
                          encoder_precision=args.encoder_precision, aggregation=args.aggregation,
                          ceiling=args.ceiling)
    print(f"{len(targets)} targets × {len(methods)} methods done; summary in {Path(args.output) / 'summary.json'} "
          f"(data hash {summary['data_hash']})")


def cmd_report(args: argparse.Namespace) -> None:
    from crosstask.reporting.recross import recross_report

    report = recross_report(args.runs, args.out, notes=args.notes)
    print(Path(report["table"]).read_text(encoding="utf-8"))
    written = [report["table"], *report["heatmaps"], str(Path(args.out) / "recross.json"),
               *(u["summary_file"] for u in report["upstreams"])]
    print("wrote " + ", ".join(p for p in written if p))


def _add_data_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="ReCross directory, or a root holding recross/ (default: $CROSSTASK_DATA, "
                        "else ../shared/data beside the repo)")
    parser.add_argument("--seed", type=int, default=42)


def _add_adapt_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapt-lr", type=float, default=6e-6, help="adaptation learning rate (paper: 6e-6)")
    parser.add_argument("--adapt-batch-size", type=_positive, default=4)
    parser.add_argument("--adapt-epochs", type=_positive, default=1)
    parser.add_argument("--adapt-negatives", type=_positive, default=None,
                        help="classifier adaptation: k sampled negative options per positive (default: all)")
    parser.add_argument("--adapt-max-steps", type=_positive, default=None, help="cap on adaptation optimiser steps")
    parser.add_argument("--max-length", type=_positive, default=256, help="max pair / source length in tokens")
    parser.add_argument("--max-per-task", type=_non_negative, default=0,
                        help="upstream records per task in the retrieval pool (seeded sample; 0: all)")
    parser.add_argument("--mixed-precision", choices=MIXED_PRECISIONS, default="auto",
                        help='adaptation and evaluation; "auto" (default): bf16 autocast where bf16 is native (CUDA with bf16, CPUs with AMX / AVX-512-BF16), fp32 otherwise; "no": fp32; an explicit bf16 on a CPU without it warns (~50x slower)')


def register(commands) -> argparse.ArgumentParser:
    """Add the `recross` command group (upstream, distant-supervision, train-reranker, run, report)."""
    group = commands.add_parser("recross", help="ReCross: retrieval-augmented adaptation to unseen T0 targets",
                                description="Upstream model on the T0 pool, retrieval + adaptation per target, report.")
    sub = group.add_subparsers(dest="recross_command", required=True)

    up = sub.add_parser("upstream", help="train the upstream model on the T0 upstream pool (targets excluded)",
                        description="Train a classifier ('w/ GEN' pairs) or generator on the T0 upstream tasks of "
                                    "split.json; evaluation targets are never used.")
    up.add_argument("--kind", choices=["classifier", "generator"], required=True)
    up.add_argument("--generator-arch", choices=["unilm", "bert2bert", "seq2seq"], default=None,
                    help="generator architecture (default: unilm for BERT backbones such as the packaged MiniLM; "
                         "seq2seq for T5 / BART ids)")
    up.add_argument("--output", required=True, help="run directory: best/, final/, run_config.json, train_summary.json")
    _add_data_arg(up)
    up.add_argument("--model", default="default", help="backbone: hub id or local path (default: packaged MiniLM)")
    up.add_argument("--max-per-task", type=_non_negative, default=100, help="records per upstream task (0: all)")
    up.add_argument("--epochs", type=_positive, default=1)
    up.add_argument("--batch-size", type=_positive, default=16)
    up.add_argument("--lr", type=float, default=5e-5)
    up.add_argument("--warmup-ratio", type=float, default=0.0)
    up.add_argument("--max-length", type=_positive, default=256, help="max pair / source length in tokens")
    up.add_argument("--max-steps", type=_positive, default=None)
    up.add_argument("--max-cls-labels", type=_positive, default=10, help="templates with ≤ N labels are CLS")
    up.add_argument("--dev-templates", type=_non_negative, default=0, help="CLS templates held out as dev")
    up.add_argument("--exclude-tasks", default="", help="comma-separated upstream tasks left out of training: "
                    "held-out pseudo-targets (`recross run --target TASK`) to choose adaptation settings on")
    up.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    up.add_argument("--overwrite", action="store_true", help="replace a run already in --output")
    up.add_argument("--mixed-precision", choices=MIXED_PRECISIONS, default="auto", help='"auto" (default): bf16 autocast where bf16 is native (CUDA with bf16, CPUs with AMX / AVX-512-BF16), fp32 otherwise; "no": fp32; an explicit bf16 on a CPU without it warns (~50x slower)')
    up.set_defaults(func=cmd_upstream)

    ds = sub.add_parser("distant-supervision", help="(query, candidate, label) rows for the reranker",
                        description="Each pseudo-target: adapt upstream copies on groups of retrieved candidates; "
                                    "candidates lowering its held-out loss are positives, those raising it negatives.")
    ds.add_argument("--upstream", required=True, help="upstream run or model directory")
    ds.add_argument("--output", required=True, help="rows as JSONL (resumable: parts kept in FILE.parts/)")
    _add_data_arg(ds)
    ds.add_argument("--pseudo-targets", default="all", help="comma-separated upstream tasks, or all")
    ds.add_argument("--retriever", choices=["random", "bm25", "sbert", "dense"], default="bm25")
    ds.add_argument("--n-query-sets", type=_positive, default=1, help="query sets per pseudo-target")
    ds.add_argument("--query-size", type=_positive, default=8)
    ds.add_argument("--group-size", type=_positive, default=16)
    ds.add_argument("--n-groups", type=_positive, default=4)
    ds.add_argument("--heldout-size", type=_positive, default=32)
    _add_adapt_args(ds)
    ds.set_defaults(func=cmd_distant_supervision)

    rr = sub.add_parser("train-reranker", help="train the cross-encoder reranker on distant-supervision rows",
                        description="2-way cross-encoder (helpful / unhelpful) over (query, candidate) pairs.")
    rr.add_argument("--data-file", required=True, help="JSONL rows from distant-supervision")
    rr.add_argument("--output", required=True, help="reranker directory")
    rr.add_argument("--model", default="default", help="base model (default: packaged MiniLM)")
    rr.add_argument("--epochs", type=_positive, default=1)
    rr.add_argument("--batch-size", type=_positive, default=16)
    rr.add_argument("--lr", type=float, default=2e-5)
    rr.add_argument("--max-length", type=_positive, default=256)
    rr.add_argument("--seed", type=int, default=42)
    rr.add_argument("--shared-context", action="store_true",
                    help="train the shared-context reranker (candidate encoded once, all queries in one pass; "
                         "--batch-size counts candidates) instead of a CrossEncoder")
    rr.add_argument("--mixed-precision", choices=MIXED_PRECISIONS, default="auto",
                    help="shared-context training only; auto: bf16 where native, fp32 otherwise")
    rr.set_defaults(func=cmd_train_reranker)

    run = sub.add_parser("run", help="retrieve, adapt and evaluate per target × retriever (resumable)",
                         description="Per round: sample unlabeled queries, retrieve N upstream records, adapt a copy "
                                     "of the upstream model, evaluate on test-1000; finished rounds are never redone.")
    run.add_argument("--target", default="all",
                     help="comma-separated targets under targets/, or all; an upstream task name is run as a held-out "
                          "pseudo-target (test and queries from its own records, left out of the pool)")
    run.add_argument("--retriever", default="all",
                     help=f"comma-separated of {', '.join(METHODS)}, ceiling (with --ceiling K), or all (no ceiling)")
    run.add_argument("--aggregation", choices=["fused", "concat"], default="fused",
                     help="multi-query aggregation: fused (reciprocal rank, deduplicated) or concat (the paper's: "
                          "each query's top ⌈N/|Q|⌉ concatenated, duplicates kept, trimmed to N)")
    run.add_argument("--ceiling", type=_non_negative, default=0,
                     help="also run the ceiling diagnostic: adapt on K *labelled* validation records of the target "
                          "instead of retrieved ones (an upper bound; 0: off)")
    run.add_argument("--rounds", type=_non_negative, default=5)
    run.add_argument("--n", type=_positive, default=512, help="retrieved upstream records per round")
    run.add_argument("--queries", type=_positive, default=16, help="unlabeled target queries per round")
    run.add_argument("--upstream", required=True, help="upstream run or model directory")
    run.add_argument("--output", required=True, help="run root (per target × method run dirs, summary.json)")
    _add_data_arg(run)
    run.add_argument("--reranker", help="reranker directory (for dense_rerank)")
    run.add_argument("--mu", type=_positive, default=2, help="retrieve μ·N before reranking")
    run.add_argument("--index", choices=["exact", "hnsw", "ivf"], default="exact", help="dense index kind")
    run.add_argument("--encoder", help="encoder for dense / sbert (default: upstream encoder / packaged MiniLM)")
    run.add_argument("--encoder-precision", choices=ENCODER_PRECISIONS, default="auto",
                     help="index encoders (dense, sbert); auto: bf16 autocast where bf16 is native (AMX / "
                          "AVX-512-BF16 CPUs, GPUs), fp32 otherwise; near-identical sets")
    run.add_argument("--max-test", "--test-records", dest="max_test", type=_positive, default=None,
                     help="evaluate on the first N test records (default: all of test-1000)")
    run.add_argument("--num-beams", type=_positive, default=4)
    run.add_argument("--max-new-tokens", type=_positive, default=64)
    _add_adapt_args(run)
    run.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="Markdown table, heatmap and recross.json from a run root",
                         description="Mean ± std over rounds per target × method, the paper's Table 1 as reference.")
    rep.add_argument("--runs", required=True, nargs="+",
                     help="run root(s) of `recross run` (or summary.json files), e.g. a classifier and a generator "
                     "upstream run: one section each")
    rep.add_argument("--out", required=True, help="directory for recross.md, heatmap.png, recross.json")
    rep.add_argument("--notes", help="a Markdown file appended to recross.md (setup, reading of the numbers)")
    rep.set_defaults(func=cmd_report)
    return group

