"""End-to-end experiment steps behind the CLI: train a classifier or generator, evaluate checkpoints.

Every artefact is written atomically under one output directory, with the configuration, the data
hash and the seed it came from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from crosstask.api.models import fit
from crosstask.core.errors import CrosstaskError, ValidationError
from crosstask.core.io import atomic_write_json, atomic_write_jsonl, atomic_write_text, read_json
from crosstask.core.provenance import model_revision
from crosstask.core.provenance import provenance as run_provenance
from crosstask.core.runs import clear_run, prepare_run, run_lock, settings_differences
from crosstask.data.benchmark import DataConfig, fingerprint_tasks, load_superni_data
from crosstask.data.prompts import (
    PromptConfig,
    PromptEncoder,
    classifier_context_segments,
    render,
    task_generator_segments,
)
from crosstask.evaluation.baselines import GEN_BASELINES, run_baselines
from crosstask.evaluation.calibration import calibrate
from crosstask.evaluation.classifier import predict_candidates
from crosstask.evaluation.generator import predict_fair, predict_generator, rerank_with_classifier
from crosstask.evaluation.metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, aggregate, score_instance
from crosstask.evaluation.tables import results_markdown
from crosstask.models.backbone import load_tokenizer
from crosstask.models.classifier import EncoderClassifier
from crosstask.models.generator import load_generator
from crosstask.models.kinds import INFERENCE_FILE, load_inference_settings, model_dir, update_inference_settings
from crosstask.training.classifier import ClassifierTrainingConfig
from crosstask.training.generator import GeneratorTrainingConfig
from crosstask.training.trainer import TrainingArguments, make_accelerator


def provenance(data_config: DataConfig, fingerprint: str) -> dict:
    """Where a result came from. `data_hash`: the task files loaded (training: every train, dev and test
    task file the run read — test files only for their names and types; evaluation: the evaluated test tasks)."""
    return run_provenance(data=asdict(data_config), data_hash=fingerprint)


def train_run(config, train_tasks, dev_tasks, args: TrainingArguments, meta: dict, accelerator) -> dict:
    """The one training procedure of `crosstask train` and `crosstask recross upstream`: refuse another run in
    `args.output_dir` before any write, lock it, write run_config.json (`meta`), `fit`, write train_summary.json."""
    output, main = Path(args.output_dir), accelerator.is_main_process
    meta = {**meta, "model_revision": model_revision(config.model.model)}
    prepare_run(output, meta, args.resume, args.overwrite)  # refuse before anything is written
    with run_lock(output, enabled=main):
        if prepare_run(output, meta, args.resume, args.overwrite) == "overwrite" and main:  # again, under the lock
            clear_run(output)
        if main and not (output / "run_config.json").exists():  # a resumed run keeps its own (same settings)
            atomic_write_json(output / "run_config.json", meta)
        result = fit(config, train_tasks, args, dev_tasks, accelerator=accelerator)
        summary = {**meta, **result.to_json(),
                   "model_dir": str(output / ("best" if result.best_step is not None else "final"))}
        if main:
            atomic_write_json(output / "train_summary.json", summary)
            _record_training(output, meta, result)
    return summary


def _record_training(output: Path, meta: dict, result) -> None:
    """The run's command, data and dev score into the model cards of its best/ and final/ exports."""
    data = meta.get("data")
    if isinstance(data, dict):
        data = f"demo benchmark (seed {data.get('demo_seed')})" if data.get("demo") else data.get("data")
    training = {"command": meta.get("command"), "data": data or "the default SuperNI data", "steps": result.steps,
                "data_hash": meta.get("data_hash"), "best_dev": result.best_dev,
                "benchmark": "recross" if "upstream_tasks" in meta else "superni"}
    for export in ("best", "final"):
        if (output / export / INFERENCE_FILE).is_file():
            update_inference_settings(output / export, training=training)


def train(kind: str, data_config: DataConfig, model_config, args: TrainingArguments, accelerator=None) -> dict:
    """Train a classifier (`model_config`: ClassifierTrainingConfig) or generator (GeneratorTrainingConfig)."""
    expected = {"classifier": ClassifierTrainingConfig, "generator": GeneratorTrainingConfig}.get(kind)
    if expected is None or not isinstance(model_config, expected):
        raise CrosstaskError(f"model kind {kind!r} does not match its config {type(model_config).__name__}")
    accelerator = accelerator or make_accelerator(args.mixed_precision, args.report_to, args.output_dir)
    data = load_superni_data(data_config)
    if not data.train:
        raise CrosstaskError(f"no training tasks selected from {data.root}")
    mix_gen = getattr(model_config, "mix_gen", False) or getattr(getattr(model_config, "pairs", None), "mix_gen",
                                                                 False)
    if not any(t.task.instances for t in data.train if t.is_cls or mix_gen):  # 0 steps: an error, before any write
        raise CrosstaskError(f"nothing to train on: none of the {len(data.train)} training tasks of {data.root} is a "
                             "CLS "
                             "task with instances" + ("" if mix_gen else " (GEN tasks need --mix-gen)"))
    meta = {**provenance(data_config, fingerprint_tasks(data.train + data.dev + data.test)), "kind": kind,
            "config": asdict(model_config), "training": asdict(args), "precision": accelerator.mixed_precision,
            "processes": accelerator.num_processes, "train_tasks": len(data.train),
            "dev_tasks": [t.name for t in data.dev]}
    return train_run(model_config, data.train, data.dev, args, meta, accelerator)


METRICS = ("exact_match", "rougeL")


def _prediction_rows(predictions, prompts: dict[tuple[str, str], str] | None = None) -> list[dict]:
    """One JSONL row per prediction (lm-evaluation-harness style): the rendered prompt (`prompts`: (task, id) ->
    text), the prediction with its candidates and scores, and the row's own metrics in [0, 1] (max over the
    references, as aggregated into metrics.json)."""
    prompts = prompts or {}
    return [{"id": p.id, "task": p.task, "category": p.category, "prompt": prompts.get((p.task, p.id)),
             "prediction": p.prediction, "references": list(p.references), "candidates": list(p.candidates),
             "scores": list(p.scores), **score_instance(p.prediction, p.references, METRICS)}
            for p in predictions]


def rendered_prompts(tasks, prompt: PromptConfig, kind: str) -> dict[tuple[str, str], str]:
    """(task, instance id) -> the prompt a model of `kind` reads, rendered before truncation: the generator's
    source, or the classifier's pair context (each candidate's pair appends its Output line and "Is this
    example correct?")."""
    def segments(t, text):
        if kind == "generator":
            return task_generator_segments(t, text, prompt)
        return classifier_context_segments(t.task.definition, t.task.positive_examples, t.task.negative_examples,
                                           text, prompt)
    return {(t.name, i.id): render(segments(t, i.input)) for t in tasks for i in t.task.instances}


def _system_prompts(system: str, tasks, encoding: dict) -> dict[tuple[str, str], str]:
    """The prompts of one evaluated system: the classifier's for its CLS predictions (and the combined score's CLS
    half), the generator's for everything it generated or ranked (the reranked N-best came from the generator)."""
    def of(kind: str, subset) -> dict:
        return rendered_prompts(subset, encoding[kind]["prompt"], kind) if kind in encoding else {}

    if system.startswith("cls/classifier"):
        return of("classifier", tasks)
    if system.startswith("all/combined"):
        return {**of("classifier", [t for t in tasks if t.is_cls]), **of("generator", [t for t in tasks
                                                                                       if not t.is_cls])}
    return of("generator", tasks)


@dataclass(frozen=True)
class EvalOptions:
    fair: bool = True  # also run the fair generator (label-space ranking)
    n_best: int = 4  # beam size / N-best for GEN tasks and classifier reranking
    max_length: int | None = None  # None: each saved model's own (crosstask_inference.json)
    max_new_tokens: int | None = None  # None: the saved generator's max target length
    batch_size: int = 64
    scope: str = "all"  # "cls": CLS test tasks only; "all": also GEN tasks (N-best, reranking, combined)
    mixed_precision: str = "auto"


def encoding_settings(path: str | Path, kind: str, options: EvalOptions, prompt: PromptConfig | dict | None) -> dict:
    """What a saved model is evaluated with: the prompt and lengths it was trained with (crosstask_inference.json,
    else its run's run_config.json), each replaced by `options` / `prompt` where those are given (`prompt`: a
    PromptConfig, or a dict of the PromptConfig fields to replace); a model saved
    with neither falls back to the training configs' defaults."""
    saved = load_inference_settings(model_dir(path))
    trained = ClassifierTrainingConfig() if kind == "classifier" else GeneratorTrainingConfig()
    fallback_length = trained.max_length if kind == "classifier" else trained.model.max_source_length
    saved_prompt = saved.get("prompt")
    if not isinstance(prompt, PromptConfig):  # None or a dict of overrides of the saved model's prompt
        base = PromptConfig(**saved_prompt) if isinstance(saved_prompt, dict) else trained.prompt
        prompt = replace(base, **(prompt or {}))
    return {"prompt": prompt,
            "max_length": options.max_length or saved.get("max_length") or fallback_length,
            "max_new_tokens": options.max_new_tokens or saved.get("max_new_tokens")
            or GeneratorTrainingConfig().model.max_target_length}


def _classifier_predictions(path, cls_tasks, settings, options, accelerator):

    path = model_dir(path)
    model = EncoderClassifier.from_pretrained(path).to(accelerator.device).eval()
    encoder = PromptEncoder(load_tokenizer(path / "encoder"), settings["max_length"])
    predictions = predict_candidates(model, cls_tasks, encoder, settings["prompt"], batch_size=options.batch_size,
                                     accelerator=accelerator)
    return model, encoder, predictions


def _generator_predictions(path, cls_tasks, gen_tasks, settings, options, accelerator) -> dict[str, list]:

    prompt, max_new_tokens = settings["prompt"], settings["max_new_tokens"]
    options = replace(options, max_length=settings["max_length"], max_new_tokens=max_new_tokens)
    model, tokenizer = load_generator(model_dir(path))
    model.to(accelerator.device)
    encoder = PromptEncoder(tokenizer, options.max_length)
    out = {"cls/generator": predict_generator(model, tokenizer, cls_tasks, encoder, prompt,
                                              max_new_tokens=options.max_new_tokens, accelerator=accelerator)}
    if options.fair:
        out["cls/fair_generator"] = predict_fair(model, tokenizer, cls_tasks, encoder, prompt, accelerator=accelerator)
    if gen_tasks:
        out["gen/generator"] = predict_generator(model, tokenizer, gen_tasks, encoder, prompt,
                                                 max_new_tokens=options.max_new_tokens, accelerator=accelerator)
        out["gen/generator_beam"] = predict_generator(model, tokenizer, gen_tasks, encoder, prompt,
                                                      num_beams=options.n_best, n_best=options.n_best,
                                                      max_new_tokens=options.max_new_tokens, accelerator=accelerator)
    return out


def evaluate(data_config: DataConfig, output_dir: str | Path, classifier: str | None = None,
             generator: str | None = None, options: EvalOptions = EvalOptions(),
             prompt: PromptConfig | dict | None = None,
             accelerator=None, overwrite: bool = False) -> dict:
    """Evaluate a classifier and/or a generator on the test tasks, baselines beside. Writes
    predictions-<system>.jsonl, metrics.json and results.md under `output_dir` (an evaluation with
    other settings there is refused unless `overwrite`, which also removes its stale predictions)."""

    if not classifier and not generator:
        raise CrosstaskError("nothing to evaluate: pass a classifier and/or a generator")
    accelerator = accelerator or make_accelerator(options.mixed_precision)
    models = {kind: path for kind, path in (("classifier", classifier), ("generator", generator)) if path}
    encoding = {kind: encoding_settings(path, kind, options, prompt) for kind, path in models.items()}
    options = _recorded_options(options, encoding)
    data = load_superni_data(data_config)
    cls_tasks = [t for t in data.test if t.is_cls]
    gen_tasks = [t for t in data.test if not t.is_cls] if options.scope == "all" else []
    if not cls_tasks:  # never an EM over zero instances
        raise CrosstaskError(f"no CLS test tasks to evaluate in {data.root} ({len(data.test)} test tasks loaded, "
                             f"{len(data.missing.get('test', []))} missing on disk)")
    output, main = Path(output_dir), accelerator.is_main_process
    fingerprint = fingerprint_tasks(cls_tasks + gen_tasks)
    _check_evaluation_output(output, {"classifier": classifier, "generator": generator, "options": asdict(options),
                                      "data": asdict(data_config), "data_hash": fingerprint}, overwrite)
    predictions: dict[str, list] = {}
    with run_lock(output, enabled=main), accelerator.autocast():
        if classifier:
            clf, clf_encoder, predictions["cls/classifier"] = _classifier_predictions(
                classifier, cls_tasks, encoding["classifier"], options, accelerator)
            predictions["cls/classifier+calibrated"] = calibrate(predictions["cls/classifier"])
        if generator:
            predictions.update(_generator_predictions(generator, cls_tasks, gen_tasks, encoding["generator"], options,
                                                      accelerator))
            if options.fair:
                predictions["cls/fair_generator+calibrated"] = calibrate(predictions["cls/fair_generator"],
                                                                         probabilities=False)
        if classifier and "gen/generator_beam" in predictions:
            predictions["gen/generator_reranked"] = rerank_with_classifier(
                predictions["gen/generator_beam"], clf, gen_tasks, clf_encoder, encoding["classifier"]["prompt"],
                accelerator=accelerator)
            predictions["all/combined"] = predictions["cls/classifier"] + predictions["gen/generator_beam"]
            predictions["all/combined+reranked"] = (predictions["cls/classifier"]
                                                    + predictions["gen/generator_reranked"])
        if "gen/generator" in predictions:
            predictions["all/generator"] = predictions["cls/generator"] + predictions["gen/generator"]

        rows = {name: _prediction_rows(preds, _system_prompts(name, cls_tasks + gen_tasks, encoding))
                for name, preds in predictions.items()}
        metrics = {name: aggregate((p.scored() for p in preds), METRICS, scores=rows[name], stderr=True)
                   for name, preds in predictions.items()}
        metrics.update({f"cls/baseline:{k}": v
                        for k, v in run_baselines(cls_tasks, seed=data_config.seed, stderr=True).items()})
        if gen_tasks:  # the label-free heuristics only: a GEN task has no label space
            for scope, tasks in (("gen", gen_tasks), ("all", cls_tasks + gen_tasks)):
                metrics.update({f"{scope}/baseline:{k}": v for k, v in run_baselines(
                    tasks, GEN_BASELINES, seed=data_config.seed, stderr=True).items()})
        report = {**provenance(data_config, fingerprint), "classifier": classifier, "generator": generator,
                  "options": asdict(options), "encoding": {k: {**v, "prompt": asdict(v["prompt"])} for k,
                                                           v in encoding.items()},
                  "label_space_mode": data_config.label_mode, "n_cls_tasks": len(cls_tasks),
                  "n_gen_tasks": len(gen_tasks), "missing_test_tasks": data.missing.get("test",
                                                                                        []), "metrics": metrics,
                  "stderr": {"method": "bootstrap", "resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED}}
        if main:
            written = {output / f"predictions-{name.replace('/', '-')}.jsonl" for name in predictions}
            for name in predictions:
                atomic_write_jsonl(output / f"predictions-{name.replace('/', '-')}.jsonl", rows[name])
            atomic_write_json(output / "metrics.json", report)
            atomic_write_text(output / "results.md", results_markdown(report))
            for stale in set(output.glob("predictions-*.jsonl")) - written:  # an overwritten evaluation's
                stale.unlink()
    return report


def _recorded_options(options: EvalOptions, encoding: dict) -> EvalOptions:
    """`options` with the lengths the evaluated models use filled in where they agree (None where they differ:
    the report's `encoding` then holds each model's)."""
    filled = {}
    for name in ("max_length", "max_new_tokens"):
        values = {settings[name] for settings in encoding.values()}
        filled[name] = getattr(options, name) or (values.pop() if len(values) == 1 else None)
    return replace(options, **filled)


# DataConfig fields that only choose training and dev tasks: an evaluation does not depend on them
_TRAINING_ONLY = ("max_train_instances", "dev_tasks", "max_dev_instances", "max_train_labels")


def _check_evaluation_output(output: Path, settings: dict, overwrite: bool) -> None:
    """An output directory holding an evaluation with other settings is refused unless `overwrite`."""
    import json


    if overwrite or not (output / "metrics.json").is_file():
        return
    saved = read_json(output / "metrics.json")
    current = json.loads(json.dumps(settings))
    for entry in (saved, current):
        if isinstance(entry, dict) and isinstance(entry.get("options"), dict):
            entry["options"].pop("mixed_precision", None)
        if isinstance(entry, dict) and isinstance(entry.get("data"), dict):
            for name in _TRAINING_ONLY:
                entry["data"].pop(name, None)
    differ = settings_differences({k: saved.get(k) for k in current} if isinstance(saved, dict) else {}, current)
    if differ:
        raise ValidationError("--output", f"{output} holds an evaluation with other settings "
                                          f"({', '.join(differ[:6])}); "
                                          "pass --overwrite to replace it, or choose another directory")
