"""lm-eval-style evaluation outputs (issue 14.6): prediction rows carry the rendered prompt and their own metrics;
metrics.json carries bootstrap standard errors per system."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from crosstask.data.benchmark import DataConfig
from crosstask.data.prompts import PromptConfig
from crosstask.data.records import Example, Instance, Task
from crosstask.data.tasktype import LabelSpaceMode, TaskType, TypedTask
from crosstask.evaluation.classifier import CandidatePrediction
from crosstask.evaluation.metrics import ScoredPrediction, aggregate, bootstrap_stderr
from crosstask.evaluation.tables import metrics_table
from crosstask.experiments import superni as pipeline


def test_bootstrap_stderr_exact_values():
    assert bootstrap_stderr([1, 0, 1, 1, 0, 0, 1, 0]) == 17.3994  # seed 1234, 1000 resamples
    assert bootstrap_stderr([1.0, 0.5, 0.0]) == 23.8262
    assert bootstrap_stderr([1, 0, 1, 1, 0, 0, 1, 0], seed=0) != 17.3994  # the seed is the only randomness
    assert bootstrap_stderr([1, 1, 1, 1]) == 0.0
    assert bootstrap_stderr([1]) is None and bootstrap_stderr([]) is None
    assert bootstrap_stderr([0.0, 1.0], scale=1.0) == round(bootstrap_stderr([0.0, 1.0]) / 100, 4)
    with pytest.raises(ValueError):
        bootstrap_stderr([0, 1], n_boot=1)


def test_bootstrap_stderr_is_the_sd_of_resampled_means():
    values = np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=float)
    picks = np.random.default_rng(1234).integers(0, 8, size=(1000, 8))
    assert bootstrap_stderr(values) == round(float(values[picks].mean(axis=1).std(ddof=1) * 100), 4)
    # and close to the analytic standard error of a mean of 0/1 values on many instances
    many = np.random.default_rng(0).integers(0, 2, 2000).astype(float)
    analytic = 100 * math.sqrt(many.mean() * (1 - many.mean()) / len(many))
    assert bootstrap_stderr(many) == pytest.approx(analytic, rel=0.05)


ITEMS = [ScoredPrediction("1", "t1", "Textual Entailment", "yes", ("Yes",)),
         ScoredPrediction("2", "t1", "Textual Entailment", "no", ("Yes",)),
         ScoredPrediction("3", "t2", "Word Analogy", "b a", ("a b",)),
         ScoredPrediction("4", "t2", "Word Analogy", "cat", ("dog", "cat"))]


def test_aggregate_with_stderr():
    plain = aggregate(ITEMS)
    result = aggregate(ITEMS, stderr=True)
    assert result["overall"] == {"exact_match": 50.0, "rougeL": 62.5, "exact_match_stderr": bootstrap_stderr(
        [1, 0, 0, 1]), "rougeL_stderr": bootstrap_stderr([1, 0, 0.5, 1]), "n": 4}
    assert result["overall"]["exact_match_stderr"] == 25.6951
    assert result["per_task"] == plain["per_task"] and result["per_category"] == plain["per_category"]
    given = [{"exact_match": 1.0, "rougeL": 1.0}, {"exact_match": 0.0, "rougeL": 0.0},
             {"exact_match": 0.0, "rougeL": 0.5}, {"exact_match": 1.0, "rougeL": 1.0}]
    assert aggregate(ITEMS, scores=given, stderr=True) == result  # precomputed row scores give the same


def test_prediction_rows_carry_prompt_and_row_metrics():
    preds = [CandidatePrediction("3", "t2", "Word Analogy", "b a", ("a b",), ("b a", "c"), (0.7, 0.3)),
             CandidatePrediction("4", "t2", "Word Analogy", "cat", ("dog", "cat"), (), ())]
    rows = pipeline._prediction_rows(preds, {("t2", "3"): "Definition: x.\n\nInput: q."})
    assert rows[0] == {"id": "3", "task": "t2", "category": "Word Analogy", "prompt": "Definition: x.\n\nInput: q.",
                       "prediction": "b a", "references": ["a b"], "candidates": ["b a", "c"], "scores": [0.7, 0.3],
                       "exact_match": 0.0, "rougeL": 0.5}
    assert rows[1]["prompt"] is None and rows[1]["exact_match"] == 1.0 and rows[1]["rougeL"] == 1.0


def _task():
    task = Task(name="task1", definition="Answer yes or no", categories=("Textual Entailment",),
                positive_examples=(Example("Is water wet", "yes", "It is."),), negative_examples=(),
                instances=(Instance("task1-0", "Is it raining", ("yes",)),))
    return TypedTask(task, TaskType.CLS, ("yes", "no"), LabelSpaceMode.INSTANCES)


def test_rendered_prompts_exact_text():
    task = _task()
    prompt = PromptConfig(num_positive=1)
    assert pipeline.rendered_prompts([task], prompt, "generator") == {("task1", "task1-0"): (
        "Definition: Answer yes or no.\n\nPositive Example 1 -\nInput: Is water wet.\nOutput: yes.\n\n"
        "Now complete the following example -\nInput: Is it raining.\nOutput: ")}
    assert pipeline.rendered_prompts([task], PromptConfig(), "classifier") == {("task1", "task1-0"): (
        "Definition: Answer yes or no.\n\nInput: Is it raining.")}


def test_metrics_table_shows_stderr():
    overall = {"exact_match": 50.0, "rougeL": 62.5, "exact_match_stderr": 24.9399, "rougeL_stderr": None, "n": 4}
    table = metrics_table({"classifier": {"overall": overall, "per_category": {}}}, per_category=False)
    assert "| classifier | 50.00 ± 24.94 | 62.50 | 4 |" in table


def test_evaluation_writes_prompts_row_metrics_and_stderr(saved_models, tmp_path):
    data = DataConfig(demo=True, max_test_instances=3)
    report = pipeline.evaluate(data, tmp_path / "eval", classifier=str(saved_models["classifier"]),
                               options=pipeline.EvalOptions(scope="cls"))
    assert report["stderr"] == {"method": "bootstrap", "resamples": 1000, "seed": 1234}
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    for system, metrics in saved["metrics"].items():
        assert {"exact_match_stderr", "rougeL_stderr"} <= set(metrics["overall"]), system
    rows = [json.loads(line) for line in (tmp_path / "eval" / "predictions-cls-classifier.jsonl").open()]
    assert rows and all(r["prompt"].startswith("Definition: ") and "\nInput: " in r["prompt"] for r in rows)
    assert all(r["exact_match"] in (0.0, 1.0) and 0.0 <= r["rougeL"] <= 1.0 for r in rows)
    overall = saved["metrics"]["cls/classifier"]["overall"]
    assert overall["exact_match"] == pytest.approx(100 * sum(r["exact_match"] for r in rows) / len(rows), abs=1e-4)
    assert overall["exact_match_stderr"] == bootstrap_stderr([r["exact_match"] for r in rows])
    assert "±" in (tmp_path / "eval" / "results.md").read_text()
