"""Approximate dense indexes (`crosstask recross run --index hnsw|ivf`) vs the exact one: recall@k of
their top-k against the exact top-k, build time and query latency, on the vectors of a cached exact
index of the real upstream pool (`<run root>/index-cache/<key>/`, written by `recross run`).

Held-out queries: a seeded sample of the pool's vectors is removed from the indexed set and used as
queries, so no query finds itself. k = 256 is what a ReCross round retrieves per query at N = 128,
μ = 2; k = 512 is the paper's N.

Usage: .venv/bin/python benchmarks/perf_ann.py runs/bench/recross_gen/runs/index-cache/<key> [...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from perf_common import save_section

SETTINGS = [("exact", {}), ("hnsw", {}), ("ivf", {"nprobe": 16}), ("ivf", {}), ("ivf", {"nprobe": 128})]


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def measure(index_dir: Path, n_queries: int, ks: list[int], seed: int) -> list[dict]:
    from crosstask.retrieval.index import DenseIndex, recall_at_k

    cached = DenseIndex.load(index_dir)
    vectors = cached.index.reconstruct_n(0, cached.size)
    held_out = np.random.default_rng(seed).choice(len(vectors), n_queries, replace=False)
    keep = np.setdiff1d(np.arange(len(vectors)), held_out)
    queries, base = vectors[held_out], vectors[keep]
    uids = [cached.uids[i] for i in keep]
    depth = max(ks)
    rows, exact_ids = [], None
    for kind, params in SETTINGS:
        index, build_s = timed(DenseIndex.build, base, uids, kind, **params)
        (_, ids), search_s = timed(index.search, queries, depth)
        if kind == "exact":
            exact_ids = ids
        rows.append({"index": index_dir.name[:12], "kind": kind, "params": index.params, "default": not params,
                     "build_s": build_s,
                     "query_ms": 1000 * search_s / len(queries),
                     **{f"recall@{k}": recall_at_k(ids, exact_ids, k) for k in ks}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("index_dirs", nargs="+", type=Path, help="cached exact index directories")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rows = []
    for index_dir in args.index_dirs:
        meta = json.loads((index_dir / "meta.json").read_text(encoding="utf-8"))
        if meta["kind"] != "exact":
            raise SystemExit(f"{index_dir}: an exact index is needed as the reference, found {meta['kind']}")
        rows += [{**r, "pool": meta["size"], "dim": meta["dim"]} for r in measure(index_dir, args.queries, args.k,
                                                                                  args.seed)]
    header = ["index", "pool", "kind", "params", "build s", "query ms", *(f"recall@{k}" for k in args.k)]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in rows:
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "-"
        print(f"| {r['index']} | {r['pool']} | {r['kind']} | {params} | {r['build_s']:.1f} | {r['query_ms']:.2f} | "
              + " | ".join(f"{r[f'recall@{k}']:.4f}" for k in args.k) + " |")
    k = args.k[0]
    save_section("ann_recall", {"queries": args.queries, "seed": args.seed, "rows": rows},
                 {f"{kind}_default_recall_at_{k}": min(r[f"recall@{k}"] for r in rows
                                                       if r["kind"] == kind and r["default"])
                  for kind in ("hnsw", "ivf")})

if __name__ == "__main__":
    main()
