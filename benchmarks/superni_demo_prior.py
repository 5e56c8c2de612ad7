"""Offline check of a label prior from the task's own demonstrations (issue 12, point 5): re-rank a classifier's
saved candidate scores (an `crosstask evaluate` predictions-cls-classifier.jsonl) by
logit(P(correct)) + λ · log p_demo(candidate), where p_demo is the add-one frequency of the candidate among the
task's Positive Examples' outputs — no test label and no test input is read. Prints EM per λ (λ = 0: the model).
A diagnostic on the test predictions, not a selection: λ would have to be chosen on dev tasks.

Usage: .venv/bin/python benchmarks/superni_demo_prior.py PREDICTIONS.jsonl [--data ../shared/data/superni]
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from pathlib import Path

from crosstask.core.io import read_jsonl
from crosstask.data.superni import load_task
from crosstask.data.text import normalize_answer
from crosstask.evaluation.calibration import logit
from crosstask.evaluation.metrics import exact_match, max_over_references

LAMBDAS = (0.0, 0.25, 0.5, 1.0, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("predictions")
    parser.add_argument("--data", default="../shared/data/superni")
    args = parser.parse_args()
    rows = list(read_jsonl(Path(args.predictions)))
    demos = {}
    for name in sorted({r["task"] for r in rows}):
        task = load_task(Path(args.data) / "tasks" / f"{name}.json")
        demos[name] = Counter(normalize_answer(e.output) for e in task.positive_examples)
    for lam in LAMBDAS:
        right = 0
        for r in rows:
            demo, n = demos[r["task"]], sum(demos[r["task"]].values())
            scores = [logit(s) + lam * math.log((demo[normalize_answer(c)] + 1) / (n + len(r["candidates"])))
                      for c, s in zip(r["candidates"], r["scores"])]
            best = r["candidates"][max(range(len(scores)), key=scores.__getitem__)]
            right += max_over_references(exact_match, best, r["references"])
        print(f"lambda {lam}: EM {100 * right / len(rows):.2f} (n {len(rows)})")


if __name__ == "__main__":
    main()
