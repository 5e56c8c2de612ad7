"""The compact method table of a ReCross report (the docs' summary of `crosstask recross report`'s recross.json):
per method, the mean over targets ± std over rounds, the gain over zero-shot with its paired-bootstrap 95 %
interval (test examples resampled; and with each target's rounds resampled too, when the run recorded it), how many
targets move by more than 1 point either way, and how many move beyond their own 95 % interval.

Usage: .venv/bin/python benchmarks/recross_method_table.py docs/results/recross_classifier.json [METRIC]
(a report's JSON, or the directory holding its recross.json)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NAMES = {"random": "random", "bm25": "BM25", "sbert": "SBERT", "dense": "dense (upstream encoder)",
         "dense_rerank": "**dense + rerank (ReCross)**", "ceiling": "ceiling: {k} *labelled* target records"}


def _interval(ci) -> str:
    return f"[{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "–"


def main() -> None:
    given = Path(sys.argv[1])
    report = json.loads((given if given.is_file() else given / "recross.json").read_text())
    metric = sys.argv[2] if len(sys.argv) > 2 else report["metric"]
    stats = report["by_metric"][metric]
    ceiling = (report["upstreams"][0].get("settings") or {}).get("ceiling")
    zero = stats["zero_shot"]
    print(f"| method | mean of {len(zero)} | gain vs. zero-shot ({stats['zero_shot_mean']:.2f}) | 95 % CI of the gain "
          "| 95 % CI, rounds resampled too | targets up / down by > 1 point | targets up / down, own 95 % CI |")
    print("|---|---|---|---|---|---|---|")
    for method, entry in stats["methods"].items():
        if entry.get("mean") is None:  # a method the run left out (e.g. bm25 / dense in the generator table)
            continue
        diffs = [cell["mean"] - zero[t] for t, cell in entry["targets"].items()]
        intervals = [cell.get("ci95") for cell in entry["targets"].values()]
        own = (f"{sum(ci[0] > 0 for ci in intervals)} / {sum(ci[1] < 0 for ci in intervals)}"
               if all(intervals) else "–")
        std = f" ± {entry['std']:.2f}" if entry.get("std") is not None else ""
        print(f"| {NAMES.get(method, method).format(k=ceiling)} | {entry['mean']:.2f}{std} | {entry['gain']:+.2f} "
              f"| {_interval(entry['ci95'])} | {_interval(entry.get('ci95_rounds'))} "
              f"| {sum(d > 1 for d in diffs)} / {sum(d < -1 for d in diffs)} | {own} |")


if __name__ == "__main__":
    main()
