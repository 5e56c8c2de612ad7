"""Training and evaluation end to end on the demo benchmark: tiny random BERT / T5 / BART and the
packaged default backbone; head learning rate; resume after an interrupted run."""

import json
import logging

import pytest
import torch
from tiny_models import tiny_bart, tiny_bert, tiny_t5
from transformers.utils import logging as hf_logging

from crosstask.data.benchmark import DataConfig, load_superni_data
from crosstask.evaluation.classifier import dev_evaluator
from crosstask.experiments import superni as pipeline
from crosstask.models.classifier import ClassifierConfig, EncoderClassifier
from crosstask.models.generator import GeneratorConfig
from crosstask.training import classifier as classifier_training
from crosstask.training.classifier import ClassifierTrainingConfig, train_classifier
from crosstask.training.generator import GeneratorTrainingConfig
from crosstask.training.pairs import PairConfig
from crosstask.training.trainer import TrainingArguments

DATA = DataConfig(demo=True, max_train_instances=4, max_test_instances=3, dev_tasks=2, max_dev_instances=3)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {"bert": tiny_bert(root / "bert", dropout=0.1), "t5": tiny_t5(root / "t5"),
            "bart": tiny_bart(root / "bart")}


def test_dev_tasks_come_from_the_uncapped_training_tasks():
    """--max-train-instances caps the training tasks only: each dev task keeps --max-dev-instances."""
    data = load_superni_data(DataConfig(demo=True, max_train_instances=2, dev_tasks=2, max_dev_instances=10))
    assert [len(t.task.instances) for t in data.dev] == [10, 10]
    assert {len(t.task.instances) for t in data.train} == {2}
    assert not {t.name for t in data.dev} & {t.name for t in data.train}


def test_head_learning_rate_reaches_the_optimizer(models, tmp_path):
    data = load_superni_data(DATA)
    args = TrainingArguments(str(tmp_path), lr=1e-4, head_lr=3e-3, scheduler="constant", max_steps=1, progress=False)
    result = train_classifier(data.train, ClassifierTrainingConfig(ClassifierConfig(models["bert"])), args)
    groups = {g["name"]: g for g in result.param_groups}
    assert groups["head"]["lr"] == 3e-3 and groups["head_no_decay"]["lr"] == 3e-3
    assert groups["encoder"]["lr"] == 1e-4
    model = result.model
    head_ids = {id(p) for p in model.head.parameters()}
    assert head_ids == {id(p) for g in ("head", "head_no_decay") for p in groups[g]["params"]}


@pytest.mark.parametrize("backbone", ["bert", "t5", "bart"])
def test_classifier_end_to_end_tiny(models, backbone, tmp_path):
    args = TrainingArguments(str(tmp_path / "run"), batch_size=8, max_steps=3, lr=1e-3, progress=False)
    config = ClassifierTrainingConfig(ClassifierConfig(models[backbone], pooling="mean"), PairConfig(negatives=1))
    summary = pipeline.train("classifier", DATA, config, args)
    assert summary["steps"] == 3 and (tmp_path / "run" / "best" / "classifier_head.safetensors").exists()
    report = pipeline.evaluate(DATA, tmp_path / "eval", classifier=str(tmp_path / "run"),
                               options=pipeline.EvalOptions(scope="cls"))
    cls_tasks = report["n_cls_tasks"]
    assert report["metrics"]["cls/classifier"]["overall"]["n"] == cls_tasks * 3
    rows = [json.loads(line) for line in (tmp_path / "eval" / "predictions-cls-classifier.jsonl").open()]
    assert len(rows) == cls_tasks * 3
    assert all(r["prediction"] in r["candidates"] and len(r["scores"]) == len(r["candidates"]) for r in rows)
    assert all(0.0 <= s <= 1.0 for r in rows for s in r["scores"])


@pytest.mark.parametrize("backbone", ["t5", "bart"])
def test_generator_end_to_end_tiny(models, backbone, tmp_path):
    args = TrainingArguments(str(tmp_path / "run"), batch_size=8, max_steps=3, lr=1e-3, progress=False)
    config = GeneratorTrainingConfig(GeneratorConfig(models[backbone], max_source_length=128, max_target_length=8),
                                     mix_gen=True)
    summary = pipeline.train("generator", DATA, config, args)
    assert summary["steps"] == 3
    report = pipeline.evaluate(DATA, tmp_path / "eval", generator=str(tmp_path / "run"),
                               options=pipeline.EvalOptions(max_new_tokens=4, n_best=2))
    metrics = report["metrics"]
    n_cls, n_gen = report["n_cls_tasks"] * 3, report["n_gen_tasks"] * 3
    assert metrics["cls/generator"]["overall"]["n"] == n_cls
    assert metrics["cls/fair_generator"]["overall"]["n"] == n_cls
    assert metrics["gen/generator_beam"]["overall"]["n"] == metrics["gen/generator"]["overall"]["n"] == n_gen
    assert metrics["all/generator"]["overall"]["n"] == n_cls + n_gen
    assert "all/combined" not in metrics  # a combined score needs the classifier
    assert set(k for k in metrics if k.startswith(("gen/baseline", "all/baseline"))) == {
        f"{scope}/baseline:{name}" for scope in ("gen", "all") for name in ("copy_input", "first_demo_output")}
    assert metrics["all/baseline:copy_input"]["overall"]["n"] == n_cls + n_gen
    fair = [json.loads(line) for line in (tmp_path / "eval" / "predictions-cls-fair_generator.jsonl").open()]
    # the fair generator predicts from the label space, so its prediction is one of the candidates
    assert all(r["prediction"] == r["candidates"][r["scores"].index(max(r["scores"]))] for r in fair)


@pytest.mark.slow
def test_default_backbone_classifier_and_generator_with_rerank(tmp_path):
    data = DataConfig(demo=True, max_train_instances=2, max_test_instances=2, dev_tasks=1, max_dev_instances=2)
    args = TrainingArguments(str(tmp_path / "cls"), batch_size=8, max_steps=2, progress=False)
    pipeline.train("classifier", data, ClassifierTrainingConfig(ClassifierConfig("default"), max_length=96), args)
    args = TrainingArguments(str(tmp_path / "gen"), batch_size=8, max_steps=2, lr=1e-4, progress=False)
    pipeline.train("generator", data, GeneratorTrainingConfig(GeneratorConfig("default", max_source_length=96,
                                                                              max_target_length=8)), args)
    report = pipeline.evaluate(data, tmp_path / "eval", classifier=str(tmp_path / "cls"),
                               generator=str(tmp_path / "gen"),
                               options=pipeline.EvalOptions(max_length=96, max_new_tokens=4, n_best=2))
    metrics = report["metrics"]
    assert metrics["gen/generator_reranked"]["overall"]["n"] == metrics["gen/generator_beam"]["overall"]["n"] > 0
    assert metrics["all/combined"]["overall"]["n"] == (report["n_cls_tasks"] + report["n_gen_tasks"]) * 2
    cls_em, n_cls = metrics["cls/classifier"]["overall"]["exact_match"], metrics["cls/classifier"]["overall"]["n"]
    gen_em, n_gen = (metrics["gen/generator_reranked"]["overall"][k] for k in ("exact_match", "n"))
    # the combined scores are instance-weighted means of their two halves
    assert metrics["all/combined+reranked"]["overall"]["exact_match"] == pytest.approx(
        (cls_em * n_cls + gen_em * n_gen) / (n_cls + n_gen), abs=0.011)
    reranked = [json.loads(line) for line in (tmp_path / "eval" / "predictions-gen-generator_reranked.jsonl").open()]
    beam_file = tmp_path / "eval" / "predictions-gen-generator_beam.jsonl"
    beams = {json.loads(line)["id"]: json.loads(line) for line in beam_file.open()}
    assert all(r["candidates"] == beams[r["id"]]["candidates"] for r in reranked)
    assert all(r["prediction"] in r["candidates"] for r in reranked)
    assert (tmp_path / "eval" / "results.md").read_text().count("|") > 10


def _train_resumable(models, output, resume=False):
    data = load_superni_data(DATA)
    args = TrainingArguments(str(output), epochs=2, batch_size=8, save_every=3, lr=5e-4, log_every=1, resume=resume,
                             progress=False)
    config = ClassifierTrainingConfig(ClassifierConfig(models["bert"], dropout=0.1), PairConfig(negatives=1))
    return train_classifier(data.train, config, args, dev_eval=dev_evaluator(data.dev, config.prompt))


def test_resume_after_interruption_matches_uninterrupted_run(models, tmp_path, monkeypatch):
    full = _train_resumable(models, tmp_path / "full")
    calls = {"n": 0}
    real_loss = classifier_training.classifier_loss

    def dying_loss(model, batch):
        calls["n"] += 1
        if calls["n"] == 8:  # the process "dies" during step 8; the last checkpoint is step 6
            raise KeyboardInterrupt
        return real_loss(model, batch)

    monkeypatch.setattr(classifier_training, "classifier_loss", dying_loss)
    with pytest.raises(KeyboardInterrupt):
        _train_resumable(models, tmp_path / "cut")
    monkeypatch.setattr(classifier_training, "classifier_loss", real_loss)
    saved = sorted(int(p.name.split("-")[1]) for p in (tmp_path / "cut").glob("checkpoint-*"))
    assert saved and saved[-1] < 8 and len(saved) <= 2  # died in step 8; at most keep_checkpoints kept
    resumed = _train_resumable(models, tmp_path / "cut", resume=True)
    assert resumed.steps == full.steps > 8
    # the resumed run restores the log up to its checkpoint, then must reproduce every later step
    losses = lambda r: [(e["step"], e["loss"]) for e in r.log if "loss" in e]
    assert [s for s, _ in losses(resumed)] == [s for s, _ in losses(full)]
    assert [l for _, l in losses(resumed)] == pytest.approx([l for _, l in losses(full)], rel=1e-5)
    assert resumed.best_dev == full.best_dev
    a = EncoderClassifier.from_pretrained(tmp_path / "full" / "final").head.weight
    b = EncoderClassifier.from_pretrained(tmp_path / "cut" / "final").head.weight
    assert torch.allclose(a, b, atol=1e-6)


def test_keep_no_checkpoints_writes_only_the_final_model(models, tmp_path):
    data = load_superni_data(DATA)
    args = TrainingArguments(str(tmp_path), epochs=2, batch_size=8, save_every=3, lr=5e-4, keep_checkpoints=0,
                             progress=False)
    config = ClassifierTrainingConfig(ClassifierConfig(models["bert"]), PairConfig(negatives=1))
    summary = train_classifier(data.train, config, args)
    assert summary.steps > 3 and not list(tmp_path.glob("checkpoint-*"))
    assert (tmp_path / "final" / "classifier_head.safetensors").is_file()
    assert (tmp_path / "trainer_state.json").is_file()


def test_shared_context_classifier_trains_and_evaluates(models, tmp_path):
    from crosstask.core.errors import CrosstaskError

    args = TrainingArguments(str(tmp_path / "run"), batch_size=4, max_steps=3, lr=1e-3, progress=False)
    config = ClassifierTrainingConfig(ClassifierConfig(models["bert"], dropout=0.0, shared_context=True),
                                      PairConfig(negatives=1))
    summary = pipeline.train("classifier", DATA, config, args)
    assert summary["steps"] == 3
    model = EncoderClassifier.from_pretrained(tmp_path / "run" / "final")
    assert model.config.shared_context  # the variant is saved with the model and used to evaluate it
    report = pipeline.evaluate(DATA, tmp_path / "eval", classifier=str(tmp_path / "run"),
                               options=pipeline.EvalOptions(scope="cls"))
    rows = [json.loads(line) for line in (tmp_path / "eval" / "predictions-cls-classifier.jsonl").open()]
    assert len(rows) == report["n_cls_tasks"] * 3 and all(r["prediction"] in r["candidates"] for r in rows)
    t5 = ClassifierTrainingConfig(ClassifierConfig(models["t5"], shared_context=True))
    with pytest.raises(CrosstaskError, match="shared context"):
        pipeline.train("classifier", DATA, t5, TrainingArguments(str(tmp_path / "t5"), max_steps=1, progress=False))


def test_saved_encoder_reloads_without_a_newly_initialised_pooler(models, tmp_path):
    from transformers import AutoModel, DistilBertConfig, DistilBertModel

    from crosstask.models.backbone import load_tokenizer
    from crosstask.models.classifier import ENCODER_DIR, load_encoder, saved_without_pooler

    assert not saved_without_pooler(models["bert"])  # a BERT checkpoint with its pooler
    model = EncoderClassifier.from_backbone(ClassifierConfig(models["bert"]))
    model.save_pretrained(tmp_path / "saved", load_tokenizer(models["bert"]))
    assert saved_without_pooler(tmp_path / "saved" / ENCODER_DIR)  # crosstask pools itself and saves none
    records: list[logging.LogRecord] = []
    handler, logger, level = logging.Handler(), logging.getLogger("transformers"), hf_logging.get_verbosity()
    handler.emit = records.append
    logger.addHandler(handler)
    hf_logging.set_verbosity_warning()  # the CLI tests set it to error
    try:
        encoder = load_encoder(str(tmp_path / "saved" / ENCODER_DIR))
        assert encoder.pooler is None and not records
        AutoModel.from_pretrained(str(tmp_path / "saved" / ENCODER_DIR))  # the report load_encoder avoids
    finally:
        logger.removeHandler(handler)
        hf_logging.set_verbosity(level)
    report = records[0].getMessage()
    assert len(records) == 1 and "pooler.dense.weight" in report and "MISSING" in report
    DistilBertModel(DistilBertConfig(vocab_size=100, dim=16, n_layers=1, n_heads=2, hidden_dim=32)).save_pretrained(
        tmp_path / "distil")  # no pooler and no add_pooling_layer option: loaded as it is
    assert saved_without_pooler(tmp_path / "distil")
    assert type(load_encoder(str(tmp_path / "distil"))).__name__ == "DistilBertModel"
