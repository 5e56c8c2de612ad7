"""The public Python API on the demo benchmark with tiny models: Classifier / Generator (fit, save, reload with the
same scores, model cards, hub ids, push_to_hub, older layouts), crosstask.evaluate, crosstask export to a
CrossEncoder (same scores), a standalone ReCross round, and provenance from Python."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from tiny_models import tiny_bert, tiny_t5

import crosstask
from crosstask.core import provenance as provenance_module
from crosstask.core.errors import CrosstaskError

QUESTION = ("Is the sentiment of the review positive or negative?", "A moving, funny film.")
CANDIDATES = ["positive", "negative", "neutral"]


@pytest.fixture(scope="module")
def data():
    return crosstask.load_superni(demo=True, max_train_instances=4, max_test_instances=3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data):
    """(backbone path, a tiny classifier fitted for 2 steps, its save directory)."""
    root = tmp_path_factory.mktemp("api")
    backbone = tiny_bert(root / "tiny-bert")
    clf = crosstask.Classifier.from_backbone(backbone, max_length=128)
    result = clf.fit(data.train, crosstask.TrainingArguments(str(root / "run"), batch_size=4, max_steps=2,
                                                                progress=False))
    assert result.steps == 2
    clf.save_pretrained(root / "saved")
    return backbone, clf, root


def test_acceptance_trained_classifier_saved_and_reloaded_gives_the_same_scores(trained):
    backbone, clf, root = trained
    reloaded = crosstask.Classifier.from_pretrained(root / "saved")
    assert reloaded.score(*QUESTION, CANDIDATES) == pytest.approx(clf.score(*QUESTION, CANDIDATES), abs=1e-6)
    card = (root / "saved" / "README.md").read_text()
    assert backbone in card and "## Intended use" in card and "## Limits" in card and "data hash" in card
    assert "python: crosstask.api.models" in card  # the command: a Python call, not pytest's argv
    settings = json.loads((root / "saved" / "crosstask_inference.json").read_text())
    assert settings["max_length"] == 128 and settings["kind"] == "classifier" and settings["label_mode"] == "instances"
    assert settings["architecture"]["pooling"] == "mean" and settings["prompt"]["num_positive"] == 0
    assert reloaded.max_length == 128 and reloaded.settings["base_model"] == backbone
    assert (root / "saved" / "classifier_head.safetensors").is_file()
    assert "Not a model on its own" in (root / "saved" / "encoder" / "README.md").read_text()


def test_training_run_exports_load_and_carry_cards(trained):
    _, clf, root = trained
    from_run = crosstask.Classifier.from_pretrained(root / "run")  # no dev tasks: final/
    assert from_run.score(*QUESTION, CANDIDATES) == pytest.approx(clf.score(*QUESTION, CANDIDATES), abs=1e-6)
    assert (root / "run" / "final" / "README.md").is_file()
    with pytest.raises(CrosstaskError, match="holds a classifier, not a generator"):
        crosstask.Generator.from_pretrained(root / "saved")


def test_older_layout_without_inference_settings_still_loads(trained, tmp_path):
    _, clf, root = trained
    old = tmp_path / "old-run"
    shutil.copytree(root / "saved", old / "best")
    for name in ("crosstask_inference.json", "README.md", "encoder/README.md"):
        (old / "best" / name).unlink()
    (old / "run_config.json").write_text(json.dumps({"config": {"max_length": 128, "prompt": None}}))
    loaded = crosstask.load(old)
    assert isinstance(loaded, crosstask.Classifier) and loaded.max_length == 128
    assert loaded.score(*QUESTION, CANDIDATES) == pytest.approx(clf.score(*QUESTION, CANDIDATES), abs=1e-6)


def test_hub_id_loads_from_the_hub_cache_and_records_the_revision(trained, tmp_path):
    _, clf, root = trained
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny-crosstask"
    shutil.copytree(root / "saved", repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    loaded = crosstask.Classifier.from_pretrained("someone/tiny-crosstask", cache_dir=tmp_path / "hub",
                                                  local_files_only=True)
    assert loaded.revision == commit
    assert loaded.score(*QUESTION, CANDIDATES) == pytest.approx(clf.score(*QUESTION, CANDIDATES), abs=1e-6)


def test_push_to_hub_uploads_weights_settings_and_card(trained, monkeypatch):
    _, clf, _ = trained
    uploaded = {}

    class FakeApi:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, **kwargs):
            return type("Repo", (), {"repo_id": repo_id})()

        def upload_folder(self, repo_id, folder_path, **kwargs):
            uploaded[repo_id] = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*"))
            return "https://huggingface.co/" + repo_id

    monkeypatch.setattr("huggingface_hub.hub_mixin.HfApi", FakeApi)
    clf.push_to_hub("someone/tiny-crosstask")
    files = uploaded["someone/tiny-crosstask"]
    assert {"README.md", "crosstask_inference.json", "classifier_head.safetensors", "encoder/model.safetensors",
            "encoder/README.md"} <= set(files)
    assert "config.json" not in files  # no stray mixin config beside the classifier


def test_predict_and_evaluate_agree_with_score(trained, data):
    _, clf, _ = trained
    tasks = [t for t in data.test if t.is_cls][:2]
    predictions = clf.predict(tasks)
    first, task = predictions[0], tasks[0]
    instance = next(i for i in task.task.instances if i.id == first.id)
    scores = clf.score(task.task.definition, instance.input, list(first.candidates))
    assert scores == pytest.approx(list(first.scores), abs=1e-5)
    result = crosstask.evaluate(clf, tasks)
    assert result.overall["n"] == len(predictions) == sum(len(t.task.instances) for t in tasks)
    assert result.provenance["command"].startswith("python: crosstask.api.evaluate.evaluate() from test_api.py")
    assert set(result.provenance["versions"]) >= {"torch", "transformers", "sentence_transformers"}
    assert any(k.startswith("EM on 2 tasks") for k in clf.settings["results"])


@pytest.mark.parametrize("pooling", ["mean", "first"])
def test_export_cross_encoder_gives_the_same_scores(trained, pooling, tmp_path):
    from sentence_transformers import CrossEncoder

    from crosstask.api.export import export_cross_encoder
    from crosstask.models.classifier import ClassifierConfig, EncoderClassifier
    from crosstask.training.classifier import ClassifierTrainingConfig

    backbone, clf, root = trained
    if pooling == "first":  # the same encoder with first-token pooling and a random head
        torch.manual_seed(0)
        model = EncoderClassifier.from_backbone(ClassifierConfig(backbone, pooling="first")).eval()
        clf = crosstask.Classifier(model, clf.tokenizer, ClassifierTrainingConfig(model.config, max_length=128))
    out = export_cross_encoder(clf, tmp_path / "ce")
    exported = CrossEncoder(str(out), device="cpu")
    theirs = [float(exported.predict(crosstask.Classifier.render_pair(*QUESTION, c, prompt=clf.prompt),
                                     apply_softmax=True)[1]) for c in CANDIDATES]
    assert theirs == pytest.approx(clf.score(*QUESTION, CANDIDATES), abs=1e-5)
    assert "one string" in (out / "README.md").read_text()


def test_export_refuses_a_shared_context_classifier(trained, tmp_path):
    from crosstask.api.export import export_cross_encoder
    from crosstask.models.classifier import ClassifierConfig, EncoderClassifier
    from crosstask.training.classifier import ClassifierTrainingConfig

    backbone, clf, _ = trained
    model = EncoderClassifier.from_backbone(ClassifierConfig(backbone, shared_context=True))
    shared = crosstask.Classifier(model, clf.tokenizer, ClassifierTrainingConfig(model.config))
    with pytest.raises(CrosstaskError, match="no CrossEncoder equivalent"):
        export_cross_encoder(shared, tmp_path / "ce")
    assert not (tmp_path / "ce").exists()


def test_generator_fit_save_reload_predict(data, tmp_path):
    backbone = tiny_t5(tmp_path / "tiny-t5")
    gen = crosstask.Generator.from_backbone(backbone, max_length=96, max_target_length=8)
    gen.fit(data.train, crosstask.TrainingArguments(str(tmp_path / "run"), max_steps=2, progress=False))
    gen.save_pretrained(tmp_path / "saved")
    loaded = crosstask.Generator.from_pretrained(tmp_path / "saved")
    tasks = [t for t in data.test if t.is_cls][:1]
    assert [p.prediction for p in loaded.predict(tasks)] == [p.prediction for p in gen.predict(tasks)]
    assert loaded.max_length == 96 and loaded.config.model.max_target_length == 8
    assert loaded.score(*QUESTION, CANDIDATES) == pytest.approx(gen.score(*QUESTION, CANDIDATES), abs=1e-5)
    card = (tmp_path / "saved" / "README.md").read_text()
    assert backbone in card and "text2text-generation" in card
    assert isinstance(crosstask.load(tmp_path / "run"), crosstask.Generator)


def test_run_round_standalone_adapts_a_copy(trained, data):
    from crosstask.recross import AdaptConfig, run_round, t0_records

    _, clf, _ = trained
    pool = t0_records(data.train)
    queries = [i.input for i in data.test[0].task.instances]
    before = {k: v.clone() for k, v in clf.model.state_dict().items()}
    out = run_round(clf, pool, queries, "random", n=8, adapt=AdaptConfig(max_steps=1, max_length=96))
    assert len(out.retrieved.items) == 8 and out.metrics is None and out.model is not clf.model
    assert all(torch.equal(before[k], v) for k, v in clf.model.state_dict().items())  # the upstream is untouched


def test_provenance_outside_a_git_checkout_and_from_python(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance_module, "_PACKAGE", tmp_path / "crosstask")
    provenance_module.git_commit.cache_clear()
    try:
        assert provenance_module.git_commit() is None
    finally:
        provenance_module.git_commit.cache_clear()
    monkeypatch.undo()
    record = provenance_module.provenance(seed=1)
    assert record["command"].startswith("python: crosstask.core.provenance.provenance() from test_api.py")
    assert record["git_commit"] is None or len(record["git_commit"].split("+")[0]) == 40
    assert provenance_module.model_revision("/models--a--b/snapshots/" + "f" * 40) == "f" * 40
