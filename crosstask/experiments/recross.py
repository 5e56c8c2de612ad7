"""ReCross experiment steps behind `crosstask recross ...`: train the upstream model on the T0 upstream
pool (optionally holding some upstream tasks out), run the retrieval-augmented adaptation loop over
targets × retrievers (a target may be a held-out upstream task: a pseudo-target), and the gain
intervals; the report is `crosstask.reporting.recross`.

Every artefact is written atomically, with the command, the seed and a hash of the data files used
(pool files, plus the target files for runs). Run layout under `run_root`:

    <target>/zero-shot/         the unadapted upstream model (computed once per target)
    <target>/<method>/          one `run_recross` run dir (config.json, round-<r>/, summary.json)
    index-cache/                dense indexes shared by every target
    summary.json                every target × method: zero-shot, per-round metrics, mean ± std, the
                                command that last wrote it (runs adding methods merge into one root);
                                per target its counts (inputs cut, ...) and rank baselines; per
                                metric × method the paired-bootstrap 95 % interval of the gain (ci95)
"""

from __future__ import annotations

import json
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from crosstask.core.defaults import DEFAULT_SEED
from crosstask.core.errors import CrosstaskError, ValidationError
from crosstask.core.io import atomic_write_json, atomic_write_text, read_json
from crosstask.core.progress import progress
from crosstask.core.provenance import command_line, files_hash
from crosstask.core.provenance import provenance as run_provenance
from crosstask.data.prompts import T0_PROMPT
from crosstask.data.t0 import (
    TARGET_FILES,
    excluded_tasks,
    load_pseudo_target,
    load_target,
    load_upstream_pool,
    target_names,
)
from crosstask.data.t0_tasks import option_sets, t0_typed_tasks
from crosstask.evaluation.recross_metrics import RECROSS_NORMALIZATION
from crosstask.evaluation.stats import example_key, paired_bootstrap_ci, rank_baselines
from crosstask.evaluation.targets import example_scores
from crosstask.experiments import recross_round
from crosstask.experiments.recross_round import (
    CEILING,
    METHODS,
    RecrossConfig,
    adapt_settings,
    load_retrieved_sets,
    retrieved_task_distribution,
    run_recross,
)
from crosstask.experiments.superni import train_run
from crosstask.models.classifier import ClassifierConfig
from crosstask.models.generator import GeneratorConfig
from crosstask.models.kinds import detect_kind, trained_on_option_texts, upstream_run_config
from crosstask.training.adapt import AdaptConfig
from crosstask.training.classifier import ClassifierTrainingConfig
from crosstask.training.generator import GeneratorTrainingConfig
from crosstask.training.pairs import PairConfig
from crosstask.training.trainer import TrainingArguments, make_accelerator

logger = logging.getLogger(__name__)

def provenance(recross_dir: str | Path, files: Sequence[Path], seed: int) -> dict:
    """Command, versions, machine, and the sha256 of the data files read (names and bytes, in path order)."""
    ordered = sorted(Path(f) for f in files)
    return run_provenance(data=str(recross_dir), data_files=len(ordered),
                          data_hash=files_hash((f"{p.parent.name}/{p.name}", p) for p in ordered), seed=seed)


@dataclass(frozen=True)
class UpstreamConfig:
    """The upstream model of `crosstask recross upstream` and the part of the T0 pool it trains on."""

    kind: str = "classifier"  # classifier ("w/ GEN" pairs) | generator
    model: str = "default"  # backbone: hub id or local path (the packaged MiniLM)
    max_per_task: int | None = 100  # records per upstream task (seeded sample; None: all)
    max_length: int = ClassifierTrainingConfig.max_length  # pair / source length in tokens
    max_target_length: int = GeneratorConfig.max_target_length
    max_cls_labels: int = AdaptConfig.max_cls_labels  # templates with at most this many labels are CLS
    dev_templates: int = 0  # CLS templates held out for model selection
    exclude_tasks: tuple[str, ...] = ()  # upstream tasks left out (pseudo-targets to choose adaptation settings on)
    generator_arch: str | None = GeneratorConfig.arch  # None: unilm for BERT backbones, seq2seq for T5 / BART
    siamese: bool = ClassifierConfig.siamese  # classifier architecture (models.classifier)
    expand_options: bool = PairConfig.expand_options  # classifier: options listed by index trained as "index: text"


def train_upstream(recross_dir: str | Path, output_dir: str | Path, config: UpstreamConfig = UpstreamConfig(),
                   training_args: TrainingArguments | None = None) -> dict:
    """Train a classifier ("w/ GEN" pairs) or generator on the T0 upstream pool only, without the
    upstream tasks in `config.exclude_tasks` (held out as pseudo-targets to choose adaptation settings on);
    `dev_templates` CLS templates may be held out for model selection. Long inputs lose the middle of
    their passage, never their end (`T0_PROMPT`). The seed is `training_args.seed`. Writes run_config.json
    and train_summary.json."""
    kind, model, max_per_task, max_length = config.kind, config.model, config.max_per_task, config.max_length
    exclude_tasks, seed = config.exclude_tasks, (training_args or TrainingArguments(str(output_dir))).seed
    output = Path(output_dir)
    args = replace(training_args or TrainingArguments(str(output)), output_dir=str(output), seed=seed)
    pool = load_upstream_pool(recross_dir, max_per_task, seed, exclude=exclude_tasks)
    tasks = t0_typed_tasks(pool.records, max_cls_labels=config.max_cls_labels)
    cls_names = [t.name for t in tasks if t.is_cls]
    held = set(random.Random(seed).sample(cls_names, min(config.dev_templates, max(0, len(cls_names) - 1))))
    train, dev = [t for t in tasks if t.name not in held], [t for t in tasks if t.name in held]
    if kind == "classifier":
        training: Any = ClassifierTrainingConfig(ClassifierConfig(model, siamese=config.siamese),
                                                 PairConfig(mix_gen=True, seed=seed,
                                                            expand_options=config.expand_options),
                                                 prompt=T0_PROMPT, max_length=max_length)
    elif kind == "generator":
        training = GeneratorTrainingConfig(GeneratorConfig(model, False, max_length, config.max_target_length,
                                                           config.generator_arch), prompt=T0_PROMPT, mix_gen=True)
    else:
        raise CrosstaskError(f"unknown model kind {kind!r} (classifier or generator)")
    accelerator = make_accelerator(args.mixed_precision, args.report_to, args.output_dir)
    per_task = {task: sum(r.task == task for r in pool.records) for task in pool.tasks}
    meta = {**provenance(recross_dir, [Path(recross_dir) / "split.json", *pool.files], seed), "kind": kind,
            "config": asdict(training), "training": asdict(args), "max_per_task": max_per_task,
            "upstream_tasks": list(pool.tasks), "missing_tasks": pool.missing,
            "excluded_tasks": sorted(excluded_tasks(recross_dir)), "held_out_tasks": sorted(exclude_tasks),
            "records_per_task": per_task,
            "n_records": len(pool.records), "typed_tasks": {t.name: t.task_type.value for t in tasks},
            "dev_templates": sorted(held)}
    return train_run(training, train, dev, args, meta, accelerator)


def method_config(method: str, target: str, kind: str, **settings: Any):
    """The RecrossConfig of one method: `dense_rerank` is the dense retriever + the reranker (μ·N);
    `ceiling` adapts on `ceiling` labelled query-pool records of the target instead of retrieved ones."""

    if method not in (*METHODS, CEILING):
        raise CrosstaskError(f"unknown method {method!r} (one of {', '.join(METHODS)}, {CEILING})")
    reranker, mu, ceiling = settings.pop("reranker"), settings.pop("mu"), settings.pop("ceiling", 0)
    if method == CEILING:
        if not ceiling:
            raise CrosstaskError("method ceiling needs the number of labelled records to adapt on (--ceiling K)")
        return RecrossConfig(target, retriever=CEILING, model_kind=kind, **{**settings, "n": ceiling})
    if method != "dense_rerank":
        return RecrossConfig(target, retriever=method, model_kind=kind, **settings)
    if not reranker:
        raise CrosstaskError("method dense_rerank needs a reranker directory (train-reranker)")
    return RecrossConfig(target, retriever="dense", reranker=str(reranker), mu=mu, model_kind=kind, **settings)


def _zero_shot(config, target, model_dir: Path, target_root: Path, run_dir: Path) -> dict:
    """The target's zero-shot metrics, computed once under `target_root/zero-shot` and copied into
    `run_dir/zero-shot` (where `run_recross` reads it back instead of recomputing)."""

    shared = target_root / "zero-shot"
    key = {"upstream_model": str(model_dir), "model_kind": config.model_kind, "max_test": config.max_test,
           "max_length": config.adapt.max_length, "num_beams": config.num_beams,
           "max_new_tokens": config.max_new_tokens, "mixed_precision": config.adapt.mixed_precision,
           "prompt": asdict(config.adapt.prompt)}
    if config.expand_options:  # absent when off: zero-shot results computed before the option stay valid
        key["expand_options"] = True
    if (shared / "metrics.json").exists():
        zero = read_json(shared / "metrics.json")
        if zero.get("settings") != key:
            raise CrosstaskError(f"{shared} was computed with other settings: use another run root")
    else:
        result = recross_round.evaluate_model(model_dir, config, target, option_sets(target.query))
        atomic_write_json(shared / "predictions.json", result.prediction_rows())
        zero = {"round": None, "settings": key, **result.to_json()}
        atomic_write_json(shared / "metrics.json", zero)
    if not (run_dir / "zero-shot" / "metrics.json").exists():
        for name in ("predictions.json", "metrics.json"):  # metrics last: marks the copy complete
            (run_dir / "zero-shot").mkdir(parents=True, exist_ok=True)
            atomic_write_text(run_dir / "zero-shot" / name, (shared / name).read_text(encoding="utf-8"))
    return zero


@dataclass(frozen=True)
class TargetsConfig:
    """Settings of `run_targets`, shared by every target × method (the per-run ones default to
    `RecrossConfig`'s, the paper's: N=512, |Q|=16, 5 rounds, μ=2)."""

    rounds: int = RecrossConfig.rounds
    n: int = RecrossConfig.n  # retrieved upstream records per round
    query_size: int = RecrossConfig.query_size  # unlabeled target queries per round
    reranker: str | None = None  # reranker directory (method dense_rerank)
    mu: int = RecrossConfig.mu  # retrieve μ·N before reranking
    max_per_task: int | None = None  # upstream records per task in the pool (seeded sample; None: all)
    index_kind: str = RecrossConfig.index_kind  # exact | hnsw | ivf
    max_test: int | None = None  # evaluate on the first N test records (None: all of test-1000)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    encoder: str | None = None  # dense / sbert encoder (None: the upstream encoder / packaged MiniLM)
    num_beams: int = RecrossConfig.num_beams
    max_new_tokens: int = RecrossConfig.max_new_tokens
    seed: int = DEFAULT_SEED
    encoder_precision: str = RecrossConfig.encoder_precision  # auto | fp32 | bf16, for the index encoders
    aggregation: str = RecrossConfig.aggregation  # fused | concat
    ceiling: int = 0  # labelled target records the ceiling diagnostic adapts on (0: off)
    n_boot: int = 2000  # bootstrap resamples of the gain intervals
    expand_options: bool = RecrossConfig.expand_options  # rank classifier scores "index: option text"
    index_cache: str | None = None  # index cache directory (None: run_root/index-cache); content-keyed, so shareable


def run_targets(recross_dir: str | Path, upstream_dir: str | Path, methods: Sequence[str], targets: Sequence[str],
                run_root: str | Path, config: TargetsConfig = TargetsConfig(),
                log: Callable[[str], None] | None = None) -> dict:
    """Every target × method through `run_recross` (finished rounds are read back, never recomputed),
    zero-shot once per target. Returns and writes `run_root/summary.json` (merged with an earlier one). Each
    run's start goes to `log` (default: this module's logger, INFO), and a bar counts the target × method runs.

    A target that is no folder under targets/ is an upstream task run as a pseudo-target
    (`load_pseudo_target`): it is left out of the retrieval pool, and an upstream model whose
    run_config.json lists it among its training tasks is refused. Method `ceiling` adapts on
    `ceiling` labelled query-pool records. Per target the summary keeps the zero-shot counts (inputs
    cut, ...), the rank baselines (`rank_baselines`) and the number of distinct test examples; per
    metric × method `ci95` holds the paired-bootstrap interval of the gain (`gain_intervals`)."""
    c = config
    rounds, n, query_size, reranker_dir, mu, seed, ceiling = c.rounds, c.n, c.query_size, c.reranker, c.mu, c.seed, \
        c.ceiling
    max_per_task, max_test = c.max_per_task, c.max_test
    for method in methods:
        method_config(method, "-", "classifier", reranker=reranker_dir, mu=mu, ceiling=ceiling)  # validates
    real = set(target_names(recross_dir))
    pseudo = [name for name in targets if name not in real]
    loaded = [load_target(recross_dir, name) if name in real else load_pseudo_target(recross_dir, name, seed)
              for name in targets]  # a malformed target fails before any work
    check_held_out(upstream_dir, pseudo)
    model_dir, kind = detect_kind(upstream_dir)
    pool = load_upstream_pool(recross_dir, max_per_task, seed, exclude=pseudo)
    check_sizes(loaded, len(pool.records), n, query_size)  # before anything is written
    root = Path(run_root)
    settings = {"rounds": rounds, "n": n, "query_size": query_size, "index_kind": c.index_kind, "max_test": max_test,
                "adapt": c.adapt, "encoder": c.encoder, "num_beams": c.num_beams,
                "max_new_tokens": c.max_new_tokens, "cache_dir": c.index_cache or str(root / "index-cache"),
                "aggregation": c.aggregation,
                "encoder_precision": c.encoder_precision}
    if c.expand_options or trained_on_option_texts(upstream_dir):  # absent when off: older run roots still resume
        settings["expand_options"] = True
    previous = read_json(root / "summary.json") if (root / "summary.json").exists() else {}
    recorded = {**settings, "adapt": adapt_settings(c.adapt), "reranker": reranker_dir and str(reranker_dir),
                "mu": mu, "max_per_task": max_per_task, "ceiling": ceiling, "pseudo_targets": pseudo}
    free = {"rounds", "reranker", "mu", "cache_dir", "ceiling"}  # their run dirs check reranker, mu and ceiling
    if previous and {k: v for k, v in previous["settings"].items() if k not in free} != \
            {k: v for k, v in json.loads(json.dumps(recorded)).items() if k not in free}:
        raise CrosstaskError(f"{root} holds runs with other settings ({root / 'summary.json'}): use another run root")
    results: dict[str, dict] = previous.get("targets", {})
    distributions: dict[str, dict] = previous.get("retrieved_tasks", {})
    log = log or logger.info
    command = command_line()
    bar = progress(None, len(loaded) * len(methods), "recross runs", min_items=2)
    for target in loaded:
        entry = results.setdefault(target.name, {"zero_shot": {}, "methods": {}})
        test = list(target.test)[:max_test]
        entry["examples"] = len({example_key(r.uid) for r in test})
        entry["baselines"] = rank_baselines(test, option_sets(target.query))  # test labels: reference rows only
        for method in methods:
            config = method_config(method, target.name, kind, reranker=reranker_dir, mu=mu, ceiling=ceiling,
                                   **settings)
            run_dir = root / target.name / method
            log(f"{target.name} / {method}: {rounds} rounds of N={n}, |Q|={query_size} ({run_dir})")
            entry["counts"] = _zero_shot(config, target, model_dir, root / target.name, run_dir).get("counts", {})
            out = run_recross(config, pool, target, model_dir, run_dir)
            entry["zero_shot"] = out["zero_shot"]
            entry["methods"][method] = {"rounds": out["rounds"], "summary": out["summary"], "run_dir": str(run_dir),
                                        "command": command}
            bar.update()
            if method == CEILING:  # labelled target records, not retrieved from the pool
                continue
            sets = [s for s in load_retrieved_sets(run_dir) if s["round"] < rounds]
            distributions.setdefault(method, {}).update(retrieved_task_distribution({target.name: sets}, pool))
    bar.close()
    files = [Path(recross_dir) / "split.json", *pool.files,
             *(Path(recross_dir) / "targets" / t / f
               for t in sorted(results) if t in real for f in TARGET_FILES.values()),
             *(Path(recross_dir) / "upstream" / f"{t}.json" for t in pseudo)]
    summary = {**provenance(recross_dir, files, seed), "upstream": str(upstream_dir), "model_dir": str(model_dir),
               "model_kind": kind, "softem_normalization": RECROSS_NORMALIZATION,
               "pool_size": len(pool.records), "upstream_tasks": list(pool.tasks),
               "settings": recorded,
               "methods": sorted({m for e in results.values() for m in e["methods"]}, key=(*METHODS, CEILING).index),
               "pseudo_targets": pseudo, "targets": dict(sorted(results.items())), "retrieved_tasks": distributions,
               "ci95": gain_intervals(results, root, seed=seed, n_boot=c.n_boot)}
    atomic_write_json(root / "summary.json", summary)
    return summary


def check_sizes(targets: Sequence, pool_size: int, n: int, query_size: int) -> None:
    """Every target's query pool holds `query_size` queries and the pool `n` records (checked before
    any run directory is written, so a corrected re-run is never refused)."""

    if n > pool_size:
        raise ValidationError("--n", f"cannot retrieve {n} records from an upstream pool of {pool_size}")
    for target in targets:
        if query_size > len(target.query):
            raise ValidationError("--queries", f"target {target.name} has {len(target.query)} query inputs, "
                                               f"fewer than {query_size}")


def check_held_out(upstream_dir: str | Path, pseudo_targets: Sequence[str]) -> None:
    """Refuse pseudo-targets the upstream model was trained on (the upstream tasks in the run_config.json
    of `upstream_dir`, or of its parent when it is the run's best/ or final/), or when that is unknown."""
    if not pseudo_targets:
        return
    run_config = upstream_run_config(upstream_dir)
    if run_config is None:
        raise CrosstaskError(f"cannot tell which tasks the upstream model in {upstream_dir} was trained on (no "
                             "run_config.json): pseudo-targets need an upstream run of `crosstask recross upstream`")
    seen = sorted(set(run_config.get("upstream_tasks", [])) & set(pseudo_targets))
    if seen:
        raise CrosstaskError(f"the upstream model in {upstream_dir} was trained on {', '.join(seen)}: a pseudo-target "
                             f"must be held out (crosstask recross upstream --exclude-tasks {','.join(seen)})")


def _round_scores(run_dir: Path, n_rounds: int) -> list[dict] | None:
    """example_scores of each round's predictions.json (None when one is missing)."""

    files = [run_dir / f"round-{r}" / "predictions.json" for r in range(n_rounds)]
    return [example_scores(read_json(f)) for f in files] if all(f.is_file() for f in files) else None


def gain_intervals(results: Mapping[str, Mapping], root: Path, *, seed: int = DEFAULT_SEED,
                   n_boot: int = TargetsConfig.n_boot) -> dict:
    """metric → method → {"mean_gain": [low, high], "mean_gain_rounds", "n_targets", "targets": {target: [low, high]}}:
    the paired-bootstrap 95 % interval of the method's gain over zero-shot (`paired_bootstrap_ci`, × 100; with
    `mean_gain_rounds`, each target's rounds resampled too),
    from the per-record scores in `root/<target>/zero-shot` and the method's rounds; test examples are
    resampled together (`example_key`). Targets whose predictions are missing are left out."""

    paired: dict[str, dict[str, dict[str, tuple]]] = defaultdict(lambda: defaultdict(dict))
    for target, entry in sorted(results.items()):
        zero_file = root / target / "zero-shot" / "predictions.json"
        if not zero_file.is_file():
            continue
        zero = example_scores(read_json(zero_file))
        for method, cell in entry["methods"].items():
            rounds = _round_scores(root / target / method, len(cell["rounds"]))
            for metric, by_id in zero.items() if rounds else ():
                ids = list(by_id)
                if all(set(r.get(metric, {})) == set(ids) for r in rounds):
                    scores = np.array([[r[metric][i] for i in ids] for r in rounds])
                    paired[metric][method][target] = (scores, np.array([by_id[i] for i in ids]),
                                                      [example_key(i) for i in ids])
    out: dict[str, dict] = {}
    for metric, by_method in paired.items():
        for method, by_target in by_method.items():
            cells = list(by_target.values())
            out.setdefault(metric, {})[method] = {
                "mean_gain": list(paired_bootstrap_ci(*zip(*cells), n_boot=n_boot, seed=seed)),
                "mean_gain_rounds": list(paired_bootstrap_ci(*zip(*cells), n_boot=n_boot, seed=seed,
                                                             resample_rounds=True)),
                "n_targets": len(cells),
                "targets": {t: list(paired_bootstrap_ci([c[0]], [c[1]], [c[2]], n_boot=n_boot, seed=seed))
                            for t, c in by_target.items()}}
    return out

