"""Metric fixtures; expected values worked out by hand (LCS / token counts in the comments)."""

import pytest

from crosstask.evaluation.metrics import (
    ScoredPrediction,
    aggregate,
    exact_match,
    max_over_references,
    normalize_answer,
    rouge1,
    rouge_l,
    score_instance,
    soft_exact_match,
)


@pytest.mark.parametrize("text,expected", [
    ("Hello, World!", "hello world"),
    ("  Yes.  ", "yes"),
    ("The   cat\tsat\n", "the cat sat"),  # articles are kept, whitespace collapsed
    ("e.g. (a)", "eg a"),
    ("", ""),
])
def test_normalize(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match_ignores_case_and_punctuation_but_not_articles():
    assert exact_match("Yes.", "yes") == 1.0
    assert exact_match("A cat", "cat") == 0.0
    assert exact_match("", "no") == 0.0


def test_rouge_l_hand_computed():
    # "the cat sat on the mat" vs "the cat is on the mat": LCS = 5 of 6 tokens each -> F = 5/6
    assert rouge_l("The cat sat on the mat.", "the cat is on the mat") == pytest.approx(5 / 6)
    # order matters for ROUGE-L (LCS 1 of 2: P = R = 1/2) but not for ROUGE-1 (2 of 2 unigrams)
    assert rouge_l("b a", "a b") == pytest.approx(0.5)
    assert rouge1("b a", "a b") == pytest.approx(1.0)
    # "a cat" vs "cat": P = 1/2, R = 1 -> F = 2/3
    assert rouge_l("a cat", "cat") == pytest.approx(2 / 3)


def test_rouge_uses_porter_stemmer():
    assert rouge_l("running dogs", "run dog") == pytest.approx(1.0)


def test_empty_prediction_scores_zero():
    assert rouge_l("", "some words") == 0.0
    assert score_instance("", ["no", "yes"]) == {"exact_match": 0.0, "rougeL": 0.0}


def test_max_over_references():
    assert score_instance("Yes", ["No", "Yes."]) == {"exact_match": 1.0, "rougeL": 1.0}
    # best reference for ROUGE-L is the second: "big red dog" vs "red dog" -> P 2/3, R 1 -> F 0.8
    assert max_over_references(rouge_l, "big red dog", ["cat", "red dog"]) == pytest.approx(0.8)
    with pytest.raises(ValueError):
        max_over_references(exact_match, "x", [])


@pytest.mark.parametrize("prediction,reference,expected", [
    ("Paris", "Paris, France", 1.0),  # prediction inside the reference
    ("the answer is paris", "Paris", 1.0),  # reference inside the prediction
    ("Lyon", "Paris", 0.0),
    ("", "Paris", 0.0),
])
def test_soft_exact_match(prediction, reference, expected):
    assert soft_exact_match(prediction, reference) == expected


def test_aggregate_overall_per_task_per_category():
    items = [
        ScoredPrediction("1", "t1", "Textual Entailment", "yes", ("Yes",)),
        ScoredPrediction("2", "t1", "Textual Entailment", "no", ("Yes",)),
        ScoredPrediction("3", "t2", "Word Analogy", "b a", ("a b",)),
        ScoredPrediction("4", "t2", "Word Analogy", "cat", ("dog", "cat")),
    ]
    result = aggregate(items)
    # EM: 1, 0, 0, 1 -> 50; ROUGE-L: 1, 0, 0.5, 1 -> 62.5
    assert result["overall"] == {"exact_match": 50.0, "rougeL": 62.5, "n": 4}
    assert result["per_task"]["t1"] == {"exact_match": 50.0, "rougeL": 50.0, "n": 2}
    assert result["per_task"]["t2"] == {"exact_match": 50.0, "rougeL": 75.0, "n": 2}
    assert set(result["per_category"]) == {"Textual Entailment", "Word Analogy"}
    assert result["per_category"]["Word Analogy"]["rougeL"] == 75.0
