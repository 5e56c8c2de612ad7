"""Collect the SuperNI benchmark runs (benchmarks/superni.sh) into docs/results/superni.{md,json} + plots.

Usage: .venv/bin/python benchmarks/superni_results.py [--runs runs/bench/superni_fixed] [--out docs/results]
       [--earlier runs/bench/superni]   (older runs, kept in superni.json under "earlier_runs")
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from crosstask.core.io import atomic_write_json, atomic_write_text, read_json
from crosstask.evaluation.tables import markdown_table
from crosstask.reporting.plots import SEED_T5_EM, plot_em, plot_pair_counts

SETTINGS = {  # run name -> (model, mixing, seed)
    "cls_nogen_s42": ("classifier", "w/o GEN", 42), "cls_nogen_s43": ("classifier", "w/o GEN", 43),
    "cls_gen_s42": ("classifier", "w/ GEN", 42), "gen_nogen_s42": ("generator", "w/o GEN", 42),
    "gen_gen_s42": ("generator", "w/ GEN", 42),
    "clsshared_nogen_s42": ("classifier", "w/o GEN, shared-context variant", 42),
    "cls_gen2_s42": ("classifier", "w/ GEN, 2 negatives per open-answer positive", 42),
}
SYSTEMS = {"classifier": ["cls/classifier", "cls/classifier+calibrated"],
           "generator": ["cls/generator", "cls/fair_generator", "cls/fair_generator+calibrated"]}


def collect(runs: Path) -> list[dict]:
    rows = []
    for name, (model, mixing, seed) in SETTINGS.items():
        metrics_path = runs / name / "eval" / "metrics.json"
        if not metrics_path.exists():
            continue
        report = read_json(metrics_path)
        train = read_json(runs / name / "train_summary.json")
        for system in SYSTEMS[model]:
            if system in report["metrics"]:
                overall = report["metrics"][system]["overall"]
                rows.append({"run": name, "system": system.split("/", 1)[1], "setting": mixing, "seed": seed,
                             "em": overall["exact_match"], "rougeL": overall["rougeL"], "n": overall["n"],
                             "train_data_hash": train["data_hash"], "train_command": train["command"],
                             "eval_command": report["command"], "steps": train["steps"],
                             "pairs": train.get("pairs"), "examples": train.get("examples")})
    return rows


def test_data_hash(data: str, n_tasks: int) -> str:
    """Hash of the evaluated CLS test task files (as `crosstask baselines` reports it)."""
    from crosstask.data.benchmark import DataConfig, fingerprint_tasks, load_superni_data
    tasks = [t for t in load_superni_data(DataConfig(data=data, max_train_instances=0)).test if t.is_cls]
    assert len(tasks) == n_tasks, (len(tasks), n_tasks)
    return fingerprint_tasks(tasks)


def mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", default="runs/bench/superni_fixed")
    parser.add_argument("--earlier", help="runs of an earlier recipe: their EM per run under 'earlier_runs'")
    parser.add_argument("--out", default="docs/results")
    args = parser.parse_args()
    runs, out = Path(args.runs), Path(args.out)
    rows = collect(runs)
    if not rows:
        raise SystemExit(f"no finished runs under {runs}")
    first = read_json(runs / rows[0]["run"] / "eval" / "metrics.json")
    baselines = {k.split(":", 1)[1]: v["overall"] for k,
                 v in first["metrics"].items() if k.startswith("cls/baseline:")}

    grouped: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        grouped.setdefault((row["system"], row["setting"]), []).append(row)
    test_hash = test_data_hash(first["data"]["data"], first["n_cls_tasks"])
    table = [[system, setting, mean_std([r["em"] for r in rs]), mean_std([r["rougeL"] for r in rs]),
              ", ".join(str(r["seed"]) for r in rs), rs[0]["n"], rs[0]["train_data_hash"], test_hash]
             for (system, setting), rs in grouped.items()]
    table += [[f"baseline: {k}", "–", f"{v['exact_match']:.2f}", f"{v['rougeL']:.2f}", "42", v["n"], "–", test_hash]
              for k, v in baselines.items()]
    table += [[f"seed {m} (64 tasks, paper)", s, f"{v:.2f}", "–", "–", 6400, "–", "–"]
              for m, d in SEED_T5_EM.items() for s, v in d.items()]

    def best(system: str) -> tuple[float, str] | None:
        means = [(statistics.mean(r["em"] for r in rs), setting) for (sys_, setting), rs in grouped.items()
                 if sys_ == system and "shared" not in setting]  # the shared-context variant is reported apart
        return max(means) if means else None

    summary = {"n_tasks": first["n_cls_tasks"], "n_instances": rows[0]["n"], "test_data_hash": test_hash,
               "train_data_hash": rows[0]["train_data_hash"],
               "label_space_mode": first["label_space_mode"],
               "baseline_em": baselines["most_frequent_positive_label"]["exact_match"],
               "random_label_em": baselines["random_label"]["exact_match"], "runs": rows}
    for key, system in (("cls_em", "classifier"), ("cls_calibrated_em", "classifier+calibrated"),
                        ("gen_em", "generator"), ("fair_gen_em", "fair_generator"),
                        ("fair_gen_calibrated_em", "fair_generator+calibrated")):
        found = best(system)
        if found:
            summary[key], summary[f"{key}_setting"] = round(found[0], 2), found[1]
    short = {"classifier": "cls", "generator": "gen"}
    shared = grouped.get(("classifier", SETTINGS["clsshared_nogen_s42"][1]))
    if shared:
        summary["cls_shared_context_em"] = round(shared[0]["em"], 2)
    evals = {f"{short[SETTINGS[n][0]]} {SETTINGS[n][1]} s{SETTINGS[n][2]}": runs / n / "eval" / "metrics.json"
             for n in dict.fromkeys(r["run"] for r in rows)}
    plot_em(evals, out / "superni_em.png")
    trains = {f"cls {SETTINGS[n][1]} s{SETTINGS[n][2]}": runs / n / "train_summary.json"
              for n in dict.fromkeys(r["run"] for r in rows) if SETTINGS[n][0] == "classifier"}
    if trains:
        plot_pair_counts(trains, out / "superni_pairs.png")
    if args.earlier:
        summary["earlier_runs"] = {"runs_dir": args.earlier, "em": {
            f"{r['run']}/{r['system']}": round(r["em"], 2) for r in collect(Path(args.earlier))}}
    atomic_write_json(out / "superni.json", summary)
    commands = sorted({(r["run"], r["train_command"], r["eval_command"]) for r in rows})
    text = [markdown_table(["system", "setting", "EM", "ROUGE-L", "seeds", "n", "train data hash", "test data hash"],
                           table), "",
            "Commands (each run: train, then evaluate):", ""]
    text += [f"- `{run}`: `{train}` then `{ev}`" for run, train, ev in commands]
    atomic_write_text(out / "superni_table.md", "\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
