"""The ReCross loop: per round, sample unlabeled target queries, retrieve (and rerank) upstream records,
adapt a copy of the upstream model on them, evaluate on the target's test set.

Layout under `run_dir` (every file written atomically; a round is complete once its metrics.json exists,
and complete rounds are read back, never recomputed):

    config.json                 the run's settings (a different config in the same run_dir is an error)
    zero-shot/metrics.json      the upstream model, not adapted (computed once)
    round-<r>/retrieved.json    the retrieved set with scores, hits and the query texts
    round-<r>/predictions.json  per-record predictions of the adapted model
    round-<r>/metrics.json      TargetResult.to_json() of the adapted model
    summary.json                per-round metrics and mean ± std (population std, ddof=0) per metric

Labels: the queries are `target.query[i].input` only; the answer options come from
`option_sets(target.query)` (the pooled label set, nothing per query); test labels are read by
`evaluate_target`'s scorer only, after predicting. The one exception is the ceiling diagnostic
(`retriever="ceiling"`): it adapts on `n` *labelled* records of the query pool instead of retrieved
ones, an upper bound of what adaptation on n examples can give (never used to choose anything).

Aggregation over the queries: `aggregation="fused"` fuses the per-query lists (`fusion`, RRF by
default, deduplicated); `"concat"` is the paper's: each query's top ⌈N/|Q|⌉ concatenated, duplicates
kept, trimmed to N.
"""

from __future__ import annotations

import copy
import logging
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from crosstask.core.errors import CrosstaskError
from crosstask.core.io import atomic_write_json, read_json
from crosstask.core.precision import autocast
from crosstask.data.prompts import PromptEncoder
from crosstask.data.records import T0Record
from crosstask.data.t0 import Target, UpstreamPool
from crosstask.data.t0_tasks import option_sets
from crosstask.evaluation.targets import evaluate_target
from crosstask.models.classifier import ENCODER_DIR, EncoderClassifier, is_classifier_dir
from crosstask.models.kinds import load_model
from crosstask.retrieval.encoders import MeanPoolEncoder, SentenceEncoder
from crosstask.retrieval.index import IndexCache
from crosstask.retrieval.reranker import load_reranker, rerank, reranker_device_type
from crosstask.retrieval.retrievers import BM25Retriever, DenseRetriever, RandomRetriever, RetrievedSet
from crosstask.training import adapt as adapt_module
from crosstask.training.adapt import AdaptConfig, check_kind, fine_tune_model

logger = logging.getLogger(__name__)

RETRIEVERS = ("random", "bm25", "sbert", "dense")
METHODS = (*RETRIEVERS, "dense_rerank")  # dense_rerank: the dense retriever, then the reranker (μ·N)
CEILING = "ceiling"  # not a retriever: n labelled query-pool records of the target (a diagnostic)
AGGREGATIONS = ("fused", "concat")


class CeilingSampler(RandomRetriever):
    """The ceiling diagnostic's "retriever": a uniform sample (seed = round) of the target's labelled
    query-pool records."""

    name = CEILING


@dataclass
class RecrossConfig:
    """One ReCross run on one target (paper defaults: N=512, |Q|=16, 5 rounds, μ=2)."""

    target: str
    retriever: str = "dense"  # random | bm25 | sbert | dense (the upstream model's own encoder)
    n: int = 512
    query_size: int = 16
    rounds: int = 5
    mu: int = 2  # oversampling before reranking
    reranker: str | None = None  # a CrossEncoder directory (see reranker.train_reranker)
    fusion: str = "rrf"
    # fused (`fusion`, deduplicated) | concat (paper: per-query top ⌈N/|Q|⌉, duplicates kept)
    aggregation: str = "fused"
    model_kind: str = "classifier"  # classifier | generator
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    index_kind: str = "exact"  # exact | hnsw | ivf
    cache_dir: str | None = None  # index cache; default run_dir/index-cache
    encoder: str | None = None  # dense/sbert encoder override (default: upstream encoder / packaged MiniLM)
    encoder_precision: str = "auto"  # auto | fp32 | bf16 (autocast) for the dense and sbert index encoders
    num_beams: int = 4
    max_new_tokens: int = 64
    max_test: int | None = None  # evaluate on the first max_test test records only
    keep_models: bool = False  # keep each round's adapted model under round-<r>/model
    expand_options: bool = False  # rank classifier: options listed by index scored as "index: text" (data.options)

    def __post_init__(self):
        if self.retriever not in (*RETRIEVERS, CEILING):
            raise CrosstaskError(f"retriever must be one of {', '.join(RETRIEVERS)}, got {self.retriever!r}")
        if self.aggregation not in AGGREGATIONS:
            raise CrosstaskError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {self.aggregation!r}")
        if self.retriever == CEILING and self.reranker:
            raise CrosstaskError("the ceiling diagnostic adapts on labelled target records: no reranker")
        check_kind(self.model_kind)
        if self.n < 1 or self.query_size < 1 or self.rounds < 0 or self.mu < 1:
            raise CrosstaskError("n, query_size and mu must be >= 1, rounds >= 0")


def sample_queries(query_records: Sequence[T0Record], k: int, seed: int) -> list[str]:
    """`k` query inputs drawn without replacement with `seed`; reads `.input` of the drawn records only."""
    if k > len(query_records):
        raise CrosstaskError(f"cannot sample {k} queries from a query pool of {len(query_records)}")
    return [query_records[i].input for i in random.Random(seed).sample(range(len(query_records)), k)]


def build_retriever(config: RecrossConfig, records: list[T0Record], files: Sequence[Path],
                    upstream_model_dir: Path, run_dir: Path, seed: int):
    """The configured retriever over the pool (dense indexes come from the on-disk IndexCache)."""

    fusion = "concat" if config.aggregation == "concat" else config.fusion
    if config.retriever == CEILING:
        return CeilingSampler(records, seed=seed)
    if config.retriever == "random":
        return RandomRetriever(records, seed=seed)
    if config.retriever == "bm25":
        return BM25Retriever(records, fusion=fusion)

    if config.retriever == "sbert":
        encoder = SentenceEncoder(config.encoder or "default", precision=config.encoder_precision)
    else:

        default = upstream_model_dir / ENCODER_DIR if is_classifier_dir(upstream_model_dir) else upstream_model_dir
        encoder = MeanPoolEncoder(config.encoder or default, max_length=config.adapt.max_length,
                                  precision=config.encoder_precision)
    cache = IndexCache(Path(config.cache_dir) if config.cache_dir else run_dir / "index-cache")
    found = cache.get_or_build(files, records, encoder, kind=config.index_kind)
    logger.info("index %s: %s in %.1f s (%s)", found.key[:12], "built" if found.built else "loaded",
                found.build_seconds if found.built else found.load_seconds, found.path)
    return DenseRetriever(records, encoder, index=found.index, fusion=fusion)


def evaluate_model(model_dir: Path, config: RecrossConfig, target: Target, options) -> Any:
    """TargetResult of the model saved in `model_dir` on the target's test records."""
    model, tokenizer = load_model(model_dir, config.model_kind)
    return evaluate_loaded(model, tokenizer, config, target, options)


def evaluate_loaded(model, tokenizer, config: RecrossConfig, target: Target, options) -> Any:
    """TargetResult of a loaded model on the target's test records (autocast on the model's own device)."""
    test = list(target.test)[: config.max_test]
    with autocast(config.adapt.mixed_precision, next(model.parameters()).device.type):
        if config.model_kind == "classifier":
            return evaluate_target(test, options, name=target.name, classifier=model,
                                   classifier_encoder=PromptEncoder(tokenizer, config.adapt.max_length),
                                   prompt=config.adapt.prompt, expand_options=config.expand_options)
        return evaluate_target(test, options, name=target.name, generator=model, generator_tokenizer=tokenizer,
                               generator_encoder=PromptEncoder(tokenizer, config.adapt.max_length),
                               num_beams=config.num_beams, max_new_tokens=config.max_new_tokens,
                               prompt=config.adapt.prompt)


def flat_metrics(result_json: Mapping) -> dict[str, float]:
    return {f"{p}/{m}": float(v) for p, ms in result_json["metrics"].items() for m, v in ms.items()}


def _write_result(directory: Path, result, extra: dict) -> dict:
    atomic_write_json(directory / "predictions.json", result.prediction_rows())
    payload = {**extra, **result.to_json()}
    atomic_write_json(directory / "metrics.json", payload)  # last: marks the step complete
    return payload


def _check_config(run_dir: Path, settings: dict) -> None:
    path = run_dir / "config.json"
    if path.exists():
        saved = read_json(path)
        ignore = {"rounds", "cache_dir", "keep_models"}
        if {k: v for k,
            v in saved.items() if k not in ignore} != {k: settings[k] for k in settings if k not in ignore}:
            raise CrosstaskError(f"{run_dir} holds a run with other settings ({path}): use another run_dir")
    atomic_write_json(path, settings)


def adapt_settings(adapt: AdaptConfig) -> dict:
    """`adapt` as recorded with a run: `pairs.expand_options` absent when off, so run roots written before the
    option existed still resume."""
    settings = asdict(adapt)
    if not settings["pairs"]["expand_options"]:
        del settings["pairs"]["expand_options"]
    return settings


def adapt_config(config: RecrossConfig, round_index: int) -> AdaptConfig:
    """Round `round_index`'s adaptation settings: its own seed; with `expand_options` the classifier adapts on
    the candidates it is scored on ("index: option text")."""
    pairs = replace(config.adapt.pairs, expand_options=config.adapt.pairs.expand_options or config.expand_options)
    return replace(config.adapt, seed=config.adapt.seed + round_index, pairs=pairs)


def run_recross(config: RecrossConfig, pool: UpstreamPool | Sequence[T0Record], target: Target,
                upstream_model_dir: str | Path, run_dir: str | Path) -> dict:
    """Zero-shot once, then `config.rounds` rounds of query → retrieve (→ rerank) → adapt → evaluate;
    rounds whose metrics exist are read back. Returns (and writes to summary.json) the zero-shot and
    per-round metrics and each metric's mean and std over the rounds."""
    records = list(pool.records if isinstance(pool, UpstreamPool) else pool)
    files = list(pool.files) if isinstance(pool, UpstreamPool) else []
    if config.retriever == CEILING:  # the diagnostic adapts on labelled target records, not on the pool
        records, files = list(target.query), []
    upstream_model_dir, run_dir = Path(upstream_model_dir), Path(run_dir)
    if config.target != target.name:
        raise CrosstaskError(f"config is for target {config.target!r}, got {target.name!r}")
    if config.n > len(records):
        raise CrosstaskError(f"cannot retrieve {config.n} records from a pool of {len(records)}")
    if config.rounds and config.query_size > len(target.query):  # checked before config.json is written
        raise CrosstaskError(f"cannot sample {config.query_size} queries from the {len(target.query)} query "
                             f"inputs of {target.name}")
    settings = {**asdict(config), "adapt": adapt_settings(config.adapt), "upstream_model": str(upstream_model_dir),
                "pool_size": len(records)}
    _check_config(run_dir, settings)
    options = option_sets(target.query)
    zero_dir = run_dir / "zero-shot"
    if (zero_dir / "metrics.json").exists():
        zero = read_json(zero_dir / "metrics.json")
    else:
        zero = _write_result(zero_dir, evaluate_model(upstream_model_dir, config, target, options), {"round": None})
    retriever, reranker, upstream, rounds = None, None, None, []
    for r in range(config.rounds):
        round_dir = run_dir / f"round-{r}"
        if (round_dir / "metrics.json").exists():
            rounds.append(read_json(round_dir / "metrics.json"))
            continue
        start = time.perf_counter()
        queries = sample_queries(target.query, config.query_size, seed=r)
        if config.retriever in ("random", CEILING) or retriever is None:
            retriever = build_retriever(config, records, files, upstream_model_dir, run_dir, seed=r)
        if config.reranker:
            reranker = reranker or load_reranker(config.reranker, config.adapt.max_length)
        upstream = upstream or load_model(upstream_model_dir, config.model_kind)
        index_seconds = round(time.perf_counter() - start, 3)  # retriever (re)built this round
        out = run_round(upstream, records, queries, retriever, config.n, reranker=reranker, mu=config.mu,
                        adapt=adapt_config(config, r), config=config)
        clock = time.perf_counter()  # "evaluate": everything after adaptation, so the parts add up to the total
        retrieved = out.retrieved
        atomic_write_json(round_dir / "retrieved.json",
                          {"target": target.name, "round": r, "queries": queries, **retrieved.to_json()})
        model_dir = adapt_module.save_adapted(out.model, out.tokenizer, config.model_kind, round_dir / "model")
        result = evaluate_model(model_dir, config, target, options)  # from its saved copy
        if not config.keep_models:
            shutil.rmtree(model_dir, ignore_errors=True)
        end = time.perf_counter()
        timing = {"index": index_seconds, **{k: v for k, v in out.seconds.items() if k != "evaluate"},
                  "evaluate": round(end - clock, 3), "total": round(end - start, 3)}
        rounds.append(_write_result(round_dir, result, {"round": r, "n_retrieved": len(retrieved),
                                                        "seconds": timing}))
    per_round = [flat_metrics(m) for m in rounds]
    keys = sorted({key for m in per_round for key in m})
    summary = {key: {"mean": float(np.mean(v)), "std": float(np.std(v)), "n": len(v)}
               for key in keys for v in [[m[key] for m in per_round if key in m]]}
    out = {"target": target.name, "zero_shot": flat_metrics(zero), "rounds": per_round, "summary": summary}
    atomic_write_json(run_dir / "summary.json", out)
    return out


def load_retrieved_sets(run_dir: str | Path) -> list[dict]:
    """The retrieved.json of every round under `run_dir`, in round order."""
    paths = sorted(Path(run_dir).glob("round-*/retrieved.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    return [read_json(p) for p in paths]


def _uids(retrieved: RetrievedSet | Mapping) -> list[str]:
    if isinstance(retrieved, RetrievedSet):
        return retrieved.uids
    return [item["uid"] for item in retrieved["items"]]


def retrieved_task_distribution(retrieved_sets: Mapping[str, RetrievedSet | Mapping | Sequence],
                                pool: UpstreamPool | Sequence[T0Record]) -> dict[str, dict[str, float]]:
    """target → {upstream task → fraction of its retrieved records (pooled over its rounds)}.
    Values of `retrieved_sets` are a RetrievedSet, a retrieved.json dict, or a list of them."""
    records = pool.records if isinstance(pool, UpstreamPool) else pool
    task_of = {r.uid: r.task or r.dataset for r in records}
    distribution = {}
    for target, sets in retrieved_sets.items():
        sets = [sets] if isinstance(sets, (RetrievedSet, Mapping)) else list(sets)
        counts = Counter(task_of[uid] for s in sets for uid in _uids(s))
        total = sum(counts.values())
        distribution[target] = {task: n / total for task, n in sorted(counts.items())} if total else {}
    return distribution


@dataclass
class RoundResult:
    """One ReCross round: the queries, the retrieved (and reranked) set over the pool, the adapted model
    (an in-memory copy of the upstream one) and, when a target was given, its metrics (`TargetResult`)."""

    queries: list[str]
    retrieved: RetrievedSet
    records: list[T0Record] = field(repr=False)
    model: Any = field(repr=False)
    tokenizer: Any = field(repr=False)
    result: Any = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def metrics(self) -> dict | None:
        return self.result.to_json()["metrics"] if self.result is not None else None


def run_round(upstream, pool: UpstreamPool | Sequence[T0Record], queries: Sequence[str], retriever, n: int, *,
              target: Target | None = None, reranker=None, mu: int = 2, adapt: AdaptConfig | None = None,
              config: RecrossConfig | None = None, seed: int = 0) -> RoundResult:
    """One ReCross round in memory: retrieve `n` pool records for the unlabeled `queries` (`retriever`: a
    Retriever built over the pool, or a name: random | bm25), rerank μ·N of them when `reranker` is given,
    adapt a copy of `upstream` (a loaded model with `.model`/`.tokenizer`, or (model, tokenizer)) on them and,
    with `target`, evaluate the copy on the target's test records. Nothing is written."""

    records = list(pool.records if isinstance(pool, UpstreamPool) else pool)
    model, tokenizer = (upstream.model, upstream.tokenizer) if hasattr(upstream, "model") else upstream
    kind = "classifier" if isinstance(model, EncoderClassifier) else "generator"
    adapt = adapt or (config.adapt if config else AdaptConfig())
    if isinstance(retriever, str):
        retriever = RandomRetriever(records, seed=seed) if retriever == "random" else BM25Retriever(records)
    clock = {"start": time.perf_counter()}
    retrieved = retriever.retrieve(list(queries), min(n * (mu if reranker else 1), len(records)))
    clock["retrieve"] = time.perf_counter()
    if reranker is not None:
        with autocast(adapt.mixed_precision, reranker_device_type(reranker)):
            retrieved = rerank(reranker, list(queries), retrieved, records, n)
    clock["rerank"] = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crosstask-round-") as work:
        adapted, tokenizer = fine_tune_model(kind, copy.deepcopy(model), tokenizer, retrieved.records(records),
                                             adapt, work)
    clock["adapt"] = time.perf_counter()
    result = None
    if target is not None:
        config = config or RecrossConfig(target.name, model_kind=kind, adapt=adapt)
        result = evaluate_loaded(adapted, tokenizer, config, target, option_sets(target.query))
    clock["evaluate"] = time.perf_counter()
    steps = list(clock)
    return RoundResult(list(queries), retrieved, records, adapted, tokenizer, result,
                       {b: round(clock[b] - clock[a], 3) for a, b in pairwise(steps)})
