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
from crosstask.data.text import normalize_answer

BASES = {  # setting prefix -> (model, setting)
    "clsgen2": ("classifier", "cross (pair) classifier, w/ GEN, 2 negatives per positive"),
    "clsnogen2": ("classifier", "cross (pair) classifier, w/o GEN, 2 negatives per positive"),
    "clsgen2sia": ("classifier", "siamese classifier, w/ GEN, 2 negatives per positive"),
    "clsnogen2sia": ("classifier", "siamese classifier, w/o GEN, 2 negatives per positive"),
    "unilm_nogen": ("generator", "UniLM generator, w/o GEN"),
    "unilm_gen": ("generator", "UniLM generator, w/ GEN"),
}
TAGS = {  # a suffix of the prefix (superni_seeds.sh TAG / GEN_EPOCHS) -> what it adds to the setting
    re.compile(r"e(\d+)"): "{} epochs",
    re.compile(r"pos(\d+)"): "{} positive demonstrations",
    re.compile(r"ml(\d+)"): "{} source tokens",
    re.compile(r"(opts)"): "label space listed in the prompt",
}


def setting(prefix: str) -> tuple[str, str] | None:
    """(model, description) of a run prefix: a base setting plus any tags, e.g. unilm_nogen_e3; None if unknown."""
    for base in sorted(BASES, key=len, reverse=True):
        if prefix == base or prefix.startswith(base + "_"):
            model, text = BASES[base]
            for tag in filter(None, prefix[len(base):].split("_")):
                match = next(((p, f) for p, f in TAGS.items() if p.fullmatch(tag)), None)
                if match is None:
                    return None
                text += ", " + match[1].format(match[0].fullmatch(tag)[1])
            return model, text
    return None


SYSTEM = {"classifier": "cls/classifier", "generator": "cls/generator"}
NAME = re.compile(r"(?P<prefix>.+?)(?P<holdout>_holdout)?_i(?P<instances>\d+)_s(?P<seed>\d+)")


def collect(root: Path) -> list[dict]:
    rows = []
    for run in sorted(p for p in root.iterdir() if p.is_dir()):
        match = NAME.fullmatch(run.name)
        described = setting(match["prefix"]) if match else None
        if not described or not (run / "eval" / "metrics.json").is_file():
            continue
        model, description = described
        report, train = read_json(run / "eval" / "metrics.json"), read_json(run / "train_summary.json")
        metrics = report["metrics"][SYSTEM[model]]
        calibrated = report["metrics"].get(SYSTEM[model] + "+calibrated", {}).get("overall", {})
        best_dev = train.get("best_dev")
        dev_em = best_dev.get("exact_match") if isinstance(best_dev, dict) else best_dev
        rows.append({"run": run.name, "prefix": match["prefix"], "holdout": bool(match["holdout"]), "model": model,
                     "setting": description, "instances": int(match["instances"]), "seed": int(match["seed"]),
                     "em": metrics["overall"]["exact_match"], "rougeL": metrics["overall"]["rougeL"],
                     "em_calibrated": calibrated.get("exact_match"), "n": metrics["overall"]["n"],
                     "per_category": {k: v["exact_match"] for k, v in metrics["per_category"].items()},
                     "dev_em": dev_em, "best_step": train.get("best_step"),
                     "steps": train.get("steps"), "train_data_hash": train.get("data_hash"),
                     "test_data_hash": report.get("data_hash"), "train_command": train.get("command"),
                     "eval_command": report.get("command"), "machine": train.get("machine"),
                     "in_label_space": in_label_space(run / "eval" / "predictions-cls-generator.jsonl")
                     if model == "generator" else None})
    return rows


def in_label_space(predictions: Path) -> float | None:
    """% of a generator's greedy outputs that are one of the task's labels (its test instances' answers, after
    SuperNI normalisation): how often it answers with a label at all."""
    if not predictions.is_file():
        return None
    rows = list(read_jsonl(predictions))
    labels: dict[str, set[str]] = {}
    for row in rows:
        labels.setdefault(row["task"], set()).update(normalize_answer(r) for r in row["references"])
    return round(100 * sum(normalize_answer(r["prediction"]) in labels[r["task"]] for r in rows) / len(rows), 2)


def with_archived(rows: list[dict], archived: list[dict]) -> list[dict]:
    """The runs found on disk plus those superni.json already records whose directories are gone (an earlier
    machine's runs/), marked `archived`: their numbers stay in the tables, without per-category detail."""
    present = {row["run"] for row in rows}
    kept = [{**row, "archived": True} for row in archived if row["run"] not in present]
    return sorted(rows + kept, key=lambda row: row["run"])


def mean_std(values: list[float]) -> tuple[float, float | None]:
    return round(statistics.mean(values), 2), (round(statistics.stdev(values), 2) if len(values) > 1 else None)


def fmt(mean: float, std: float | None) -> str:
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def groups(rows: list[dict]) -> dict[tuple[str, bool, int], list[dict]]:
    out: dict[tuple[str, bool, int], list[dict]] = {}
    for row in rows:
        out.setdefault((row["prefix"], row["holdout"], row["instances"]), []).append(row)
    return out


def held_out_report(root: Path, rows: list[dict]) -> tuple[list[str], dict[str, dict]]:
    """Per held-out setting (its description) and category: tasks, the classifier's EM (mean over seeds) and the
    best heuristic's EM."""
    lines, by_setting = [], {}
    for (prefix, holdout, instances), block in groups(rows).items():
        baselines_path = root / f"baselines_{prefix}_holdout.json"
        if not holdout or not baselines_path.is_file() or any("per_category" not in r for r in block):
            continue
        baselines = read_json(baselines_path)["results"]
        lines += [f"### Held-out categories ({block[0]['setting']}, {instances} instances per task; seeds "
                  f"{', '.join(str(r['seed']) for r in block)})", "",
                  "| category | tasks | instances | classifier EM | best heuristic EM (which) | margin |",
                  "|---|---|---|---|---|---|"]
        categories = sorted(block[0]["per_category"])
        data = by_setting.setdefault(block[0]["setting"], {})
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
    return lines, by_setting


def headline_classifier(rows: list[dict], seeds: int = 3) -> list[dict] | None:
    """The headline classifier runs: the setting with the best mean dev EM at 6 instances per task (never the test
    EM), at the training budget the scaling curve picks (issue 12.3): of that setting's budgets with `seeds` seeds
    or more, the one with the best mean test EM; 6 instances while no other budget has enough seeds."""
    blocks = groups(rows)
    six = [block for (_, _, instances), block in blocks.items() if instances == 6]
    if not six:
        return None
    best = max(six, key=lambda b: statistics.mean(r["dev_em"] or 0 for r in b))
    budgets = [block for (prefix, _, _), block in blocks.items()
               if prefix == best[0]["prefix"] and len(block) >= seeds]
    return max(budgets, key=lambda b: statistics.mean(r["em"] for r in b), default=best)


GEN_HALF = {  # system in eval_all/metrics.json -> its row name
    "gen/generator": "generator, greedy", "gen/generator_beam": "generator, beam (top of the 4-best)",
    "gen/generator_reranked": "classifier picks among the generator's 4-best",
    "gen/baseline:copy_input": "copy input", "gen/baseline:first_demo_output": "first demonstration's output",
}
COMBINED = {
    "all/generator": "generator alone (greedy on CLS and GEN)",
    "all/combined": "classifier on CLS + generator beam on GEN (the seed's combined score)",
    "all/combined+reranked": "classifier on CLS + classifier-reranked 4-best on GEN",
    "all/baseline:copy_input": "copy input", "all/baseline:first_demo_output": "first demonstration's output",
}


def gen_half_report(root: Path) -> tuple[list[str], dict, dict]:
    """The GEN test tasks and the combined CLS+GEN score of each w/ GEN generator evaluated on all tasks
    (superni_seeds.sh RERANK_CLASSIFIER): ROUGE-L (EM beside), per run."""
    lines, gen, combined = [], {}, {}
    for path in sorted(root.glob("*/eval_all/metrics.json")):
        report = read_json(path)
        metrics = report["metrics"]
        lines += [f"### GEN half: `{path.parent.parent.name}` ({report['n_gen_tasks']} GEN + {report['n_cls_tasks']} "
                  f"CLS test tasks; reranker `{report['classifier']}`; data hash {report['data_hash']})", "",
                  f"Command: `{report.get('command')}`", "", "| scope | system | ROUGE-L | EM | n |",
                  "|---|---|---|---|---|"]
        for scope, names in (("GEN tasks", GEN_HALF), ("all tasks (combined)", COMBINED)):
            for key, label in names.items():
                if key in metrics:
                    overall = metrics[key]["overall"]
                    lines.append(f"| {scope} | {label} | {overall['rougeL']:.2f} | {overall['exact_match']:.2f} | "
                                 f"{overall['n']} |")
        lines.append("")
        gen = {label: metrics[key]["overall"]["rougeL"] for key, label in GEN_HALF.items() if key in metrics}
        combined = {label: metrics[key]["overall"]["rougeL"] for key, label in COMBINED.items() if key in metrics}
    return lines, gen, combined


def scaling_plot(scaling: list[dict], path: Path, baseline_em: float | None = None) -> None:
    """EM on the 65 CLS test tasks vs training instances per task, one line per setting (mean ± std)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2))
    for system in sorted({row["system"] for row in scaling}):
        points = sorted((r for r in scaling if r["system"] == system), key=lambda r: r["instances_per_task"])
        axes.errorbar([r["instances_per_task"] for r in points], [r["em_mean"] for r in points],
                      yerr=[r["em_std"] or 0 for r in points], marker="o", capsize=3, label=system)
    axes.set(xscale="log", xlabel="training instances per task", ylabel="EM, 65 unseen CLS tasks",
             title="SuperNI data scaling (packaged MiniLM, 22 M)")
    axes.set_xticks(sorted({r["instances_per_task"] for r in scaling}),
                    labels=[str(n) for n in sorted({r["instances_per_task"] for r in scaling})])
    axes.minorticks_off()
    if baseline_em is not None:
        axes.axhline(baseline_em, color="grey", linestyle="--", linewidth=1,
                     label=f"most frequent demonstration label ({baseline_em:.2f})")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", default="runs/bench/superni_r2")
    parser.add_argument("--json", default="docs/results/superni.json")
    parser.add_argument("--plot", default="docs/results/superni_scaling.png")
    args = parser.parse_args()
    root = Path(args.runs)
    report = read_json(Path(args.json)) if Path(args.json).is_file() else {}
    rows = with_archived(collect(root), report.get("round2_runs", []))
    if not rows:
        raise SystemExit(f"no finished runs under {root}")
    lines = ["| setting | instances / task | EM (mean ± std) | calibrated | dev EM | greedy output in label space % | "
             "seeds | steps | train hash | test hash |", "|---|---|---|---|---|---|---|---|---|---|"]
    scaling = []
    for (prefix, holdout, instances), block in sorted(groups(rows).items()):
        if holdout:
            continue
        em, dev = mean_std([r["em"] for r in block]), [r["dev_em"] for r in block if r["dev_em"] is not None]
        calibrated = [r["em_calibrated"] for r in block if r["em_calibrated"] is not None]
        valid = [r["in_label_space"] for r in block if r.get("in_label_space") is not None]
        lines.append(f"| {block[0]['setting']} | {instances} | {fmt(*em)} | "
                     f"{fmt(*mean_std(calibrated)) if calibrated else '–'} | "
                     f"{fmt(*mean_std(dev)) if dev else '–'} | {fmt(*mean_std(valid)) if valid else '–'} | "
                     f"{', '.join(str(r['seed']) for r in block)} | "
                     f"{', '.join(str(r['steps']) for r in block)} | {block[0]['train_data_hash']} | "
                     f"{block[0]['test_data_hash']} |")
        scaling.append({"instances_per_task": instances, "system": block[0]['setting'], "em_mean": em[0],
                        "em_std": em[1], "seeds": [r["seed"] for r in block],
                        "dev_em_mean": mean_std(dev)[0] if dev else None})
    print("\n".join(lines), end="\n\n")
    held_lines, held = held_out_report(root, rows)
    print("\n".join(held_lines))
    gen_lines, gen_half, combined = gen_half_report(root)
    print("\n".join(gen_lines))
    if scaling:
        scaling_plot(scaling, Path(args.plot), report.get("baseline_em"))
    print("Commands:\n")
    for row in rows:
        print(f"- `{row['run']}`: `{row['train_command']}` then `{row['eval_command']}`")

    main_rows = [r for r in rows if not r["holdout"] and r["instances"] == 6]
    headline = headline_classifier([r for r in rows if not r["holdout"] and r["model"] == "classifier"])
    generator = groups([r for r in main_rows if r["model"] == "generator"])
    # the headline generator: the setting with the most seeds, then the best mean dev EM (never the test EM)
    best_gen = max(generator.values(), key=lambda b: (len(b), statistics.mean(r["dev_em"] or 0 for r in b)),
                   default=None)
    if headline:
        em = mean_std([r["em"] for r in headline])
        report.update(cls_em_mean=em[0], cls_em_std=em[1], cls_seeds=[r["seed"] for r in headline],
                      cls_setting=headline[0]["setting"], cls_instances_per_task=headline[0]["instances"])
    if best_gen:
        em = mean_std([r["em"] for r in best_gen])
        if "gen_em_bert2bert" not in report and "gen_em" in report:  # round 1's bert2bert numbers stay, renamed
            report.update(gen_em_bert2bert=report["gen_em"], gen_em_bert2bert_setting=report.get("gen_em_setting"))
        report.update(gen_em=em[0], gen_em_setting=f"{best_gen[0]['setting']}; mean of seeds "
                      f"{', '.join(str(r['seed']) for r in best_gen)}", gen_em_mean=em[0], gen_em_std=em[1],
                      gen_seeds=[r["seed"] for r in best_gen], gen_arch="unilm", gen_setting=best_gen[0]["setting"])
    report.setdefault("gen_arch", "unilm")
    report["scaling"] = scaling
    # held_out_categories: the leave-categories-out run of the headline recipe (no demonstrations); every
    # held-out setting measured, archived ones included, under held_out_categories_by_setting
    base = BASES["clsgen2sia"][1]
    by_setting = {**report.get("held_out_categories_by_setting", {}), **held}
    if base not in by_setting and report.get("held_out_categories"):
        by_setting[base] = report["held_out_categories"]
    report["held_out_categories"] = by_setting.get(base, {})
    report["held_out_categories_by_setting"] = by_setting
    if gen_half:
        report["gen_tasks_rougeL"] = gen_half
        report["combined_rougeL"] = combined.get(COMBINED["all/combined"])
        report["combined_rougeL_by_system"] = combined
    report.setdefault("gen_tasks_rougeL", None)
    report.setdefault("combined_rougeL", None)
    report["round2_runs"] = [{k: v for k, v in r.items() if k != "per_category"} for r in rows]
    atomic_write_json(Path(args.json), report)


if __name__ == "__main__":
    main()
