"""ReCross EM / SoftEM (the paper's SQuAD-style normalisation and empty-string rule), hand-checked;
SuperNI metrics keep their own normalisation."""

import pytest

from crosstask.evaluation.metrics import exact_match, normalize_answer
from crosstask.evaluation.recross_metrics import (
    METRIC_DEFINITIONS,
    RECROSS_NORMALIZATION,
    metric_definition,
    normalize_recross,
    recross_exact_match,
    recross_scores,
    recross_soft_match,
)


@pytest.mark.parametrize("text,expected", [
    ("The Cat.", "cat"),
    ("a", ""),                        # only an article: empty
    ("An apple, the pie!", "apple pie"),
    ("Theatre and anthem", "theatre and anthem"),  # whole words only
    ("  A\tdog \n", "dog"),
    ("a-dog", "adog"),                # punctuation is dropped before the articles
    ("", ""),
])
def test_normalize_recross(text, expected):
    assert normalize_recross(text) == expected


@pytest.mark.parametrize("prediction,gold,em,soft", [
    ("a", "a dog", 0.0, 0.0),          # "" vs "dog": SoftEM's empty-string rule
    ("The Cat.", "cat", 1.0, 1.0),
    ("", "", 1.0, 0.0),                # EM: "" == ""; SoftEM: an empty string never matches
    ("dog", "a dog", 1.0, 1.0),
    ("big dog", "dog", 0.0, 1.0),      # gold inside the prediction
    ("dog", "the big dog", 0.0, 1.0),  # prediction inside the gold
    ("cat", "dog", 0.0, 0.0),
    ("the", "an", 1.0, 0.0),           # both normalise to ""
])
def test_em_and_softem_by_hand(prediction, gold, em, soft):
    assert recross_exact_match(prediction, gold) == em
    assert recross_soft_match(prediction, gold) == soft
    assert recross_scores(prediction, [gold]) == {"exact_match": em, "soft_exact_match": soft}


def test_max_over_golds():
    assert recross_scores("a", ["a dog", "A"]) == {"exact_match": 1.0, "soft_exact_match": 0.0}
    assert recross_scores("Paris, France", ["Lyon", "paris"]) == {"exact_match": 0.0, "soft_exact_match": 1.0}
    assert recross_scores("x", []) == {"exact_match": 0.0, "soft_exact_match": 0.0}


def test_superni_normalisation_unchanged():
    assert normalize_answer("The Cat.") == "the cat" and exact_match("A cat", "cat") == 0.0


def test_every_recross_metric_has_a_definition():
    assert RECROSS_NORMALIZATION == "recross"
    assert set(METRIC_DEFINITIONS) == {"generation/soft_exact_match", "generation/exact_match",
                                       "rank/classifier/accuracy", "rank/generator/accuracy"}
    assert "articles a/an/the dropped" in metric_definition("generation/soft_exact_match")
    assert "articles kept" in metric_definition("rank/classifier/accuracy")
    assert metric_definition("other/metric") == "other/metric"
    old = metric_definition("generation/soft_exact_match", "superni")  # runs made before the paper's metric
    assert old.startswith("SoftEM, OLD crosstask definition") and "articles kept" in old
    assert metric_definition("rank/generator/accuracy", "superni") == METRIC_DEFINITIONS["rank/generator/accuracy"]
