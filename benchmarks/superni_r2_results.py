"""Collect SuperNI round-2 runs (benchmarks/superni_seeds.sh; OUT=runs/bench/superni_r2) into a Markdown report
printed to stdout (paste into docs/results/superni.md) and the round-2 fields of docs/results/superni.json.

Run directories are named PREFIX_iN_sSEED (N training instances per task, SEED the seed); PREFIX says the setting
(SETTINGS), a `_holdout` suffix marks a leave-categories-out run, evaluated on the held-out training categories
beside the heuristic baselines of those tasks (baselines_PREFIX.json). The headline classifier setting is the one
with the best mean *dev* EM (held-out training tasks), never the test EM.

Usage: .venv/bin/python benchmarks/superni_r2_results.py [--runs runs/bench/superni_r2]
       [--json docs/results/superni.json]
"""

from __future__ import annotations

import argparse
import re
import statistics
from pathlib import Path

from crosstask.core.io import atomic_write_json, read_json, read_jsonl

SETTINGS = {  # prefix -> (model, setting)
    "clsgen2": ("classifier", "cross (pair) classifier, w/ GEN, 2 negatives per positive"),
    "clsgen2sia": ("classifier", "siamese classifier, w/ GEN, 2 negatives per positive"),
    "clsnogensia": ("classifier", "siamese classifier, w/o GEN, 2 negatives per positive"),
    "unilm_nogen": ("generator", "UniLM generator, w/o GEN"),
    "unilm_gen": ("generator", "UniLM generator, w/ GEN"),
}
SYSTEM = {"classifier": "cls/classifier", "generator": "cls/generator"}
NAME = re.compile(r"(?P<prefix>.+?)(?P<holdout>_holdout)?_i(?P<instances>\d+)_s(?P<seed>\d+)")


def collect(root: Path) -> list[dict]:
    rows = []
    for run in sorted(p for p in root.iterdir() if p.is_dir()):
        match = NAME.fullmatch(run.name)
        if not match or match["prefix"] not in SETTINGS or not (run / "eval" / "metrics.json").is_file():
            continue
        model, setting = SETTINGS[match["prefix"]]
        report, train = read_json(run / "eval" / "metrics.json"), read_json(run / "train_summary.json")
        metrics = report["metrics"][SYSTEM[model]]
        calibrated = report["metrics"].get(SYSTEM[model] + "+calibrated", {}).get("overall", {})
        best_dev = train.get("best_dev")
        dev_em = best_dev.get("exact_match") if isinstance(best_dev, dict) else best_dev
        rows.append({"run": run.name, "prefix": match["prefix"], "holdout": bool(match["holdout"]), "model": model,
                     "setting": setting, "instances": int(match["instances"]), "seed": int(match["seed"]),
                     "em": metrics["overall"]["exact_match"], "rougeL": metrics["overall"]["rougeL"],
                     "em_calibrated": calibrated.get("exact_match"), "n": metrics["overall"]["n"],
                     "per_category": {k: v["exact_match"] for k, v in metrics["per_category"].items()},
                     "dev_em": dev_em, "best_step": train.get("best_step"),
                     "steps": train.get("steps"), "train_data_hash": train.get("data_hash"),
                     "test_data_hash": report.get("data_hash"), "train_command": train.get("command"),
                     "eval_command": report.get("command"), "machine": train.get("machine")})
    return rows


def mean_std(values: list[float]) -> tuple[float, float | None]:
    return round(statistics.mean(values), 2), (round(statistics.stdev(values), 2) if len(values) > 1 else None)


def fmt(mean: float, std: float | None) -> str:
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def groups(rows: list[dict]) -> dict[tuple[str, bool, int], list[dict]]:
    out: dict[tuple[str, bool, int], list[dict]] = {}
    for row in rows:
        out.setdefault((row["prefix"], row["holdout"], row["instances"]), []).append(row)
    return out


def held_out_report(root: Path, rows: list[dict]) -> tuple[list[str], dict]:
    """Per held-out category: tasks, the classifier's EM (mean over seeds) and the best heuristic's EM."""
    lines, data = [], {}
    for (prefix, holdout, instances), block in groups(rows).items():
        baselines_path = root / f"baselines_{prefix}_holdout.json"
        if not holdout or not baselines_path.is_file():
            continue
        baselines = read_json(baselines_path)["results"]
        lines += [f"### Held-out categories ({SETTINGS[prefix][1]}, {instances} instances per task; seeds "
                  f"{', '.join(str(r['seed']) for r in block)})", "",
                  "| category | tasks | instances | classifier EM | best heuristic EM (which) | margin |",
                  "|---|---|---|---|---|---|"]
        categories = sorted(block[0]["per_category"])
        tasks: dict[str, set[str]] = {}
        for row in read_jsonl(root / block[0]["run"] / "eval" / "predictions-cls-classifier.jsonl"):
            tasks.setdefault(row["category"], set()).add(row["task"])
        for category in [*categories, "overall"]:
            ours = mean_std([r["em"] if category == "overall" else r["per_category"][category] for r in block])
            heuristics = {name: (r["overall"] if category == "overall" else r["per_category"][category])["exact_match"]
                          for name, r in baselines.items() if name != "copy_input"}
            best = max(heuristics, key=heuristics.get)
            n = block[0]["n"] if category == "overall" else baselines[best]["per_category"][category]["n"]
            n_tasks = sum(map(len, tasks.values())) if category == "overall" else len(tasks[category])
            lines.append(f"| {category} | {n_tasks} | {n} | {fmt(*ours)} | {heuristics[best]:.2f} ({best}) | "
                         f"{ours[0] - heuristics[best]:+.2f} |")
            data[category] = {"tasks": n_tasks, "instances": n, "cls_em": ours[0], "cls_em_std": ours[1],
                              "best_heuristic_em": round(heuristics[best], 2), "best_heuristic": best}
        lines.append("")
    return lines, data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", default="runs/bench/superni_r2")
    parser.add_argument("--json", default="docs/results/superni.json")
    args = parser.parse_args()
    root = Path(args.runs)
    rows = collect(root)
    if not rows:
        raise SystemExit(f"no finished runs under {root}")
    lines = ["| setting | instances / task | EM (mean ± std) | calibrated | dev EM | seeds | steps | train hash | "
             "test hash |", "|---|---|---|---|---|---|---|---|---|"]
    scaling = []
    for (prefix, holdout, instances), block in sorted(groups(rows).items()):
        if holdout:
            continue
        em, dev = mean_std([r["em"] for r in block]), [r["dev_em"] for r in block if r["dev_em"] is not None]
        calibrated = [r["em_calibrated"] for r in block if r["em_calibrated"] is not None]
        lines.append(f"| {SETTINGS[prefix][1]} | {instances} | {fmt(*em)} | "
                     f"{fmt(*mean_std(calibrated)) if calibrated else '–'} | "
                     f"{fmt(*mean_std(dev)) if dev else '–'} | {', '.join(str(r['seed']) for r in block)} | "
                     f"{', '.join(str(r['steps']) for r in block)} | {block[0]['train_data_hash']} | "
                     f"{block[0]['test_data_hash']} |")
        scaling.append({"instances_per_task": instances, "system": SETTINGS[prefix][1], "em_mean": em[0],
                        "em_std": em[1], "seeds": [r["seed"] for r in block],
                        "dev_em_mean": mean_std(dev)[0] if dev else None})
    print("\n".join(lines), end="\n\n")
    held_lines, held = held_out_report(root, rows)
    print("\n".join(held_lines))
    print("Commands:\n")
    for row in rows:
        print(f"- `{row['run']}`: `{row['train_command']}` then `{row['eval_command']}`")

    main_rows = [r for r in rows if not r["holdout"] and r["instances"] == 6]
    classifier = groups([r for r in main_rows if r["model"] == "classifier"])
    headline = max(classifier.values(), key=lambda b: statistics.mean(r["dev_em"] or 0 for r in b), default=None)
    generator = groups([r for r in main_rows if r["model"] == "generator"])
    best_gen = max(generator.values(), key=lambda b: statistics.mean(r["em"] for r in b), default=None)
    report = read_json(Path(args.json)) if Path(args.json).is_file() else {}
    if headline:
        em = mean_std([r["em"] for r in headline])
        report.update(cls_em_mean=em[0], cls_em_std=em[1], cls_seeds=[r["seed"] for r in headline],
                      cls_setting=headline[0]["setting"])
    if best_gen:
        em = mean_std([r["em"] for r in best_gen])
        report.update(gen_em_mean=em[0], gen_em_std=em[1], gen_arch="unilm", gen_setting=best_gen[0]["setting"])
    report.setdefault("gen_arch", "unilm")
    report["scaling"] = scaling
    report["held_out_categories"] = held or report.get("held_out_categories", {})
    report.setdefault("gen_tasks_rougeL", None)
    report.setdefault("combined_rougeL", None)
    report["round2_runs"] = [{k: v for k, v in r.items() if k != "per_category"} for r in rows]
    atomic_write_json(Path(args.json), report)


if __name__ == "__main__":
    main()
