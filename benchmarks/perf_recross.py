"""Wall time of one ReCross round (retrieve + rerank + adapt + evaluate; median over rounds) from the step timings each
round writes (round-<r>/metrics.json "seconds"), per method, over a `crosstask recross run` root
(benchmarks/recross.sh), and the index step: built once per encoder, loaded from the cache after.

Usage: .venv/bin/python benchmarks/perf_recross.py [--runs runs/bench/recross/runs]
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from perf_common import save_section

from crosstask.core.io import read_json


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", default="runs/bench/recross/runs")
    args = parser.parse_args()
    steps: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    index_first, index_later = defaultdict(list), defaultdict(list)
    for path in sorted(Path(args.runs).glob("*/*/round-*/metrics.json")):
        method, seconds = path.parent.parent.name, read_json(path).get("seconds")
        if not seconds:
            continue
        for step, value in seconds.items():
            steps[method][step].append(value)
        if "index" in seconds and method in ("sbert", "dense", "dense_rerank"):
            (index_first if seconds["index"] > 5 else index_later)[method].append(seconds["index"])
    if not steps:
        raise SystemExit(f"no timed rounds under {args.runs}")
    # medians: robust to a round that was paused (SIGSTOP) while another benchmark had the CPU
    table = {m: {s: statistics.median(v) for s, v in by.items()} | {"rounds": len(by["total"]),
                                                                     "mean_total": statistics.mean(by["total"]),
                                                                     "max_total": max(by["total"])}
             for m, by in steps.items()}
    full = table.get("dense_rerank") or max(table.values(), key=lambda t: t["total"])
    section = {"per_method_median_seconds": table, "index_built_seconds": dict(index_first),
               "index_loaded_seconds_mean": {m: statistics.mean(v) for m, v in index_later.items()},
               "runs": args.runs}
    save_section("recross", section, {"recross_round_seconds": full["total"]})
    for method, t in table.items():
        parts = ", ".join(f"{s} {v:.1f}" for s, v in t.items() if s not in ("rounds", "total", "max_total",
                                                                            "mean_total"))
        print(f"{method:13s} median {t['total']:6.1f} s per round "
              f"(mean {t['mean_total']:.1f}, max {t['max_total']:.1f}; "
              f"{t['rounds']} rounds): {parts}")
    for method, values in index_first.items():
        print(f"{method}: index built in {', '.join(f'{v:.0f}' for v in values)} s; later rounds/targets load it "
              f"({section['index_loaded_seconds_mean'].get(method, 0):.2f} s mean)")


if __name__ == "__main__":
    main()
