"""Collect the adaptation sweep of benchmarks/recross_r2_sweep.sh: per setting (one run root under OUT/sweep/) and
held-out pseudo-target, the mean ± std over rounds of the adapted upstream's rank accuracy beside its zero-shot
accuracy (or --metric), and the mean gain over the pseudo-targets that metric scores. Prints Markdown.
With --choose FILE, the setting of highest mean gain is the choice: its name and adaptation lr go to FILE
(the rule is fixed before the sweep is read, so an unattended chain can pick the lr for the table).

Usage: .venv/bin/python benchmarks/recross_r2_sweep_table.py [--out runs/bench/recross_r2_expand]
       [--metric generation/soft_exact_match] [--choose OUT/chosen_lr.txt]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from crosstask.core.io import atomic_write_text

METRIC = "rank/classifier/accuracy"


def setting_rows(summary: dict, metric: str = METRIC) -> dict[str, tuple[float, float, float, int]]:
    """target -> (zero-shot, mean, std, rounds) of every pseudo-target scored with `metric`."""
    out = {}
    for target, entry in summary["targets"].items():
        zero = entry["zero_shot"].get(metric)
        for stats in entry["methods"].values():
            adapted = stats["summary"].get(metric)
            if zero is not None and adapted is not None:
                out[target] = (zero, adapted["mean"], adapted["std"], adapted["n"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bench/recross_r2_expand")
    parser.add_argument("--metric", default=METRIC, help="e.g. generation/soft_exact_match for a generator upstream")
    parser.add_argument("--choose", help="write the setting of highest mean gain (and its lr) to this file")
    args = parser.parse_args()
    settings = {p.name: setting_rows(json.loads((p / "summary.json").read_text()), args.metric)
                for p in sorted(Path(args.out, "sweep").iterdir()) if (p / "summary.json").is_file()}
    targets = sorted({t for rows in settings.values() for t in rows})
    mean_gains = {}
    print("| setting | " + " | ".join(f"{t} (zero-shot → adapted)" for t in targets) + " | mean gain |")
    print("|---|" + "---|" * (len(targets) + 1))
    for name, rows in settings.items():
        cells = [f"{rows[t][0]:.2f} → {rows[t][1]:.2f} ± {rows[t][2]:.2f} ({rows[t][3]})" if t in rows else "–"
                 for t in targets]
        gains = [rows[t][1] - rows[t][0] for t in targets if t in rows]
        mean_gains[name] = sum(gains) / len(gains) if gains else float("-inf")
        print(f"| {name} | " + " | ".join(cells) + f" | {mean_gains[name]:+.2f} |")
    if args.choose and mean_gains:
        best = max(mean_gains, key=mean_gains.get)
        lr = re.match(r"lr([0-9.e+-]+)_", best)
        if lr is None:
            raise SystemExit(f"{args.out}/sweep/{best}: the setting name does not start with lr<value>_")
        atomic_write_text(Path(args.choose), f"chosen adaptation lr: {lr.group(1)}\nsetting: {best}\n"
                          f"metric: {args.metric}\nmean gain: {mean_gains[best]:+.2f}\n")
        print(f"\nchosen: {best} (adaptation lr {lr.group(1)}), written to {args.choose}")


if __name__ == "__main__":
    main()
