"""The CrossEncoder reranker is trained by sentence-transformers' CrossEncoderTrainer (issue 14.8): same saved
format (a 2-way CrossEncoder), seeded, silent on stdout, no work directory left behind."""

from __future__ import annotations

import json

import pytest

from crosstask.retrieval import reranker
from crosstask.training import reranker as training

ROWS = [{"query": f"Review {i}: good?", "candidate": c, "label": int(c.startswith("Review"))}
        for i in range(6) for c in (f"Review {i + 9}: bad.", f"Premise {i}: cats.")]


def test_cross_encoder_trainer_is_seeded_silent_and_keeps_the_format(bert, tmp_path, capsys, monkeypatch):
    calls = []
    from sentence_transformers.cross_encoder import CrossEncoderTrainer

    original = CrossEncoderTrainer.train
    monkeypatch.setattr(CrossEncoderTrainer, "train", lambda self, *a, **k: calls.append(self.args) or original(
        self, *a, **k))
    pairs = [(r["query"], r["candidate"]) for r in ROWS]
    scores = []
    for run in ("a", "b"):
        out = training.train_reranker(ROWS, bert, tmp_path / run, epochs=2, batch_size=4, seed=3, lr=1e-3)
        model = reranker.load_reranker(out)
        assert model.num_labels == 2
        scores.append(reranker.pair_scores(model, pairs))
    assert (scores[0] == scores[1]).all()  # same seed, same reranker
    assert capsys.readouterr().out == ""  # no metrics dictionary printed by the library
    args = calls[0]
    assert (args.num_train_epochs, args.per_device_train_batch_size, args.learning_rate, args.seed) == (2, 4, 1e-3, 3)
    assert args.save_strategy == "no" and args.lr_scheduler_type == "constant" and args.weight_decay == 0.01
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # the trainer's work directory is gone
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    other = training.train_reranker(ROWS, bert, tmp_path / "c", epochs=2, batch_size=4, seed=4, lr=1e-3)
    assert not (reranker.pair_scores(reranker.load_reranker(other), pairs) == scores[0]).all()


def test_no_rows_is_an_error(bert, tmp_path):
    from crosstask.core.errors import CrosstaskError

    with pytest.raises(CrosstaskError, match="no reranker training rows"):
        training.train_reranker([], bert, tmp_path / "x")
