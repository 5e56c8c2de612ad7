"""Reranking one ReCross round: the CrossEncoder (every (query, candidate) pair encoded on its own)
vs the shared-context reranker (each candidate encoded once, its 16 queries packed after it), both
trained on the same distant-supervision rows (benchmarks/recross.sh); pairs/s ratio measured in one
run on the same candidates and queries, and the overlap of the N candidates each keeps.

Usage: .venv/bin/python benchmarks/perf_rerank.py [--run runs/bench/recross] [--target hellaswag]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from perf_common import save_section

from crosstask.core.precision import autocast


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/recross")
    parser.add_argument("--run", default="runs/bench/recross")
    parser.add_argument("--target", default="hellaswag")
    parser.add_argument("--candidates", type=int, default=256, help="μ·N retrieved candidates to rerank")
    parser.add_argument("--keep", type=int, default=128)
    parser.add_argument("--max-length", type=int, default=192)
    args = parser.parse_args()

    from crosstask.core.io import read_jsonl
    from crosstask.data.t0 import load_target
    from crosstask.data.t0 import load_upstream_pool as capped_pool
    from crosstask.experiments.recross_round import sample_queries
    from crosstask.retrieval.reranker import load_reranker, rerank
    from crosstask.retrieval.retrievers import BM25Retriever
    from crosstask.training.reranker import train_shared_reranker

    run = Path(args.run)
    shared_dir = run / "reranker_shared"
    start = time.perf_counter()
    if not shared_dir.exists():
        train_shared_reranker(read_jsonl(run / "distant_supervision.jsonl"), "default", shared_dir, batch_size=2,
                              max_length=args.max_length, mixed_precision="auto")
    train_seconds = time.perf_counter() - start
    pool = capped_pool(args.data, 1000)
    queries = sample_queries(load_target(args.data, args.target).query, 16, seed=0)
    retrieved = BM25Retriever(pool.records).retrieve(queries, args.candidates)
    results, kept = {}, {}
    for name, path in (("cross_encoder", run / "reranker"), ("shared_context", shared_dir)):
        model = load_reranker(path, args.max_length)
        with autocast("auto", "cpu"):
            rerank(model, queries[:2], retrieved, pool.records, args.keep)  # warm-up
            start = time.perf_counter()
            out = rerank(model, queries, retrieved, pool.records, args.keep)
            seconds = time.perf_counter() - start
        kept[name] = set(out.uids)
        pairs = len(queries) * len(retrieved)
        results[name] = {"seconds": seconds, "pairs_per_s": pairs / seconds}
        print(f"{name:15s} {pairs / seconds:7.1f} pairs/s ({seconds:.1f} s for {pairs} pairs)", flush=True)
    speedup = results["cross_encoder"]["seconds"] / results["shared_context"]["seconds"]
    overlap = len(kept["cross_encoder"] & kept["shared_context"]) / args.keep
    section = {"target": args.target, "queries": len(queries), "candidates": len(retrieved), "keep": args.keep,
               "max_length": args.max_length, "rerankers": results, "speedup": speedup,
               "kept_overlap": overlap, "shared_reranker_train_seconds": train_seconds}
    save_section("rerank", section, {"rerank_speedup": speedup})
    print(f"shared-context reranking {speedup:.2f}× the CrossEncoder; kept sets overlap {overlap:.2f} "
          "(different models trained on the same rows)")


if __name__ == "__main__":
    main()
