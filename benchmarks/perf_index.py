"""Upstream index build: records/s of crosstask's encoders vs `SentenceTransformer.encode` on the
same model (the packaged all-MiniLM-L6-v2) and texts, the recall@512 of what they retrieve vs the
exact fp32 index, query latency for 16 queries, and the index cache (an unchanged index is loaded,
never rebuilt).

Encoders compared (all mean-pooled, L2-normalised, max 256 tokens, batch 64):
  st_fp32      SentenceTransformer.encode (the reference and the baseline)
  st_auto      the same call under precision auto (bf16 autocast on AMX / AVX-512-BF16 CPUs, else fp32)
  meanpool_auto  crosstask MeanPoolEncoder: one tokenisation pass, longest-first batches, precision auto
  meanpool_int8  the same with torch dynamic int8 quantisation of the Linear layers (fp32 activations)

Usage: .venv/bin/python benchmarks/perf_index.py [--data ../shared/data/recross] [--per-task 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from perf_common import save_section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/recross")
    parser.add_argument("--per-task", type=int, default=500, help="pool records per upstream task")
    parser.add_argument("--target", default="hellaswag")
    parser.add_argument("--k", type=int, default=512)
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    from crosstask.data.t0 import load_target
    from crosstask.data.t0 import load_upstream_pool as capped_pool
    from crosstask.experiments.recross_round import sample_queries
    from crosstask.retrieval.encoders import (
        MeanPoolEncoder,
        SentenceEncoder,
        l2_normalise,
    )
    from crosstask.retrieval.index import DenseIndex, IndexCache, recall_at_k
    from crosstask.retrieval.retrievers import DenseRetriever

    pool = capped_pool(args.data, args.per_task)
    texts = [r.input for r in pool.records]
    target = load_target(args.data, args.target)
    queries = sample_queries(target.query, 16, seed=0)
    st = SentenceTransformer(SentenceEncoder("default").source, device="cpu")
    int8 = MeanPoolEncoder("default")
    int8.model = torch.ao.quantization.quantize_dynamic(int8.model, {torch.nn.Linear}, dtype=torch.qint8)
    encoders = {
        "st_fp32": lambda xs: l2_normalise(st.encode(xs, batch_size=64, normalize_embeddings=True)),
        "st_auto": SentenceEncoder("default", precision="auto").encode,
        "meanpool_auto": MeanPoolEncoder("default", precision="auto").encode,
        "meanpool_int8": int8.encode,
    }
    results, exact_ids, sets = {}, None, {}
    for name, encode in encoders.items():
        encode(texts[:64])  # warm-up
        start = time.perf_counter()
        vectors = encode(texts)
        index = DenseIndex.build(vectors, [r.uid for r in pool.records])
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        _, ids = index.search(encode(queries), args.k)
        latency = time.perf_counter() - start
        exact_ids = ids if exact_ids is None else exact_ids
        fused = DenseRetriever(pool.records, _Fixed(encode), index=index).retrieve(queries, args.k)
        sets[name] = set(fused.uids)
        results[name] = {"seconds": seconds, "records_per_s": len(texts) / seconds, "query_latency_s": latency,
                         "recall_at_k": recall_at_k(ids, exact_ids, args.k),
                         "fused_set_overlap": len(sets[name] & sets["st_fp32"]) / args.k}
        print(f"{name:14s} {results[name]['records_per_s']:7.1f} records/s  recall@{args.k} "
              f"{results[name]['recall_at_k']:.4f}  fused-set overlap {results[name]['fused_set_overlap']:.4f}  "
              f"16-query latency {latency * 1000:.0f} ms", flush=True)
    base = results["st_fp32"]["records_per_s"]
    eligible = {n: r for n, r in results.items() if n != "st_fp32" and r["recall_at_k"] >= 0.95}
    best = max(eligible, key=lambda n: eligible[n]["records_per_s"]) if eligible else "st_fp32"
    for r in results.values():
        r["speedup"] = r["records_per_s"] / base

    # the cache: first call builds, second loads (an unchanged index is never rebuilt)
    with tempfile.TemporaryDirectory() as tmp:
        cache, encoder = IndexCache(Path(tmp)), MeanPoolEncoder("default", precision="auto")
        subset = pool.records[:2000]
        first = cache.get_or_build(pool.files, subset, encoder)
        start = time.perf_counter()
        second = cache.get_or_build(pool.files, subset, encoder)
        reuse = {"first_built": first.built, "first_seconds": first.build_seconds, "second_built": second.built,
                 "second_seconds": time.perf_counter() - start, "records": len(subset)}
    section = {"pool_records": len(texts), "k": args.k, "queries": len(queries), "query_target": args.target,
               "encoders": results, "fastest_with_recall_ge_0.95": best, "cache": reuse}
    save_section("index", section, {"index_speedup": results[best]["speedup"],
                                    "recall_at_512": results[best]["recall_at_k"],
                                    "index_fast_encoder": best, "query_latency_s": results[best]["query_latency_s"]})
    print(f"fastest encoder with recall ≥ 0.95: {best}: {results[best]['speedup']:.2f}× SentenceTransformer.encode, "
          f"recall@{args.k} {results[best]['recall_at_k']:.4f}")
    print(f"index cache: first call built={reuse['first_built']} ({reuse['first_seconds']:.1f} s), second call "
          f"built={reuse['second_built']} ({reuse['second_seconds']:.2f} s to load)")


class _Fixed:
    """An encode function with a fingerprint-free Encoder interface (for DenseRetriever)."""

    fingerprint = ""

    def __init__(self, encode):
        self.encode = encode


if __name__ == "__main__":
    main()
