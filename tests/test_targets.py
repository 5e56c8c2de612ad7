"""T0 records as typed tasks, target option sets, and target evaluation (label guard, rank classification
with a tiny BERT classifier, generation with a tiny T5) on small synthetic records."""

import json

import pytest
from tiny_models import tiny_bert, tiny_t5

from crosstask.data.prompts import PromptEncoder
from crosstask.data.records import T0Record, TaskType
from crosstask.data.t0_tasks import option_sets, t0_typed_tasks
from crosstask.data.tasktype import LabelSpaceMode
from crosstask.evaluation import targets
from crosstask.evaluation.classifier import CandidatePrediction
from crosstask.evaluation.metrics import exact_match
from crosstask.evaluation.targets import (
    GENERATION,
    RANK_CLASSIFIER,
    RANK_GENERATOR,
    TargetPredictions,
    TargetResult,
    evaluate_target,
    example_scores,
    predict_target,
    score_target,
    summarize_targets,
)


def rec(dataset, template, index, text, *outputs, split="train", task="toy"):
    return T0Record(text, tuple(outputs), dataset, split, template, f"#{index}", task)


def pool(split: str) -> list[T0Record]:
    """yes/no (with "Yes"/"yes." variants), 3-way NLI, a free-text QA template with 12 distinct answers."""
    yes_no = [rec("glue", "yes no", i, f"Is {i} even? Answer yes or no.", out, split=split)
              for i, out in enumerate(["Yes", "no", "yes.", "No"])]
    nli = [rec("nli", "entail|pipe", i, f"Premise {i}. Hypothesis {i}. Entailment, neutral or contradiction?", out,
               split=split) for i, out in enumerate(["entailment", "neutral", "contradiction"])]
    qa = [rec("qa", "free", i, f"Who wrote book number {i}?", f"author number {i}", f"writer {i}", split=split)
          for i in range(12)]
    return yes_no + nli + qa


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from crosstask.models.backbone import load_tokenizer
    from crosstask.models.classifier import ClassifierConfig, EncoderClassifier, load_encoder
    from crosstask.models.generator import load_generator

    root = tmp_path_factory.mktemp("tiny")
    bert = tiny_bert(root / "bert")
    classifier = EncoderClassifier(load_encoder(bert), ClassifierConfig(model=bert, dropout=0.0)).eval()
    generator, tokenizer = load_generator(tiny_t5(root / "t5"))
    return {"classifier": classifier, "classifier_encoder": PromptEncoder(load_tokenizer(bert), 96),
            "generator": generator, "generator_tokenizer": tokenizer,
            "generator_encoder": PromptEncoder(tokenizer, 96)}


def test_t0_typed_tasks_one_task_per_template():
    records = pool("train")
    tasks = {t.name: t for t in t0_typed_tasks(records)}
    assert list(tasks) == ["glue|yes no", "nli|entail|pipe", "qa|free"]
    assert tasks["glue|yes no"].task_type is TaskType.CLS and tasks["glue|yes no"].labels == ("Yes", "no")
    assert tasks["nli|entail|pipe"].is_cls and len(tasks["nli|entail|pipe"].labels) == 3
    assert tasks["qa|free"].task_type is TaskType.GEN and len(tasks["qa|free"].labels) == 24
    for t in tasks.values():
        assert t.task.definition == "" and t.task.category == "T0" and t.mode is LabelSpaceMode.INSTANCES
    assert [i.id for t in tasks.values() for i in t.task.instances] == [r.uid for r in records]
    assert tasks["qa|free"].task.instances[0].outputs == ("author number 0", "writer 0")
    assert tasks["glue|yes no"].task.instances[0].input == "Is 0 even? Answer yes or no."
    assert t0_typed_tasks(records, max_cls_labels=2)[1].task_type is TaskType.GEN


def test_t0_typed_tasks_label_source_overrides():
    source = {("glue", "yes no"): ("yes", "no", "maybe"), ("qa", "free"): ("a", "b")}
    tasks = {t.name: t for t in t0_typed_tasks(pool("train"), label_source=source)}
    assert tasks["glue|yes no"].labels == ("yes", "no", "maybe") and tasks["glue|yes no"].is_cls
    assert tasks["qa|free"].labels == ("a", "b") and tasks["qa|free"].is_cls  # small given space: CLS
    assert tasks["nli|entail|pipe"].labels == () and not tasks["nli|entail|pipe"].is_cls  # no options: GEN
    assert all(t.mode is LabelSpaceMode.EXAMPLES for t in tasks.values())


def test_option_sets_only_small_templates_and_normalised():
    options = option_sets(pool("validation"))
    assert options == {("glue", "yes no"): ("Yes", "no"),
                       ("nli", "entail|pipe"): ("entailment", "neutral", "contradiction")}
    assert option_sets(pool("validation"), max_labels=24)[("qa", "free")][0] == "author number 0"
    assert ("nli", "entail|pipe") not in option_sets(pool("validation"), max_labels=2)


class Gate:
    open = False


class GuardedRecord:
    """A test record whose label raises until the gate opens; everything else is delegated."""

    def __init__(self, record: T0Record, gate: Gate):
        self._record, self._gate = record, gate

    def __getattr__(self, name):
        return getattr(self._record, name)

    @property
    def outputs(self):
        if not self._gate.open:
            raise AssertionError("a test label was read before scoring")
        return self._record.outputs


def guarded_test_set():
    gate = Gate()
    extra = rec("glue", "unseen template", 0, "A template absent from the query pool", "Yes", split="validation")
    return gate, [GuardedRecord(r, gate) for r in pool("validation")[:10] + [extra]]


def test_guard_catches_label_reads():
    gate, records = guarded_test_set()
    with pytest.raises(AssertionError):
        t0_typed_tasks(records)  # reads outputs: the guard is live
    gate.open = True
    assert len(t0_typed_tasks(records)) == 4


def test_predictions_are_made_without_reading_labels(tiny):
    gate, records = guarded_test_set()
    options = option_sets(pool("validation"))
    predicted = predict_target(records, options, classifier=tiny["classifier"],
                               classifier_encoder=tiny["classifier_encoder"])
    assert not gate.open and all(p.references == () for p in predicted.predictions[RANK_CLASSIFIER])
    with pytest.raises(AssertionError):
        score_target(predicted)  # scoring, and only scoring, reads the labels
    gate.open = True
    assert score_target(predicted).counts["rank_records"] == 7


def test_evaluate_target_scores_only_after_predicting(tiny, monkeypatch):
    gate, records = guarded_test_set()
    original = targets.score_target

    def open_then_score(predicted):
        assert not gate.open and predicted.predictions[RANK_CLASSIFIER]
        gate.open = True
        return original(predicted)

    monkeypatch.setattr(targets, "score_target", open_then_score)
    result = evaluate_target(records, option_sets(pool("validation")), name="toy", classifier=tiny["classifier"],
                             classifier_encoder=tiny["classifier_encoder"])
    assert gate.open and result.protocols == [RANK_CLASSIFIER]
    assert all(p.references for p in result.predictions[RANK_CLASSIFIER])


def test_rank_classification_with_tiny_classifier(tiny):
    records = pool("validation")[:10]  # 4 yes/no, 3 NLI, 3 free-text
    options = option_sets(pool("validation"))
    result = evaluate_target(records, options, classifier=tiny["classifier"],
                             classifier_encoder=tiny["classifier_encoder"])
    predictions = result.predictions[RANK_CLASSIFIER]
    covered = [r.uid for r in records if (r.dataset, r.template) in options]
    assert [p.id for p in predictions] == covered and len(covered) == 7
    by_id = {r.uid: r for r in records}
    for p in predictions:
        r = by_id[p.id]
        assert p.prediction in options[(r.dataset, r.template)] and p.candidates == options[(r.dataset, r.template)]
        assert p.references == r.outputs
    accuracy = result.metrics[RANK_CLASSIFIER]["accuracy"]
    manual = 100 * sum(max(exact_match(p.prediction, g) for g in by_id[p.id].outputs) for p in predictions) / 7
    assert 0 <= accuracy <= 100 and accuracy == pytest.approx(manual, abs=1e-3)
    assert result.counts == {"test": 10, "templates": 3, "generation_records": 0, "rank_records": 7,
                             "rank_templates": 2, "rank_gold_in_options": 7, "inputs_cut": 0, "inputs_checked": 7}
    assert json.loads(json.dumps(result.to_json()))["metrics"][RANK_CLASSIFIER]["accuracy"] == accuracy


def test_generation_protocol_with_tiny_t5(tiny):
    records = pool("validation")[:2] + pool("validation")[-2:]
    result = evaluate_target(records, option_sets(pool("validation")), generator=tiny["generator"],
                             generator_tokenizer=tiny["generator_tokenizer"],
                             generator_encoder=tiny["generator_encoder"], max_new_tokens=4, num_beams=2)
    assert result.protocols == [GENERATION, RANK_GENERATOR]
    em, soft = result.metrics[GENERATION]["exact_match"], result.metrics[GENERATION]["soft_exact_match"]
    assert 0 <= em <= soft <= 100
    assert result.counts["generation_records"] == 4 and result.counts["rank_records"] == 2
    assert all(p.prediction in ("Yes", "no") for p in result.predictions[RANK_GENERATOR])
    assert [p.id for p in result.predictions[GENERATION]] == [r.uid for r in records]


def test_score_target_by_hand():
    records = [rec("qa", "free", 0, "q0", "Yes, it is"), rec("qa", "free", 1, "q1", "Paris"),
               rec("glue", "yes no", 0, "q2", "No")]
    pred = lambda r, text: CandidatePrediction(r.uid, "t", "T0", text, (), (text,), ())
    predicted = TargetPredictions("toy", 3, 2, {("glue", "yes no"): ("Yes", "No")},
                                  {GENERATION: [pred(records[0], "yes"), pred(records[1], "paris."),
                                                pred(records[2], "maybe")],
                                   RANK_CLASSIFIER: [pred(records[2], "No")]},
                                  {GENERATION: records, RANK_CLASSIFIER: records[2:]}, rank_templates=1)
    result = score_target(predicted)
    assert result.metrics[GENERATION] == {"exact_match": pytest.approx(100 / 3, abs=1e-3),
                                          "soft_exact_match": pytest.approx(200 / 3, abs=1e-3)}
    assert result.metrics[RANK_CLASSIFIER] == {"accuracy": 100.0}
    misaligned = TargetPredictions("toy", 3, 2, {}, {GENERATION: [pred(records[1], "x")]}, {GENERATION: records[:1]})
    with pytest.raises(ValueError, match="aligned"):
        score_target(misaligned)


def test_generation_uses_the_recross_normalisation_by_hand():
    records = [rec("qa", "free", 0, "q0", "a dog"), rec("qa", "free", 1, "q1", "cat"), rec("qa", "free", 2, "q2", "")]
    pred = lambda r, text: CandidatePrediction(r.uid, "t", "T0", text, (), (text,), ())
    predicted = TargetPredictions("toy", 3, 1, {}, {GENERATION: [pred(records[0], "a"), pred(records[1], "The Cat."),
                                                                 pred(records[2], "")]}, {GENERATION: records})
    result = score_target(predicted)
    # "a" vs "a dog": EM 0, SoftEM 0 (the empty string never soft-matches); "The Cat." vs "cat": 1, 1;
    # "" vs "": EM 1, SoftEM 0
    assert result.metrics[GENERATION] == {"exact_match": pytest.approx(200 / 3, abs=1e-3),
                                          "soft_exact_match": pytest.approx(100 / 3, abs=1e-3)}
    rows = result.prediction_rows()
    assert example_scores(rows) == {"generation/exact_match": {records[0].uid: 0.0, records[1].uid: 1.0,
                                                               records[2].uid: 1.0},
                                    "generation/soft_exact_match": {records[0].uid: 0.0, records[1].uid: 1.0,
                                                                    records[2].uid: 0.0}}
    ranked = {RANK_CLASSIFIER: [{"id": "x", "prediction": "No", "references": ["no."]},
                                {"id": "y", "prediction": "A", "references": ["B"]}]}
    assert example_scores(ranked) == {"rank/classifier/accuracy": {"x": 1.0, "y": 0.0}}


def test_long_inputs_are_cut_in_the_middle_and_counted(tiny):
    question = "Question: is the sky blue? Answer yes or no."
    long_record = rec("glue", "yes no", 9, "Passage: " + "filler " * 300 + question, "yes", split="validation")
    records = pool("validation")[:4] + [long_record]
    options = option_sets(pool("validation"))
    predicted = predict_target(records, options, classifier=tiny["classifier"],
                               classifier_encoder=tiny["classifier_encoder"])
    assert (predicted.inputs_cut, predicted.inputs_checked) == (1, 5)
    assert targets.inputs_cut(targets.unlabeled_tasks(records, options)[0], tiny["generator_encoder"]) == 1
    from crosstask.data.prompts import candidate_segments, classifier_context_segments

    ids = tiny["classifier_encoder"].encode(classifier_context_segments("", (), (), long_record.input,
                                                                        targets.T0_PROMPT)
                                            + candidate_segments("yes"))
    decoded = tiny["classifier_encoder"].tokenizer.decode(ids, skip_special_tokens=True)
    assert "question : is the sky blue? answer yes or no." in decoded and len(ids) == 96


def test_summarize_targets_mean_by_hand():
    a = TargetResult("a", [GENERATION, RANK_CLASSIFIER],
                     {GENERATION: {"exact_match": 10.0, "soft_exact_match": 30.0},
                      RANK_CLASSIFIER: {"accuracy": 50.0}},
                     {"test": 4})
    b = TargetResult("b", [RANK_CLASSIFIER], {RANK_CLASSIFIER: {"accuracy": 70.0}}, {"test": 2})
    summary = summarize_targets({"a": a, "b": b})
    assert summary["mean"] == {"generation/exact_match": 10.0, "generation/soft_exact_match": 30.0,
                               "rank/classifier/accuracy": 60.0}
    assert summary["n_targets"]["rank/classifier/accuracy"] == 2
    assert summary["n_targets"]["generation/exact_match"] == 1
    assert summary["targets"]["b"]["counts"] == {"test": 2} and summary["targets"]["a"]["protocols"] == a.protocols
    json.dumps(summary)


def test_evaluate_target_needs_a_model():
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate_target(pool("validation"), {})
