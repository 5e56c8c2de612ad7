"""The shared-context reranker: one candidate, all its queries in one pass, against per-pair scoring with
the same mask; training, saving, loading through `load_reranker`, and reranking with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import tiny_bert, tiny_t5

from crosstask.core.errors import CrosstaskError
from crosstask.models.backbone import load_tokenizer
from crosstask.models.classifier import ClassifierConfig, EncoderClassifier
from crosstask.models.shared_context import ScoringInstance, score_pairs_same_mask
from crosstask.models.shared_reranker import MARKER, SharedContextReranker, candidate_context
from crosstask.retrieval.reranker import load_reranker, rerank
from crosstask.retrieval.retrievers import RetrievedItem, RetrievedSet
from crosstask.training.reranker import train_shared_reranker

CANDIDATES = ["The movie was great, I loved every minute of it.", "Paris is the capital of France.",
              "A cat sat on the mat while the rain fell outside the old wooden house."]
QUERIES = ["Is this review positive?", "What is the capital of Italy? Rome, Milan or Turin.",
           "Summarise: the weather today is cold and windy with some rain expected later in the evening."]


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> str:
    return tiny_bert(tmp_path_factory.mktemp("bert"))


def _reranker(path: str, max_length: int = 96) -> SharedContextReranker:
    torch.manual_seed(0)
    model = EncoderClassifier.from_backbone(ClassifierConfig(path, shared_context=True))
    return SharedContextReranker(model, load_tokenizer(path), max_length)


def test_predict_equals_per_pair_scores_with_the_same_mask(bert_dir):
    reranker = _reranker(bert_dir, max_length=48)  # short: long queries keep their end, contexts are cut
    # candidates with 3, 1 and 2 queries, interleaved as rerank never does: order must not matter
    pairs = [(QUERIES[0], CANDIDATES[0]), (QUERIES[1], CANDIDATES[1]), (QUERIES[2], CANDIDATES[0]),
             (QUERIES[1], CANDIDATES[0]), (QUERIES[2], CANDIDATES[2]), (QUERIES[0], CANDIDATES[2])]
    got = reranker.predict(pairs)
    assert got.shape == (6,) and np.all((got > 0) & (got < 1))
    enc, scorer = reranker.scorer.encoder, reranker.scorer
    for (query, candidate), value in zip(pairs, got):
        queries = [q for q, c in pairs if c == candidate]
        context, tails = scorer.encode_instance(ScoringInstance(candidate_context(candidate), queries))
        assert len(enc.prefix) + len(context) + max(map(len, tails)) + len(enc.suffix) <= 48
        reference = score_pairs_same_mask(reranker.model, context, [tails[queries.index(query)]], enc.prefix,
                                          enc.suffix)
        assert value == pytest.approx(reference[0], abs=1e-5)
    assert reranker.predict([]).shape == (0,)


def test_train_save_load_and_rerank(bert_dir, tmp_path):
    rows = [{"query": q, "candidate": c, "label": int(k == 1)} for k, c in enumerate(CANDIDATES) for q in QUERIES]
    out = train_shared_reranker(rows, bert_dir, tmp_path / "rr", epochs=2, batch_size=2, max_length=64)
    assert (out / MARKER).exists() and not (tmp_path / ".rr.work").exists()
    loaded = load_reranker(out, 64)
    assert isinstance(loaded, SharedContextReranker) and loaded.model.config.shared_context
    before = _reranker(bert_dir, 64).predict([(QUERIES[0], CANDIDATES[0])])
    assert not np.allclose(loaded.predict([(QUERIES[0], CANDIDATES[0])]), before)  # it trained
    pool = [type("R", (), {"input": c, "uid": f"u{k}"})() for k, c in enumerate(CANDIDATES)]
    retrieved = RetrievedSet([RetrievedItem(k, f"u{k}", 0.0) for k in range(3)], "dense")
    kept = rerank(loaded, QUERIES[:2], retrieved, pool, 2)
    means = loaded.predict([(q, c) for c in CANDIDATES for q in QUERIES[:2]]).reshape(3, 2).mean(1)
    assert kept.indices == list(np.argsort(-means, kind="stable")[:2])
    assert [it.score for it in kept.items] == pytest.approx(sorted(means, reverse=True)[:2])


def test_backbone_without_custom_masks_is_refused(tmp_path):
    with pytest.warns(RuntimeWarning, match="falling back"), pytest.raises(CrosstaskError, match="CrossEncoder"):
        train_shared_reranker([{"query": "q", "candidate": "c", "label": 1}], tiny_t5(tmp_path / "t5"),
                              tmp_path / "rr")


def test_cli_trains_the_shared_context_reranker(bert_dir, tmp_path, capsys):
    from crosstask.cli import main
    from crosstask.core.io import atomic_write_jsonl

    rows = tmp_path / "ds.jsonl"
    atomic_write_jsonl(rows, [{"query": q, "candidate": c, "label": k % 2} for k, c in enumerate(CANDIDATES)
                              for q in QUERIES])
    assert main(["recross", "train-reranker", "--data-file", str(rows), "--output", str(tmp_path / "rr"),
                 "--model", bert_dir, "--shared-context", "--batch-size", "2", "--max-length", "64"]) == 0
    assert (tmp_path / "rr" / MARKER).exists() and "trained the reranker on 9 pairs" in capsys.readouterr().out
