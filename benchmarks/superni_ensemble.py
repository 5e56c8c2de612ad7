"""Seed ensemble of SuperNI classifiers, offline (issue 12, point 4: a setting tried to push the classifier): the
candidate scores of several `crosstask evaluate` runs (predictions-cls-classifier.jsonl, same test instances and
candidates) are combined by the mean logit of P(correct), and the top candidate is scored with the official EM.
Prints each run's EM and the ensemble's; an ensemble of k 22 M models costs k× the parameters and scoring time.

Usage: .venv/bin/python benchmarks/superni_ensemble.py RUN_DIR [RUN_DIR ...]
(each RUN_DIR with eval/predictions-cls-classifier.jsonl)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crosstask.core.io import read_jsonl
from crosstask.evaluation.calibration import logit
from crosstask.evaluation.metrics import exact_match, max_over_references


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    runs = [list(read_jsonl(run / "eval" / "predictions-cls-classifier.jsonl")) for run in args.runs]
    for run, rows in zip(args.runs, runs):
        em = 100 * sum(max_over_references(exact_match, r["prediction"], r["references"]) for r in rows) / len(rows)
        print(f"{run.name}: EM {em:.2f}")
    right = 0
    for rows in zip(*runs, strict=True):
        first = rows[0]
        if any((r["id"], r["candidates"]) != (first["id"], first["candidates"]) for r in rows):
            raise SystemExit(f"runs disagree on instance {first['id']}: same test set and candidates needed")
        scores = [sum(logit(r["scores"][k]) for r in rows) for k in range(len(first["candidates"]))]
        best = first["candidates"][max(range(len(scores)), key=scores.__getitem__)]
        right += max_over_references(exact_match, best, first["references"])
    print(f"ensemble of {len(runs)}: EM {100 * right / len(runs[0]):.2f} (n {len(runs[0])})")


if __name__ == "__main__":
    main()
