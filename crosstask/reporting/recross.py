"""The ReCross report behind `crosstask recross report`: per run root (a `run_targets` summary), a
table per headline metric (targets × zero-shot and the methods, each table naming its metric
definition), the reference baselines (per-template majority option, uniform random option), the
share of inputs cut to the model's length, each method's mean gain over zero-shot with its paired
bootstrap 95 % interval, the paper's Table 1 beside, a heatmap of the retrieved upstream tasks and
recross.json.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crosstask.core.errors import CrosstaskError
from crosstask.core.io import atomic_write_json, atomic_write_text, read_json
from crosstask.evaluation.recross_metrics import SUPERNI_NORMALIZATION, metric_definition
from crosstask.evaluation.tables import markdown_table
from crosstask.experiments.recross_round import CEILING, METHODS  # ceiling: adapted on K labelled records
from crosstask.reporting.heatmap import plot_retrieval_heatmap

COLUMNS = {"random": "random", "bm25": "bm25", "sbert": "sbert", "dense": "dense", "dense_rerank": "dense+rerank"}
HEADLINE = {"generation": ("soft_exact_match", "exact_match")}  # rank/* protocols: accuracy
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


def normalization(summary: Mapping) -> str:
    """The run's generation EM / SoftEM normalisation: "recross" (the paper's), or "superni" for a
    summary written before crosstask adopted it (it does not say)."""
    return summary.get("softem_normalization", SUPERNI_NORMALIZATION)


def headline_metrics(summary: Mapping) -> list[str]:
    """Each protocol's headline metrics present in the summary: SoftEM then EM (generation), accuracy (rank/*);
    generation first."""
    keys = {k for e in summary["targets"].values() for k in e["zero_shot"]}
    keys |= {k for e in summary["targets"].values() for m in e["methods"].values() for k in m["summary"]}
    order = {f"{protocol}/{metric}": rank for protocol, metrics in HEADLINE.items()
             for rank, metric in enumerate(metrics)}
    wanted = [k for k in keys if k in order or (k.rsplit("/", 1)[0] not in HEADLINE and k.endswith("/accuracy"))]
    return sorted(wanted, key=lambda k: (not k.startswith("generation"), order.get(k, 0), k))


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def baseline_means(summary: Mapping) -> dict:
    """Mean over the targets that have them of the rank-classification majority and uniform baselines."""
    rows = [e.get("baselines") or {} for e in summary["targets"].values()]
    return {name: _mean(r.get(name) for r in rows) for name in ("majority", "uniform")}


def metric_stats(summary: Mapping, metric: str) -> dict:
    """Zero-shot and per-method mean / std over targets, each method's mean gain over zero-shot and
    its paired-bootstrap 95 % interval (`ci95`, from the run summary, when computed)."""
    targets = summary["targets"]
    intervals = summary.get("ci95", {}).get(metric, {})
    zero = {t: e["zero_shot"][metric] for t, e in targets.items() if metric in e["zero_shot"]}
    out: dict[str, Any] = {"metric": metric, "definition": metric_definition(metric, normalization(summary)),
                           "zero_shot_mean": _mean(zero.values()), "zero_shot": zero, "methods": {}}
    for method in (*METHODS, CEILING):
        runs = {t: e["methods"][method] for t, e in targets.items()
                if method in e["methods"] and metric in e["methods"][method]["summary"]}
        if method == CEILING and not runs:
            continue
        means = {t: r["summary"][metric]["mean"] for t, r in runs.items()}
        gains = [means[t] - zero[t] for t in means if t in zero]
        by_round = [r["rounds"] for r in runs.values()]
        n_rounds = {len(r) for r in by_round}
        # std of the over-targets mean across rounds (the paper's mean row), when rounds line up
        overall = [np.mean([r[i][metric] for r in by_round]) for i in range(n_rounds.pop())] \
            if len(n_rounds) == 1 and all(metric in x for r in by_round for x in r) else []
        found = intervals.get(method, {})
        target_ci = found.get("targets", {})
        out["methods"][method] = {
            "mean": _mean(means.values()), "std": float(np.std(overall)) if overall else None,
            "gain": _mean(gains), "ci95": found.get("mean_gain"), "ci95_rounds": found.get("mean_gain_rounds"),
            "ci95_targets": found.get("n_targets"),
            "n_targets": len(means), **targets_moved([target_ci.get(t) for t in means]),
            "targets": {t: {**r["summary"][metric], "ci95": target_ci.get(t)} for t, r in runs.items()}}
    return out


def targets_moved(intervals: Sequence[Sequence[float] | None]) -> dict:
    """{"targets_up": how many targets' 95 % intervals of the gain lie wholly above 0, "targets_down": wholly
    below 0}; None when any target has no interval."""
    if not intervals or any(ci is None for ci in intervals):
        return {"targets_up": None, "targets_down": None}
    return {"targets_up": sum(ci[0] > 0 for ci in intervals), "targets_down": sum(ci[1] < 0 for ci in intervals)}


def _cell(stats: Mapping | None, value: float | None = None) -> str:
    if value is not None:
        return f"{value:.2f}"
    if not stats or stats.get("mean") is None:
        return "–"
    return f"{stats['mean']:.2f} ± {stats['std']:.2f}" if stats.get("std") is not None else f"{stats['mean']:.2f}"


def _interval(ci: Sequence[float] | None) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "–"


def _moved(stats: Mapping) -> str:
    return "–" if stats.get("targets_up") is None else f"{stats['targets_up']} / {stats['targets_down']}"


def metric_table(stats: Mapping, baselines: Mapping[str, Mapping] | None = None, ceiling: int | None = None) -> str:
    """Targets × (majority, uniform: rank metrics only) zero-shot, methods (ceiling last, if run);
    then the mean, the gain over zero-shot and its 95 % interval."""

    methods = [m for m in (*METHODS, CEILING) if m in stats["methods"]]
    rank = stats["metric"].startswith("rank/") and baselines is not None
    names = ["majority", "uniform"] if rank else []
    base = {n: {t: (b or {}).get(n) for t, b in baselines.items()} for n in names} if rank else {}
    header = ["target", *names, "zero-shot", *(COLUMNS.get(m, f"ceiling ({ceiling} labelled)") for m in methods)]
    rows = []
    for target in sorted({*stats["zero_shot"], *(t for m in stats["methods"].values() for t in m["targets"])}):
        rows.append([target, *(_cell(None, base[n].get(target)) for n in names), _cell(None,
                                                                                       stats["zero_shot"].get(target)),
                     *(_cell(stats["methods"][m]["targets"].get(target)) for m in methods)])
    means = [_cell(None, _mean(base[n].values())) for n in names]
    rows.append(["**mean**", *means, _cell(None, stats["zero_shot_mean"]),
                 *(_cell(stats["methods"][m]) for m in methods)])
    blank = [""] * len(names)
    rows.append(["gain vs. zero-shot", *blank, "", *(_cell(None, stats["methods"][m]["gain"]) for m in methods)])
    rows.append(["gain 95 % CI (paired bootstrap)", *blank, "",
                 *(_interval(stats["methods"][m]["ci95"]) for m in methods)])
    if any(stats["methods"][m].get("ci95_rounds") for m in methods):
        rows.append(["gain 95 % CI, rounds resampled too", *blank, "",
                     *(_interval(stats["methods"][m].get("ci95_rounds")) for m in methods)])
    if any(stats["methods"][m].get("targets_up") is not None for m in methods):
        rows.append(["targets up / down (own 95 % CI excludes 0)", *blank, "",
                     *(_moved(stats["methods"][m]) for m in methods)])
    return markdown_table(header, rows)


def targets_table(summary: Mapping) -> str:
    """Per target: test records, distinct examples, rank records, inputs cut, majority / uniform."""

    rows = []
    for target, entry in sorted(summary["targets"].items()):
        counts, base = entry.get("counts") or {}, entry.get("baselines") or {}
        checked, cut = counts.get("inputs_checked"), counts.get("inputs_cut")
        share = f"{100 * cut / checked:.1f} % ({cut}/{checked})" if checked else "–"
        rows.append([target, counts.get("test", "–"), entry.get("examples", "–"), counts.get("rank_records", "–"),
                     share, *(f"{base[n]:.2f}" if base.get(n) is not None else "–" for n in ("majority", "uniform"))])
    return markdown_table(["target", "test records", "examples", "rank records", "inputs cut",
                           "majority option", "uniform option"], rows)


def paper_table(targets: Sequence[str]) -> str:

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


def rounds_done(summary: Mapping) -> int | None:
    """The fewest rounds any target × method cell of the summary holds (None: no cell)."""
    counts = [len(m["rounds"]) for e in summary["targets"].values() for m in e["methods"].values()]
    return min(counts) if counts else None


def method_commands(summary: Mapping) -> dict[str, str]:
    """Per method, the `recross run` command that last wrote its cells (a run root may merge several runs, e.g. a
    method added later); summaries written before methods kept their command give the summary's command."""
    found = {}
    for entry in summary["targets"].values():
        for method, cells in entry["methods"].items():
            found.setdefault(method, cells.get("command") or summary["command"])
    return {m: found[m] for m in summary.get("methods", found) if m in found}


def _command_lines(summary: Mapping) -> list[str]:
    by_command: dict[str, list[str]] = {}
    for method, command in method_commands(summary).items():
        by_command.setdefault(command, []).append(method)
    if len(by_command) <= 1:
        return [f"Command: `{next(iter(by_command), summary['command'])}`"]
    return ["Commands (this run root merges several runs; rerunning one reads its finished rounds back):", "",
            *(f"- {', '.join(methods)}: `{command}`" for command, methods in by_command.items())]


def records_evaluated(summary: Mapping) -> int | dict | None:
    """Test records evaluated per target: one number when every target has the same, else per target."""
    found = {t: e["counts"]["test"] for t, e in summary["targets"].items() if (e.get("counts") or {}).get("test")}
    if not found:
        return summary["settings"].get("max_test")
    return next(iter(found.values())) if len(set(found.values())) == 1 else found


def _summary_section(summary: Mapping, stats: Mapping[str, dict], level: str) -> list[str]:
    settings = summary["settings"]
    aggregation = settings.get("aggregation", "fused")
    head = (settings.get("adapt", {}).get("prompt") or {}).get("input_head")
    cut = (f"cut in the middle of the passage: its first {head} tokens and its end, the question and options, kept"
           if head is not None else "OLD run: cut keeping the beginning, so the question at the end could be lost")
    how = " (per-query top ⌈N/|Q|⌉, duplicates kept)" if aggregation == "concat" else " (fused, deduplicated)"
    rounds = rounds_done(summary)
    lines = [(f"Data hash {summary['data_hash']}; pool {summary['pool_size']} records; "
              f"N={settings['n']}, |Q|={settings['query_size']}, aggregation {aggregation}{how}; "
              f"{rounds} round{'' if rounds == 1 else 's'}; seed {summary['seed']}. "
              "Cells: mean ± std over rounds "
              "(population std); the mean row's ± is the std over rounds of the mean over targets. "
              "The gain's 95 % CI is a paired bootstrap over test examples (records of one example together, "
              "within each target; rounds averaged per record)."),
             "", *_command_lines(summary), "",
             "Per target: inputs cut = test records whose input was longer than the model's length "
             f"({settings.get('adapt', {}).get('max_length', '?')} tokens; {cut}); "
             "majority option = each template always answers the option most often "
             "gold on its test records; uniform option = expected accuracy of a random option (both rank "
             "classification, reference rows only).", "", targets_table(summary)]
    if settings.get("ceiling"):
        lines += ["", f"ceiling ({settings['ceiling']} labelled): the upstream model adapted on {settings['ceiling']} "
                  "*labelled* records of the target's validation pool instead of retrieved ones — an upper bound of "
                  "what adaptation on that many examples can give, never used to choose anything."]
    baselines = {t: e.get("baselines") for t, e in summary["targets"].items()}
    for metric, metric_stats_ in stats.items():
        lines += ["", f"{level} {metric}", "", f"Metric: {metric_stats_['definition']}.", "",
                  metric_table(metric_stats_, baselines, settings.get("ceiling"))]
    return lines


def _method_means(stats: Mapping) -> dict:
    """Per method: mean, std, gain, ci95, n_targets (the per-target cells dropped)."""
    return {m: {k: v for k, v in s.items() if k != "targets"} for m, s in stats["methods"].items()}


def _upstream_entry(summary: Mapping, stats: Mapping, heatmap: str | None, kept: Path) -> dict:
    return {"model_kind": summary["model_kind"], "model_dir": summary["model_dir"], "data_hash": summary["data_hash"],
            "run_command": summary["command"], "run_commands": method_commands(summary), "seed": summary["seed"],
            "settings": summary["settings"],
            "heatmap": heatmap, "summary_file": str(kept), "rounds": rounds_done(summary),
            "softem_normalization": normalization(summary),
            "test_records": records_evaluated(summary), "baseline_means": baseline_means(summary),
            "baselines": {t: e.get("baselines") for t, e in sorted(summary["targets"].items())},
            "inputs_cut": {t: (e.get("counts") or {}).get("inputs_cut") for t,
                           e in sorted(summary["targets"].items())},
            "by_metric": stats}


def recross_report(summaries: Mapping | str | Path | Sequence[Mapping | str | Path], out_dir: str | Path,
                   notes: str | Path | None = None, name: str = "recross") -> dict:
    """recross.md (a table per headline metric of each run root, e.g. a classifier and a generator
    upstream, the paper's Table 1 beside, then the Markdown file `notes` if given), a heatmap of
    retrieved upstream-task fractions per run root (rows target · method: heatmap.png for the first,
    heatmap_<kind>.png after), recross.json and a copy of every run summary (recross_summary_<kind>.json,
    which `--runs` accepts, so the page can be rebuilt without the run directories) under `out_dir`.
    recross.json's top-level numbers are the first run root's first headline metric (with its
    definition, rounds, test records, baseline means and per-method ci95); `upstreams` holds every run
    root's metrics and `paper_metric` the first generation SoftEM found (the paper's metric), if any.
    Another `name` (e.g. "recross_classifier") writes <name>.md, <name>.json, <name>_heatmap*.png and
    <name>_summary_<kind>.json, so two reports can sit side by side in one directory."""

    if isinstance(summaries, Mapping | str | Path):
        summaries = [summaries]
    loaded = [_read_summary(s) for s in summaries]
    if not loaded:
        raise CrosstaskError("no run summary given")
    if not name or Path(name).name != name:
        raise CrosstaskError(f"report name {name!r} must be a plain file stem, e.g. recross_classifier")
    prefix = "" if name == "recross" else f"{name}_"
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
        heatmap_name = f"{prefix}heatmap.png" if i == 0 else f"{prefix}heatmap_{summary['model_kind']}{suffix}.png"
        kept = atomic_write_json(out / f"{name}_summary_{summary['model_kind']}{suffix}.json", summary)
        if len(loaded) > 1:
            lines += ["", f"## {summary['model_kind']} upstream ({summary['model_dir']})", ""]
        else:
            lines[0] += f" ({summary['model_dir']})"
            lines.append("")
        lines += _summary_section(summary, stats, "###" if len(loaded) > 1 else "##")
        found = summary.get("retrieved_tasks", {})
        cells = {f"{t} · {COLUMNS[m]}": found[m][t] for t in sorted(summary["targets"]) for m in METHODS
                 if found.get(m, {}).get(t)}
        heatmap = str(plot_retrieval_heatmap(cells, out / heatmap_name)) if cells else None
        upstreams.append(_upstream_entry(summary, stats, heatmap, kept))
    lines += ["", "## Reference: ReCross paper, Table 1 (SoftEM, BART0 upstream; BM25 not reported)", "",
              paper_table(targets)]
    if notes is not None:
        lines += ["", Path(notes).read_text(encoding="utf-8").rstrip()]
    heatmaps = [u["heatmap"] for u in upstreams]
    table = atomic_write_text(out / f"{name}.md", "\n".join(lines) + "\n")
    first = upstreams[0]["by_metric"]
    primary = next(iter(first.values()), {"metric": None, "definition": None, "zero_shot_mean": None, "methods": {}})
    paper = next((dict(st, model_kind=u["model_kind"]) for u in upstreams for m, st in u["by_metric"].items()
                  if m.startswith("generation/")), None)
    report = {"metric": primary["metric"], "metric_definition": primary["definition"],
              "softem_normalization": normalization(loaded[0]),
              "zero_shot_mean": primary["zero_shot_mean"],
              "majority_baseline_mean": upstreams[0]["baseline_means"]["majority"],
              "uniform_baseline_mean": upstreams[0]["baseline_means"]["uniform"],
              "rounds": upstreams[0]["rounds"], "test_records": upstreams[0]["test_records"],
              "baselines": upstreams[0]["baselines"], "methods": _method_means(primary),
              "by_metric": first, "upstreams": upstreams,
              "paper_metric": None if paper is None else {"metric": paper["metric"], "model_kind": paper["model_kind"],
                                                          "definition": paper["definition"],
                                                          "zero_shot_mean": paper["zero_shot_mean"],
                                                          "methods": _method_means(paper)},
              "targets": targets, "data_hash": loaded[0]["data_hash"], "run_command": loaded[0]["command"],
              "run_commands": upstreams[0]["run_commands"],
              "seed": loaded[0]["seed"], "table": str(table), "heatmap": heatmaps[0], "heatmaps": heatmaps,
              "paper_table1": {v[0]: {"bart0": v[1], "random": v[2], "sbert": v[3], "dense": v[4],
                                      "dense_rerank": v[5]}
                               for v in PAPER_TABLE1.values()}}
    report.update({m: report["methods"].get(m) for m in (*METHODS,
                                                         *([CEILING] if CEILING in report["methods"] else []))})
    atomic_write_json(out / f"{name}.json", report)
    return report
