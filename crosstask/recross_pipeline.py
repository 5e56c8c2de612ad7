"""ReCross experiment steps behind `crosstask recross ...`: train the upstream model on the T0 upstream
pool, run the retrieval-augmented adaptation loop over targets × retrievers, report.

Every artefact is written atomically, with the command, the seed and a hash of the data files used
(pool files, plus the target files for runs). Run layout under `run_root`:

    <target>/zero-shot/         the unadapted upstream model (computed once per target)
    <target>/<method>/          one `run_recross` run dir (config.json, round-<r>/, summary.json)
    index-cache/                dense indexes shared by every target
    summary.json                every target × method: zero-shot, per-round metrics, mean ± std
"""

from __future__ import annotations

import hashlib
import json
import platform
import random
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crosstask import __version__
from crosstask.data.records import T0Record
from crosstask.data.t0 import TARGET_FILES, UpstreamPool, load_target, load_upstream_pool, read_task_lists, target_names
from crosstask.errors import CrosstaskError
from crosstask.io import atomic_write_json, atomic_write_text, read_json

if TYPE_CHECKING:
    from crosstask.retrieval.adapt import AdaptConfig

METHODS = ("random", "bm25", "sbert", "dense", "dense_rerank")
COLUMNS = {"random": "random", "bm25": "bm25", "sbert": "sbert", "dense": "dense", "dense_rerank": "dense+rerank"}
HEADLINE = {"generation": "soft_exact_match"}  # rank/* protocols: accuracy
# The ReCross paper's Table 1 (SoftEM, BART0 upstream): BART0, Random, SBERT, ReCross w/o rerank, ReCross.
PAPER_TABLE1: dict[str, tuple] = {
    "anli_r3": ("anli_r3", 30.50, (35.34, 1.52), (32.64, 2.53), (36.70, 0.53), (35.76, 0.90)),
    "hellaswag": ("hellaswag", 39.40, (33.84, 5.59), (30.92, 7.82), (44.36, 3.07), (47.28, 2.95)),
    "super_glue-cb": ("cb", 39.64, (47.07, 1.25), (48.00, 3.28), (44.50, 4.20), (44.79, 3.36)),
    "super_glue-wic": ("wic", 46.70, (41.04, 2.18), (46.78, 2.22), (49.90, 0.50), (50.58, 0.24)),
    "super_glue-wsc.fixed": ("wsc", 57.88, (52.50, 2.29), (52.69, 6.13), (59.27, 1.96), (61.46, 1.47)),
    "winogrande-winogrande_xl": ("winogrande", 51.10, (52.68, 0.83), (52.18, 3.20), (54.60, 1.35), (55.46, 0.88)),
    "ai2_arc-ARC-Challenge": ("arc-challenge", 35.70, (33.28, 1.50), (37.90, 1.22), (37.78, 0.73), (38.44, 0.99)),
    "openbookqa-main": ("openbookqa", 34.40, (28.72, 2.46), (33.28, 1.24), (36.98, 1.55), (39.58, 2.80)),
    "piqa": ("piqa", 36.10, (37.00, 2.71), (38.54, 2.17), (41.34, 1.75), (41.42, 1.02)),
    "squad_v2": ("squad_v2", 32.40, (29.86, 5.46), (29.46, 0.84), (30.26, 1.54), (30.58, 1.61)),
    "mean": ("mean", 40.38, (39.13, 2.06), (40.24, 1.61), (43.57, 0.68), (44.53, 0.42)),
}


def data_hash(files: Sequence[str | Path]) -> str:
    """sha256 over the files' names and bytes, independent of their order (16 hex digits)."""
    digest = hashlib.sha256()
    for path in sorted(Path(f) for f in files):
        digest.update(f"{path.parent.name}/{path.name}".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def provenance(recross_dir: str | Path, files: Sequence[Path], seed: int) -> dict:
    return {"command": " ".join(["crosstask", *sys.argv[1:]]), "crosstask": __version__,
            "python": platform.python_version(), "data": str(recross_dir), "data_files": len(files),
            "data_hash": data_hash(files), "seed": seed, "time": time.strftime("%Y-%m-%d %H:%M:%S")}


def excluded_tasks(recross_dir: str | Path) -> set[str]:
    """Every evaluation task of split.json and every target folder: never upstream data."""
    return set(read_task_lists(recross_dir)["evaluation"]) | set(target_names(recross_dir))


def capped_pool(recross_dir: str | Path, max_per_task: int | None = None, seed: int = 42) -> UpstreamPool:
    """The T0 upstream pool without any target task (by file or dataset name); with `max_per_task`,
    each task's records are shuffled with a seed of (`seed`, task) and the first N kept."""
    pool, excluded = load_upstream_pool(recross_dir), excluded_tasks(recross_dir)
    groups: dict[str, list[T0Record]] = defaultdict(list)
    for record in pool.records:
        if record.task not in excluded and record.dataset not in excluded:
            groups[record.task].append(record)
    kept = UpstreamPool(missing=list(pool.missing))
    for task, path in zip(pool.tasks, pool.files):
        records = groups.get(task, [])
        if max_per_task:
            random.Random(f"{seed}|{task}").shuffle(records)
            records = records[:max_per_task]
        if records:
            kept.records.extend(records)
            kept.tasks.append(task)
            kept.files.append(path)
    if not kept.records:
        raise CrosstaskError(f"{recross_dir}: no upstream records (T0 tasks of split.json under upstream/)")
    return kept


def train_upstream(recross_dir: str | Path, kind: str, output_dir: str | Path, *, max_per_task: int | None,
                   model: str = "default", max_length: int = 256, training_args=None, max_cls_labels: int = 10,
                   seed: int = 42, dev_templates: int = 0, max_target_length: int = 64,
                   generator_arch: str | None = None) -> dict:
    """Train a classifier ("w/ GEN" pairs) or generator on the T0 upstream pool only; `dev_templates`
    CLS templates may be held out for model selection. Writes run_config.json and train_summary.json."""
    from crosstask.data.t0_tasks import t0_typed_tasks
    from crosstask.training.trainer import TrainingArguments, make_accelerator

    output = Path(output_dir)
    args = replace(training_args or TrainingArguments(str(output)), output_dir=str(output), seed=seed)
    pool = capped_pool(recross_dir, max_per_task, seed)
    tasks = t0_typed_tasks(pool.records, max_cls_labels=max_cls_labels)
    cls_names = [t.name for t in tasks if t.is_cls]
    held = set(random.Random(seed).sample(cls_names, min(dev_templates, max(0, len(cls_names) - 1))))
    train, dev = [t for t in tasks if t.name not in held], [t for t in tasks if t.name in held]
    if kind == "classifier":
        from crosstask.models.classifier import ClassifierConfig
        from crosstask.training.classifier import ClassifierTrainingConfig, train_classifier
        from crosstask.training.pairs import PairConfig
        config: Any = ClassifierTrainingConfig(ClassifierConfig(model), PairConfig(mix_gen=True, seed=seed),
                                               max_length=max_length)
        trainer = train_classifier
    elif kind == "generator":
        from crosstask.models.generator import GeneratorConfig
        from crosstask.training.generator import GeneratorTrainingConfig, train_generator
        config = GeneratorTrainingConfig(GeneratorConfig(model, False, max_length, max_target_length, generator_arch),
                                         mix_gen=True)
        trainer = train_generator
    else:
        raise CrosstaskError(f"unknown model kind {kind!r} (classifier or generator)")
    accelerator = make_accelerator(args.mixed_precision)
    per_task = {task: sum(r.task == task for r in pool.records) for task in pool.tasks}
    meta = {**provenance(recross_dir, [Path(recross_dir) / "split.json", *pool.files], seed), "kind": kind,
            "config": asdict(config), "training": asdict(args), "max_per_task": max_per_task,
            "upstream_tasks": list(pool.tasks), "missing_tasks": pool.missing,
            "excluded_tasks": sorted(excluded_tasks(recross_dir)), "records_per_task": per_task,
            "n_records": len(pool.records), "typed_tasks": {t.name: t.task_type.value for t in tasks},
            "dev_templates": sorted(held)}
    from crosstask.runs import clear_run, prepare_run

    mode = prepare_run(output, meta, args.resume, args.overwrite)  # another run there: refused before any write
    if accelerator.is_main_process:
        if mode == "overwrite":
            clear_run(output)
        if not (output / "run_config.json").exists():  # a resumed run keeps its own (same settings)
            atomic_write_json(output / "run_config.json", meta)
    result = trainer(train, config, args, dev, accelerator=accelerator)
    result.pop("trainer")
    summary = {**meta, **result,
               "model_dir": str(output / ("best" if result.get("best_step") is not None else "final"))}
    if accelerator.is_main_process:
        atomic_write_json(output / "train_summary.json", summary)
    return summary


def method_config(method: str, target: str, kind: str, **settings: Any):
    """The RecrossConfig of one method: `dense_rerank` is the dense retriever + the reranker (μ·N)."""
    from crosstask.retrieval.recross import RecrossConfig

    if method not in METHODS:
        raise CrosstaskError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    reranker, mu = settings.pop("reranker"), settings.pop("mu")
    if method != "dense_rerank":
        return RecrossConfig(target, retriever=method, model_kind=kind, **settings)
    if not reranker:
        raise CrosstaskError("method dense_rerank needs a reranker directory (train-reranker)")
    return RecrossConfig(target, retriever="dense", reranker=str(reranker), mu=mu, model_kind=kind, **settings)


def _zero_shot(config, target, model_dir: Path, target_root: Path, run_dir: Path) -> dict:
    """The target's zero-shot metrics, computed once under `target_root/zero-shot` and copied into
    `run_dir/zero-shot` (where `run_recross` reads it back instead of recomputing)."""
    from crosstask.data.t0_tasks import option_sets
    from crosstask.retrieval.recross import evaluate_model

    shared = target_root / "zero-shot"
    key = {"upstream_model": str(model_dir), "model_kind": config.model_kind, "max_test": config.max_test,
           "max_length": config.adapt.max_length, "num_beams": config.num_beams,
           "max_new_tokens": config.max_new_tokens, "mixed_precision": config.adapt.mixed_precision}
    if (shared / "metrics.json").exists():
        zero = read_json(shared / "metrics.json")
        if zero.get("settings") != key:
            raise CrosstaskError(f"{shared} was computed with other settings: use another run root")
    else:
        result = evaluate_model(model_dir, config, target, option_sets(target.query))
        atomic_write_json(shared / "predictions.json", result.prediction_rows())
        zero = {"round": None, "settings": key, **result.to_json()}
        atomic_write_json(shared / "metrics.json", zero)
    if not (run_dir / "zero-shot" / "metrics.json").exists():
        for name in ("predictions.json", "metrics.json"):  # metrics last: marks the copy complete
            (run_dir / "zero-shot").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared / name, run_dir / "zero-shot" / name)
    return zero


def run_targets(recross_dir: str | Path, upstream_dir: str | Path, methods: Sequence[str], targets: Sequence[str],
                rounds: int, n: int, query_size: int, run_root: str | Path, reranker_dir: str | Path | None = None,
                mu: int = 2, *, max_per_task: int | None = None, index_kind: str = "exact", max_test: int | None = None,
                adapt: AdaptConfig | None = None, encoder: str | None = None, num_beams: int = 4,
                max_new_tokens: int = 64, seed: int = 42, encoder_precision: str = "fp32",
                log: Callable[[str], None] = print) -> dict:
    """Every target × method through `run_recross` (finished rounds are read back, never recomputed),
    zero-shot once per target. Returns and writes `run_root/summary.json` (merged with an earlier one)."""
    from crosstask.models.classifier import is_classifier_dir
    from crosstask.pipeline import model_dir as resolve_model_dir
    from crosstask.retrieval.adapt import AdaptConfig
    from crosstask.retrieval.recross import load_retrieved_sets, retrieved_task_distribution, run_recross

    for method in methods:
        method_config(method, "-", "classifier", reranker=reranker_dir, mu=mu)  # validates name and reranker
    loaded = [load_target(recross_dir, name) for name in targets]  # a malformed target fails before any work
    model_dir = resolve_model_dir(upstream_dir)
    kind = "classifier" if is_classifier_dir(model_dir) else "generator"
    pool = capped_pool(recross_dir, max_per_task, seed)
    root = Path(run_root)
    settings = {"rounds": rounds, "n": n, "query_size": query_size, "index_kind": index_kind, "max_test": max_test,
                "adapt": adapt or AdaptConfig(), "encoder": encoder, "num_beams": num_beams,
                "max_new_tokens": max_new_tokens, "cache_dir": str(root / "index-cache"),
                "encoder_precision": encoder_precision}
    previous = read_json(root / "summary.json") if (root / "summary.json").exists() else {}
    recorded = {**settings, "adapt": asdict(settings["adapt"]), "reranker": reranker_dir and str(reranker_dir),
                "mu": mu, "max_per_task": max_per_task}
    free = {"rounds", "reranker", "mu", "cache_dir"}  # dense_rerank run dirs check reranker and mu
    if previous and {k: v for k, v in previous["settings"].items() if k not in free} != \
            {k: v for k, v in json.loads(json.dumps(recorded)).items() if k not in free}:
        raise CrosstaskError(f"{root} holds runs with other settings ({root / 'summary.json'}): use another run root")
    results: dict[str, dict] = previous.get("targets", {})
    distributions: dict[str, dict] = previous.get("retrieved_tasks", {})
    for target in loaded:
        entry = results.setdefault(target.name, {"zero_shot": {}, "methods": {}})
        for method in methods:
            config = method_config(method, target.name, kind, reranker=reranker_dir, mu=mu, **settings)
            run_dir = root / target.name / method
            log(f"{target.name} / {method}: {rounds} rounds of N={n}, |Q|={query_size} ({run_dir})")
            _zero_shot(config, target, model_dir, root / target.name, run_dir)
            out = run_recross(config, pool, target, model_dir, run_dir)
            entry["zero_shot"] = out["zero_shot"]
            entry["methods"][method] = {"rounds": out["rounds"], "summary": out["summary"], "run_dir": str(run_dir)}
            sets = [s for s in load_retrieved_sets(run_dir) if s["round"] < rounds]
            distributions.setdefault(method, {}).update(retrieved_task_distribution({target.name: sets}, pool))
    files = [Path(recross_dir) / "split.json", *pool.files,
             *(Path(recross_dir) / "targets" / t / f for t in sorted(results) for f in TARGET_FILES.values())]
    summary = {**provenance(recross_dir, files, seed), "upstream": str(upstream_dir), "model_dir": str(model_dir),
               "model_kind": kind, "pool_size": len(pool.records), "upstream_tasks": list(pool.tasks),
               "settings": recorded,
               "methods": sorted({m for e in results.values() for m in e["methods"]}, key=METHODS.index),
               "targets": dict(sorted(results.items())), "retrieved_tasks": distributions}
    atomic_write_json(root / "summary.json", summary)
    return summary


def headline_metrics(summary: Mapping) -> list[str]:
    """Each protocol's headline metric present in the summary: SoftEM (generation), accuracy (rank/*)."""
    keys = {k for e in summary["targets"].values() for k in e["zero_shot"]}
    keys |= {k for e in summary["targets"].values() for m in e["methods"].values() for k in m["summary"]}
    wanted = [k for k in keys if k.rsplit("/", 1)[1] == HEADLINE.get(k.rsplit("/", 1)[0], "accuracy")]
    return sorted(wanted, key=lambda k: (not k.startswith("generation"), k))


def metric_stats(summary: Mapping, metric: str) -> dict:
    """Zero-shot and per-method mean / std over targets (and each method's mean gain over zero-shot)."""
    targets = summary["targets"]
    zero = {t: e["zero_shot"][metric] for t, e in targets.items() if metric in e["zero_shot"]}
    out: dict[str, Any] = {"metric": metric, "zero_shot_mean": float(np.mean(list(zero.values()))) if zero else None,
                           "zero_shot": zero, "methods": {}}
    for method in METHODS:
        runs = {t: e["methods"][method] for t, e in targets.items()
                if method in e["methods"] and metric in e["methods"][method]["summary"]}
        means = {t: r["summary"][metric]["mean"] for t, r in runs.items()}
        gains = [means[t] - zero[t] for t in means if t in zero]
        by_round = [r["rounds"] for r in runs.values()]
        n_rounds = {len(r) for r in by_round}
        # std of the over-targets mean across rounds (the paper's mean row), when rounds line up
        overall = [np.mean([r[i][metric] for r in by_round]) for i in range(n_rounds.pop())] \
            if len(n_rounds) == 1 and all(metric in x for r in by_round for x in r) else []
        out["methods"][method] = {
            "mean": float(np.mean(list(means.values()))) if means else None,
            "std": float(np.std(overall)) if overall else None,
            "gain": float(np.mean(gains)) if gains else None, "n_targets": len(means),
            "targets": {t: dict(r["summary"][metric]) for t, r in runs.items()}}
    return out


def _cell(stats: Mapping | None, value: float | None = None) -> str:
    if value is not None:
        return f"{value:.2f}"
    if not stats or stats.get("mean") is None:
        return "–"
    return f"{stats['mean']:.2f} ± {stats['std']:.2f}" if stats.get("std") is not None else f"{stats['mean']:.2f}"


def metric_table(stats: Mapping) -> str:
    from crosstask.reporting.tables import markdown_table

    rows = []
    for target in sorted({*stats["zero_shot"], *(t for m in stats["methods"].values() for t in m["targets"])}):
        rows.append([target, _cell(None, stats["zero_shot"].get(target)),
                     *(_cell(stats["methods"][m]["targets"].get(target)) for m in METHODS)])
    rows.append(["**mean**", _cell(None, stats["zero_shot_mean"]), *(_cell(stats["methods"][m]) for m in METHODS)])
    rows.append(["gain vs. zero-shot", "", *(_cell(None, stats["methods"][m]["gain"]) for m in METHODS)])
    return markdown_table(["target", "zero-shot", *COLUMNS.values()], rows)


def paper_table(targets: Sequence[str]) -> str:
    from crosstask.reporting.tables import markdown_table

    rows = [[PAPER_TABLE1[t][0], f"{PAPER_TABLE1[t][1]:.2f}", *(f"{m:.2f} ± {s:.2f}" for m, s in PAPER_TABLE1[t][2:])]
            for t in [*(t for t in targets if t in PAPER_TABLE1), "mean"]]
    return markdown_table(["target (paper)", "BART0 zero-shot", "random", "sbert", "dense (w/o rerank)",
                           "dense+rerank (ReCross)"], rows)


def _read_summary(summary: Mapping | str | Path) -> Mapping:
    if isinstance(summary, Mapping):
        return summary
    path = Path(summary) / "summary.json" if Path(summary).is_dir() else Path(summary)
    if not path.is_file():
        raise CrosstaskError(f"{path}: no such file (run `crosstask recross run` first)")
    found = read_json(path)
    if not found.get("targets"):
        raise CrosstaskError(f"{path}: the run summary holds no targets")
    return found


def _summary_section(summary: Mapping, stats: Mapping[str, dict], level: str) -> list[str]:
    lines = [(f"Data hash {summary['data_hash']}; pool {summary['pool_size']} records; "
              f"N={summary['settings']['n']}, |Q|={summary['settings']['query_size']}, seed {summary['seed']}. "
              "Cells: mean ± std over rounds "
              "(population std); the mean row's ± is the std over rounds of the mean over targets."),
             "", f"Command: `{summary['command']}`"]
    for metric, metric_stats_ in stats.items():
        lines += ["", f"{level} {metric}", "", metric_table(metric_stats_)]
    return lines


def _method_means(stats: Mapping) -> dict:
    """Per method: mean, std, gain, n_targets (the per-target cells dropped)."""
    return {m: {k: v for k, v in s.items() if k != "targets"} for m, s in stats["methods"].items()}


def recross_report(summaries: Mapping | str | Path | Sequence[Mapping | str | Path], out_dir: str | Path,
                   notes: str | Path | None = None) -> dict:
    """recross.md (a table per headline metric of each run root, e.g. a classifier and a generator
    upstream, the paper's Table 1 beside, then the Markdown file `notes` if given), a heatmap of
    retrieved upstream-task fractions per run root (rows target · method: heatmap.png for the first,
    heatmap_<kind>.png after), recross.json and a copy of every run summary (recross_summary_<kind>.json,
    which `--runs` accepts, so the page can be rebuilt without the run directories) under `out_dir`.
    recross.json's top-level numbers are the first run root's first headline metric; `upstreams` holds every run root's metrics and
    `paper_metric` the first generation SoftEM found (the paper's metric), if any."""
    from crosstask.reporting.heatmap import plot_retrieval_heatmap

    if isinstance(summaries, Mapping | str | Path):
        summaries = [summaries]
    loaded = [_read_summary(s) for s in summaries]
    if not loaded:
        raise CrosstaskError("no run summary given")
    if notes is not None and not Path(notes).is_file():
        raise CrosstaskError(f"{notes}: no such notes file")
    out = Path(out_dir)
    targets = sorted({t for s in loaded for t in s["targets"]})
    kinds = [s["model_kind"] for s in loaded]
    lines = [f"# ReCross: {len(targets)} targets, {' and '.join(f'{k} upstream' for k in kinds)}"]
    upstreams = []
    for i, summary in enumerate(loaded):
        stats = {m: metric_stats(summary, m) for m in headline_metrics(summary)}
        suffix = "" if kinds.count(summary["model_kind"]) == 1 else str(i)
        name = "heatmap.png" if i == 0 else f"heatmap_{summary['model_kind']}{suffix}.png"
        kept = atomic_write_json(out / f"recross_summary_{summary['model_kind']}{suffix}.json", summary)
        if len(loaded) > 1:
            lines += ["", f"## {summary['model_kind']} upstream ({summary['model_dir']})", ""]
        else:
            lines[0] += f" ({summary['model_dir']})"
            lines.append("")
        lines += _summary_section(summary, stats, "###" if len(loaded) > 1 else "##")
        found = summary.get("retrieved_tasks", {})
        cells = {f"{t} · {COLUMNS[m]}": found[m][t] for t in sorted(summary["targets"]) for m in METHODS
                 if found.get(m, {}).get(t)}
        heatmap = str(plot_retrieval_heatmap(cells, out / name)) if cells else None
        upstreams.append({"model_kind": summary["model_kind"], "model_dir": summary["model_dir"],
                          "data_hash": summary["data_hash"], "run_command": summary["command"],
                          "seed": summary["seed"], "settings": summary["settings"], "heatmap": heatmap,
                          "summary_file": str(kept),
                          "by_metric": stats})
    lines += ["", "## Reference: ReCross paper, Table 1 (SoftEM, BART0 upstream; BM25 not reported)", "",
              paper_table(targets)]
    if notes is not None:
        lines += ["", Path(notes).read_text(encoding="utf-8").rstrip()]
    heatmaps = [u["heatmap"] for u in upstreams]
    table = atomic_write_text(out / "recross.md", "\n".join(lines) + "\n")
    first = upstreams[0]["by_metric"]
    primary = next(iter(first.values()), {"metric": None, "zero_shot_mean": None, "methods": {}})
    paper = next((dict(st, model_kind=u["model_kind"]) for u in upstreams for m, st in u["by_metric"].items()
                  if m.startswith("generation/")), None)
    report = {"metric": primary["metric"], "zero_shot_mean": primary["zero_shot_mean"], "methods": _method_means(primary),
              "by_metric": first, "upstreams": upstreams,
              "paper_metric": None if paper is None else {"metric": paper["metric"], "model_kind": paper["model_kind"],
                                                          "zero_shot_mean": paper["zero_shot_mean"],
                                                          "methods": _method_means(paper)},
              "targets": targets, "data_hash": loaded[0]["data_hash"], "run_command": loaded[0]["command"],
              "seed": loaded[0]["seed"], "table": str(table), "heatmap": heatmaps[0], "heatmaps": heatmaps,
              "paper_table1": {v[0]: {"bart0": v[1], "random": v[2], "sbert": v[3], "dense": v[4], "dense_rerank": v[5]}
                               for v in PAPER_TABLE1.values()}}
    report.update({m: report["methods"].get(m) for m in METHODS})
    atomic_write_json(out / "recross.json", report)
    return report
