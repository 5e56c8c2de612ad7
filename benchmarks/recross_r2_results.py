"""Collect ReCross round 2 zero-shot runs (benchmarks/recross_r2.sh) into docs/results/recross_r2.json and a
Markdown table printed to stdout: per target the upstream's zero-shot rank accuracy beside the per-template
majority option and the uniform-random option, and the share of inputs cut; and the T0 held-out comparison
(the classifier upstream as a zero-shot classifier beside T0-3B and the Universal Discriminator).

Usage: .venv/bin/python benchmarks/recross_r2_results.py [--out runs/bench/recross_r2_classifier]
       [--json docs/results/recross_r2.json] [--metric rank/generator/accuracy]
       (extra run roots: --extra NAME=DIR, e.g. in-distribution checks)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crosstask.core.io import atomic_write_json

METRIC = "rank/classifier/accuracy"
# Published zero-shot accuracy on T0's held-out tasks (arXiv 2211.08099, Table 1): T0-3B and the Universal
# Discriminator (DeBERTaV3-large, 304 M); chance = one over the number of options.
PUBLISHED = {"anli_r3": (33.3, 45.7, 33.33), "super_glue-cb": (45.4, 76.8, 33.33), "hellaswag": (27.3, 60.7, 25.0),
             "super_glue-wic": (50.7, 53.3, 50.0), "super_glue-wsc.fixed": (65.1, 66.4, 50.0),
             "winogrande-winogrande_xl": (51.0, 83.6, 50.0)}


def rows(summary: dict, metric: str = METRIC) -> list[dict]:
    out = []
    for target, entry in summary["targets"].items():
        counts, base = entry["counts"], entry.get("baselines", {})
        out.append({"target": target, "zero_shot": entry["zero_shot"].get(metric), "majority": base.get("majority"),
                    "zero_shot_metrics": dict(entry["zero_shot"]),
                    "uniform": base.get("uniform"), "rank_records": counts.get("rank_records"),
                    "inputs_cut": counts.get("inputs_cut"), "inputs_checked": counts.get("inputs_checked")})
    return out


def mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 2) if values else None


def table(title: str, block: list[dict]) -> str:
    lines = [f"### {title}", "",
             "| target | zero-shot | majority option | uniform option | rank records | inputs cut |",
             "|---|---|---|---|---|---|"]
    fmt = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
    for r in block:
        lines.append(f"| {r['target']} | {fmt(r['zero_shot'])} | {fmt(r['majority'])} | {fmt(r['uniform'])} | "
                     f"{r['rank_records']} | {r['inputs_cut']}/{r['inputs_checked']} |")
    lines.append(f"| **mean** | {fmt(mean(r['zero_shot'] for r in block))} | {fmt(mean(r['majority'] for r in block))}"
                 f" | {fmt(mean(r['uniform'] for r in block))} | | |")
    return "\n".join(lines)


def t0_comparison(block: list[dict], kind: str = "classifier") -> tuple[str, dict]:
    """Our zero-shot rank accuracy on T0's held-out tasks beside the published T0-3B and UD numbers."""
    ours = {r["target"]: r["zero_shot"] for r in block}
    rows_ = [(t, ours.get(t), *PUBLISHED[t]) for t in PUBLISHED]
    fmt = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [f"### T0 held-out tasks: the {kind} upstream as a zero-shot classifier", "",
             "| task | ours (22 M) | T0-3B | UD (304 M) | chance | ours above chance |", "|---|---|---|---|---|---|"]
    for task, value, t0, ud, chance in rows_:
        above = "–" if value is None else ("yes" if value > chance else "no")
        lines.append(f"| {task} | {fmt(value)} | {t0} | {ud} | {chance:.2f} | {above} |")
    means = [mean(r[i] for r in rows_) for i in (1, 2, 3)]
    lines.append(f"| **mean** | {fmt(means[0])} | {fmt(means[1])} | {fmt(means[2])} | | |")
    data = {"tasks": {t: {"ours": v, "t0_3b": t0, "ud": ud, "chance": c} for t, v, t0, ud, c in rows_},
            "mean_ours": means[0], "mean_t0_3b": means[1], "mean_ud": means[2],
            "above_chance_on_all": all(v is not None and v > c for _, v, _, _, c in rows_)}
    return "\n".join(lines), data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="runs/bench/recross_r2_classifier")
    parser.add_argument("--json", default="docs/results/recross_r2.json")
    parser.add_argument("--extra", nargs="*", default=[])
    parser.add_argument("--metric", default=METRIC, help="the rank metric: rank/generator/accuracy for a generator "
                        "upstream (every zero-shot metric is kept per row as zero_shot_metrics)")
    args = parser.parse_args()
    root = Path(args.out)
    upstream = json.loads((root / "upstream" / "train_summary.json").read_text())
    roots = {"targets": root / "runs", "pseudo_targets": root / "pseudo"}
    roots.update({k: Path(v) for k, v in (e.split("=", 1) for e in args.extra)})
    scoring = "P(correct)" if args.metric == METRIC else "log-likelihood"
    report = {"metric": f"{args.metric} (rank classification: the option with the highest {scoring}; x100)",
              "upstream": {k: upstream.get(k) for k in ("command", "data_hash", "seed", "machine", "n_records",
                                                        "upstream_tasks", "held_out_tasks", "steps", "time")}}
    for name, path in roots.items():
        summary = json.loads((path / "summary.json").read_text())
        block = rows(summary, args.metric)
        report[name] = {"command": summary["command"], "data_hash": summary["data_hash"], "rows": block,
                        "mean_zero_shot": mean(r["zero_shot"] for r in block),
                        "mean_majority": mean(r["majority"] for r in block),
                        "mean_uniform": mean(r["uniform"] for r in block)}
        print(table(name, block), end="\n\n")
        if name == "targets":
            text, report["t0_held_out"] = t0_comparison(block, upstream.get("kind", "classifier"))
            print(text, end="\n\n")
    atomic_write_json(Path(args.json), report)


if __name__ == "__main__":
    main()
