"""The siamese classifier architecture: context and candidate pooled in separate passes of one encoder, a linear
head on [u, v, u*v, |u-v|]; its features, scoring (each context and candidate encoded once, equal to the
per-pair forward), training, save / reload, the API, the ReCross adaptation path and the refusals."""

from __future__ import annotations

import pytest
import torch

import crosstask
from crosstask.core.errors import CrosstaskError
from crosstask.data.prompts import PromptConfig, PromptEncoder, candidate_alone_segments, classifier_context_segments
from crosstask.models.backbone import load_tokenizer
from crosstask.models.classifier import ClassifierConfig, EncoderClassifier
from crosstask.models.shared_context import CandidateScorer, ScoringInstance
from crosstask.training.classifier import ClassifierTrainingConfig, classifier_loss, encode_pairs
from crosstask.training.collators import siamese_collator
from crosstask.training.pairs import PairConfig, build_pairs

DEFINITION = "Is the sentiment of the review positive or negative?"


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("default")


@pytest.fixture
def model(bert):
    torch.manual_seed(0)
    return EncoderClassifier.from_backbone(ClassifierConfig(bert, dropout=0.0, siamese=True)).eval()


@pytest.fixture(scope="module")
def data():
    return crosstask.load_superni(demo=True, max_train_instances=2, max_test_instances=2)


def test_config_refuses_siamese_with_shared_context():
    with pytest.raises(CrosstaskError, match="either siamese or shared-context"):
        ClassifierConfig(siamese=True, shared_context=True)
    assert ClassifierConfig(siamese=True).architecture()["head"] == "linear(2) on [u, v, u*v, |u-v|]"
    assert ClassifierConfig().architecture()["head"] == "linear(2)"


def test_head_reads_the_interaction_features_and_needs_a_candidate(model):
    assert (model.head.in_features, model.head.out_features) == (4 * 32, 2)
    context, candidate = torch.tensor([[101, 7592, 2088, 2003, 102]]), torch.tensor([[101, 2748, 102]])
    ones_c, ones_v = torch.ones_like(context), torch.ones_like(candidate)
    with pytest.raises(CrosstaskError, match="candidate_ids"):
        model(context, ones_c)
    with torch.no_grad():
        u = model.encoder(input_ids=context).last_hidden_state.mean(1)  # mean pooling, no padding
        v = model.encoder(input_ids=candidate).last_hidden_state.mean(1)
        expected = model.head(torch.cat([u, v, u * v, (u - v).abs()], -1))
        assert torch.allclose(model(context, ones_c, candidate, ones_v), expected, atol=1e-6)
        # the context never sees the candidate: its embedding is the same against any candidate
        assert torch.allclose(model.embed(context, ones_c), u, atol=1e-6)


def test_scorer_encodes_each_context_and_candidate_once_and_equals_the_pair_forward(model, tokenizer):
    encoder = PromptEncoder(tokenizer, 64)
    texts = ("Great.", "A long, winding and in the end rather moving story about two brothers at sea.")
    instances = [ScoringInstance(classifier_context_segments(DEFINITION, [], [], t), ["positive", "negative"])
                 for t in texts] + [ScoringInstance(classifier_context_segments(DEFINITION, [], [], "Dull."),
                                                    ["negative", "neutral"])]
    rows = []
    hook = model.encoder.register_forward_hook(lambda m, args, kwargs, out: rows.append(len(kwargs["input_ids"])),
                                               with_kwargs=True)
    try:
        scores = CandidateScorer(model, encoder).score(instances)
    finally:
        hook.remove()
    assert sum(rows) == 3 + 3  # 3 contexts, 3 distinct candidates: 6 pair scores from 6 encoded sequences
    assert [len(s) for s in scores] == [2, 2, 2]
    with torch.no_grad():
        for instance, row in zip(instances, scores):
            context = torch.tensor([encoder.encode(instance.context)])
            for candidate, score in zip(instance.candidates, row):
                ids = torch.tensor([encoder.encode(candidate_alone_segments(candidate))])
                logits = model(context, torch.ones_like(context), ids, torch.ones_like(ids))
                assert score == pytest.approx(torch.softmax(logits, -1)[0, 1].item(), abs=1e-6)


def test_instance_features_and_collator(data, tokenizer):
    """One feature per instance (its context once, all its candidates); the collator encodes each distinct
    candidate of the batch once and maps every pair to its rows."""
    encoder, prompt = PromptEncoder(tokenizer, 96), PromptConfig()
    tasks = [t for t in data.train if t.is_cls][:2]
    pairs = build_pairs(tasks, PairConfig(negatives=1))
    features = encode_pairs(pairs, tasks, encoder, prompt, siamese=True)
    instances = list(dict.fromkeys((p.task, p.instance_id) for p in pairs))
    assert len(features) == len(instances) and sum(len(f["labels"]) for f in features) == len(pairs)
    task, instance = tasks[0].task, tasks[0].task.instances[0]
    own = [p for p in pairs if (p.task, p.instance_id) == (tasks[0].name, instance.id)]
    assert features[0]["input_ids"] == encoder.encode(classifier_context_segments(
        task.definition, task.positive_examples, task.negative_examples, instance.input, prompt))
    assert features[0]["candidate_ids"] == [encoder.encode(candidate_alone_segments(p.candidate)) for p in own]
    assert features[0]["labels"] == [p.label for p in own]
    batch = siamese_collator(tokenizer)(features)
    flat = [c for f in features for c in f["candidate_ids"]]
    distinct = list(dict.fromkeys(tuple(c) for c in flat))
    assert batch["candidate_ids"].shape == (len(distinct), max(len(c) for c in distinct))
    assert batch["attention_mask"].sum(1).tolist() == [len(f["input_ids"]) for f in features]
    assert batch["context_index"].tolist() == [row for row, f in enumerate(features) for _ in f["labels"]]
    assert [distinct[i] for i in batch["candidate_index"].tolist()] == [tuple(c) for c in flat]
    assert batch["labels"].tolist() == [label for f in features for label in f["labels"]]


def test_indexed_forward_equals_the_per_pair_forward(model, data, tokenizer):
    tasks = [t for t in data.train if t.is_cls][:2]
    features = encode_pairs(build_pairs(tasks, PairConfig(negatives=1)), tasks, PromptEncoder(tokenizer, 96),
                            PromptConfig(), siamese=True)
    batch = siamese_collator(tokenizer)(features)
    with torch.no_grad():
        indexed = model(batch["input_ids"], batch["attention_mask"], batch["candidate_ids"],
                        batch["candidate_attention_mask"], batch["context_index"], batch["candidate_index"])
        alone = []
        for f in features:
            context = torch.tensor([f["input_ids"]])
            for candidate in f["candidate_ids"]:
                ids = torch.tensor([candidate])
                alone.append(model(context, torch.ones_like(context), ids, torch.ones_like(ids))[0])
    assert torch.allclose(indexed, torch.stack(alone), atol=1e-5)


def test_tiny_siamese_classifier_fits_its_pairs(model, data, tokenizer):
    """Both towers and the head get gradients: a tiny random BERT overfits a handful of pairs."""
    tasks = [t for t in data.train if t.is_cls][:2]
    pairs = build_pairs(tasks, PairConfig(negatives=1))
    batch = siamese_collator(tokenizer)(encode_pairs(pairs, tasks, PromptEncoder(tokenizer, 96), PromptConfig(),
                                                     siamese=True))
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    first = None
    for _ in range(60):
        loss = classifier_loss(model, batch)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(batch["input_ids"], batch["attention_mask"], batch["candidate_ids"],
                       batch["candidate_attention_mask"], batch["context_index"], batch["candidate_index"])
    assert loss.item() < 0.1 < first
    assert logits.argmax(-1).tolist() == batch["labels"].tolist()


def test_api_fit_save_reload_predict_and_export_refusal(bert, data, tmp_path):
    from crosstask.api.export import export_cross_encoder

    clf = crosstask.Classifier.from_backbone(bert, max_length=96, siamese=True)
    result = clf.fit(data.train, crosstask.TrainingArguments(str(tmp_path / "run"), batch_size=1, max_steps=2,
                                                                progress=False))
    assert result.steps == 2
    clf.save_pretrained(tmp_path / "saved")
    loaded = crosstask.Classifier.from_pretrained(tmp_path / "saved")
    assert loaded.model.config.siamese and loaded.model.head.in_features == 4 * 32
    question = (DEFINITION, "A moving, funny film.", ["positive", "negative", "neutral"])
    assert loaded.score(*question) == pytest.approx(clf.score(*question), abs=1e-6)
    predictions = loaded.predict(data.test[:2])
    assert all(p.prediction in p.candidates and len(p.scores) == len(p.candidates) for p in predictions)
    assert "u*v" in (tmp_path / "saved" / "README.md").read_text()  # the card names the architecture
    with pytest.raises(CrosstaskError, match="siamese classifier has no CrossEncoder equivalent"):
        export_cross_encoder(loaded, tmp_path / "ce")
    assert not (tmp_path / "ce").exists()


def test_recross_round_adapts_a_siamese_upstream(bert, data):
    from crosstask.recross import AdaptConfig, run_round, t0_records

    model = EncoderClassifier.from_backbone(ClassifierConfig(bert, siamese=True))
    clf = crosstask.Classifier(model, load_tokenizer(bert), ClassifierTrainingConfig(model.config, max_length=96))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = run_round(clf, t0_records(data.train), [i.input for i in data.test[0].task.instances], "random", n=8,
                    adapt=AdaptConfig(max_steps=1, max_length=96))
    assert out.model.config.siamese and out.model is not model
    assert any(not torch.equal(before[k], v) for k, v in out.model.state_dict().items())  # it was trained
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the upstream is untouched
