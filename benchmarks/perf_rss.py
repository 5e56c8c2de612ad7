"""Peak resident memory (RSS, /usr/bin/time -v) of default classifier training and evaluation on
SuperNI: the benchmark budget of benchmarks/superni.sh (train: --max-steps STEPS; evaluate: the 65
CLS test tasks, --per-task instances each, all 687 task files loaded as in a full run).

Usage: .venv/bin/python benchmarks/perf_rss.py [--data ../shared/data/superni] [--steps 40]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from perf_common import peak_rss_gib, save_section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/superni")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--per-task", type=int, default=10)
    parser.add_argument("--logs", default="runs/perf")
    args = parser.parse_args()
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    crosstask = str(Path(".venv/bin/crosstask"))
    common = ["--data", args.data, "--max-length", "160", "--label-mode", "instances", "--mixed-precision", "auto"]
    with tempfile.TemporaryDirectory() as tmp:
        train = [crosstask, "train", "classifier", *common, "--max-train-instances", "6", "--max-train-labels", "10",
                 "--batch-size", "16", "--negatives", "2", "--max-steps", str(args.steps), "--output", f"{tmp}/cls"]
        evaluate = [crosstask, "evaluate", *common, "--classifier", f"{tmp}/cls", "--tasks", "cls",
                    "--max-test-instances", str(args.per_task), "--output", f"{tmp}/eval"]
        train_gib = peak_rss_gib(train, logs / "rss_train.log")
        eval_gib = peak_rss_gib(evaluate, logs / "rss_eval.log")
    result = {"train_peak_rss_gib": train_gib, "eval_peak_rss_gib": eval_gib, "train_command": " ".join(train),
              "eval_command": " ".join(evaluate)}
    save_section("memory", result, {"peak_rss_gib": max(train_gib, eval_gib)})
    print(f"peak RSS: training {train_gib:.2f} GiB, evaluation {eval_gib:.2f} GiB")


if __name__ == "__main__":
    main()
