"""End-to-end experiment steps behind the CLI: train a classifier or generator, evaluate checkpoints.

Every artefact is written atomically under one output directory, with the configuration, the data
hash and the seed it came from.
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

from crosstask import __version__
from crosstask.data.benchmark import DataConfig, load_superni_data
from crosstask.errors import CrosstaskError
from crosstask.io import atomic_write_json, atomic_write_jsonl, atomic_write_text


def provenance(data_config: DataConfig, fingerprint: str) -> dict:
    return {"command": " ".join(["crosstask", *sys.argv[1:]]) if sys.argv else "", "crosstask": __version__,
            "python": platform.python_version(), "data": asdict(data_config), "data_hash": fingerprint,
            "time": time.strftime("%Y-%m-%d %H:%M:%S")}


def train(kind: str, data_config: DataConfig, model_config, args, accelerator=None) -> dict:
    """Train a classifier (`model_config`: ClassifierTrainingConfig) or generator (GeneratorTrainingConfig)."""
    from crosstask.training.trainer import make_accelerator

    accelerator = accelerator or make_accelerator()
    data = load_superni_data(data_config)
    if not data.train:
        raise CrosstaskError(f"no training tasks selected from {data.root}")
    output = Path(args.output_dir)
    meta = {**provenance(data_config, data.fingerprint()), "kind": kind, "config": asdict(model_config),
            "training": asdict(args), "processes": accelerator.num_processes, "train_tasks": len(data.train), "dev_tasks": [t.name for t in data.dev]}
    if accelerator.is_main_process:
        atomic_write_json(output / "run_config.json", meta)
    if kind == "classifier":
        from crosstask.training.classifier import train_classifier
        result = train_classifier(data.train, model_config, args, data.dev, accelerator=accelerator)
    elif kind == "generator":
        from crosstask.training.generator import train_generator
        result = train_generator(data.train, model_config, args, data.dev, accelerator=accelerator)
    else:
        raise CrosstaskError(f"unknown model kind {kind!r} (classifier or generator)")
    result.pop("trainer")
    summary = {**meta, **result, "model_dir": str(output / ("best" if result.get("best_step") is not None else "final"))}
    if accelerator.is_main_process:
        atomic_write_json(output / "train_summary.json", summary)
    return summary


def model_dir(path: str | Path) -> Path:
    """A saved model: the directory itself, or a training run's best/ (else final/) export."""
    path = Path(path)
    for candidate in (path, path / "best", path / "final"):
        if (candidate / "config.json").exists() or (candidate / "crosstask_classifier.json").exists():
            return candidate
    raise CrosstaskError(f"{path}: no saved model there (expected a model directory or a run with best/ or final/)")


def _prediction_rows(predictions) -> list[dict]:
    return [{"id": p.id, "task": p.task, "category": p.category, "prediction": p.prediction,
             "references": list(p.references), "candidates": list(p.candidates), "scores": list(p.scores)}
            for p in predictions]


def evaluate(data_config: DataConfig, output_dir: str | Path, classifier: str | None = None,
             generator: str | None = None, *, fair: bool = True, n_best: int = 4, max_length: int = 256,
             max_new_tokens: int = 64, batch_size: int = 64, prompt=None, scope: str = "all",
             accelerator=None) -> dict:
    """Evaluate a classifier and/or a generator on the test tasks (`scope`: "cls" = CLS tasks only, "all" adds
    the GEN tasks: generator N-best, classifier reranking, the combined score), baselines beside. Writes
    predictions-<system>.jsonl, metrics.json and results.md under `output_dir`."""
    from crosstask.data.prompts import PromptConfig, PromptEncoder
    from crosstask.evaluation.baselines import run_baselines
    from crosstask.evaluation.metrics import aggregate
    from crosstask.reporting.tables import results_markdown

    if not classifier and not generator:
        raise CrosstaskError("nothing to evaluate: pass a classifier and/or a generator")
    from crosstask.training.trainer import make_accelerator

    accelerator = accelerator or make_accelerator()
    prompt = prompt or PromptConfig()
    data = load_superni_data(data_config)
    cls_tasks = [t for t in data.test if t.is_cls]
    gen_tasks = [t for t in data.test if not t.is_cls] if scope == "all" else []
    predictions: dict[str, list] = {}
    clf = gen = None
    if classifier:
        from crosstask.evaluation.classifier import predict_candidates
        from crosstask.models.backbone import load_tokenizer
        from crosstask.models.classifier import EncoderClassifier

        path = model_dir(classifier)
        clf = EncoderClassifier.from_pretrained(path).to(accelerator.device).eval()
        clf_encoder = PromptEncoder(load_tokenizer(path / "encoder"), max_length)
        predictions["cls/classifier"] = predict_candidates(clf, cls_tasks, clf_encoder, prompt, batch_size=batch_size,
                                                           accelerator=accelerator)
    if generator:
        from crosstask.evaluation.generator import predict_fair, predict_generator
        from crosstask.models.generator import load_generator

        gen, tokenizer = load_generator(model_dir(generator))
        gen.to(accelerator.device)
        gen_encoder = PromptEncoder(tokenizer, max_length)
        predictions["cls/generator"] = predict_generator(gen, tokenizer, cls_tasks, gen_encoder, prompt,
                                                         max_new_tokens=max_new_tokens, accelerator=accelerator)
        if fair:
            predictions["cls/fair_generator"] = predict_fair(gen, tokenizer, cls_tasks, gen_encoder, prompt,
                                                             accelerator=accelerator)
        if gen_tasks:
            nbest = predict_generator(gen, tokenizer, gen_tasks, gen_encoder, prompt, num_beams=n_best, n_best=n_best,
                                      max_new_tokens=max_new_tokens, accelerator=accelerator)
            predictions["gen/generator_beam"] = nbest
            if clf is not None:
                from crosstask.evaluation.generator import rerank_with_classifier
                predictions["gen/generator_reranked"] = rerank_with_classifier(nbest, clf, gen_tasks, clf_encoder, prompt,
                                                                               accelerator=accelerator)
    from crosstask.evaluation.calibration import calibrate
    if "cls/classifier" in predictions:
        predictions["cls/classifier+calibrated"] = calibrate(predictions["cls/classifier"])
    if "cls/fair_generator" in predictions:
        predictions["cls/fair_generator+calibrated"] = calibrate(predictions["cls/fair_generator"], probabilities=False)
    if "cls/classifier" in predictions and "gen/generator_beam" in predictions:
        predictions["all/combined"] = predictions["cls/classifier"] + predictions["gen/generator_beam"]

    metrics = {name: aggregate(p.scored() for p in preds) for name, preds in predictions.items()}
    metrics.update({f"cls/baseline:{k}": v for k, v in run_baselines(cls_tasks, seed=data_config.seed).items()})
    report = {**provenance(data_config, data.fingerprint()), "classifier": classifier, "generator": generator,
              "label_space_mode": data_config.label_mode, "n_cls_tasks": len(cls_tasks), "n_gen_tasks": len(gen_tasks),
              "missing_test_tasks": data.missing.get("test", []), "metrics": metrics}
    if accelerator.is_main_process:
        output = Path(output_dir)
        for name, preds in predictions.items():
            atomic_write_jsonl(output / f"predictions-{name.replace('/', '-')}.jsonl", _prediction_rows(preds))
        atomic_write_json(output / "metrics.json", report)
        atomic_write_text(output / "results.md", results_markdown(report))
    return report

