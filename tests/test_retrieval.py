"""Retrieval (ReCross): FAISS indexes, index cache, fusion, random/BM25/dense retrievers, encoders."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from crosstask.core.errors import CrosstaskError
from crosstask.data.records import T0Record
from crosstask.retrieval.aggregate import (
    QueryHit,
    concat_per_query,
    fuse,
    initial_depth,
    mean_score_fusion,
    reciprocal_rank_fusion,
)
from crosstask.retrieval.encoders import l2_normalise
from crosstask.retrieval.index import DenseIndex, IndexCache, recall_at_k
from crosstask.retrieval.retrievers import (
    BM25Retriever,
    DenseRetriever,
    RandomRetriever,
    top_k_ids,
)

TASK_WORDS = {
    "ag_news": "stock market economy shares trading bank",
    "imdb": "movie film actor plot cinema review",
    "squad": "question answer passage context paragraph",
    "cosmos": "story character feelings reason happened",
}


def make_records(per_task: int = 50) -> list[T0Record]:
    rng = np.random.default_rng(0)
    records = []
    for task, words in TASK_WORDS.items():
        vocab = words.split()
        for i in range(per_task):
            text = " ".join(rng.choice(vocab, size=6)) + f" item{i}"
            records.append(T0Record(text, ("yes",), task, "train", "tpl", f"#{i}", task))
    return records


class HashingEncoder:
    """Cheap deterministic bag-of-words encoder with a settable fingerprint; counts its encodes."""

    def __init__(self, dim: int = 64, fingerprint: str = "hash-v1"):
        self.dim, self.fingerprint, self.calls = dim, fingerprint, 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        return l2_normalise(out)


def random_unit(n: int, dim: int, seed: int) -> np.ndarray:
    return l2_normalise(np.random.default_rng(seed).standard_normal((n, dim)))


def test_exact_search_equals_bruteforce_numpy():
    pool, queries = random_unit(300, 24, 1), random_unit(7, 24, 2)
    index = DenseIndex.build(pool, [str(i) for i in range(300)])
    scores, ids = index.search(queries, 10)
    sims = queries @ pool.T
    expected = np.argsort(-sims, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(sims, expected, 1), rtol=1e-5, atol=1e-5)
    assert index.search(queries, 1000)[1].shape == (7, 300)  # k clamped to the pool size


@pytest.mark.parametrize("kind,params", [("hnsw", {"M": 8, "ef_construction": 40, "ef_search": 16}),
                                         ("ivf", {"nlist": 8, "nprobe": 2})])
def test_approximate_recall_between_0_and_1_exact_is_1(kind, params, tmp_path):
    pool, queries = random_unit(500, 16, 3), random_unit(20, 16, 4)
    uids = [str(i) for i in range(500)]
    exact = DenseIndex.build(pool, uids)
    approx = DenseIndex.build(pool, uids, kind, **params)
    _, exact_ids = exact.search(queries, 10)
    _, approx_ids = approx.search(queries, 10)
    assert recall_at_k(exact_ids, exact_ids, 10) == 1.0
    assert 0.0 <= recall_at_k(approx_ids, exact_ids, 10) <= 1.0
    loaded = DenseIndex.load(approx.save(tmp_path / kind))
    assert (loaded.kind, loaded.params, loaded.uids) == (kind, approx.params, uids)
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], approx_ids)
    json.loads((tmp_path / kind / "meta.json").read_text())
    with pytest.raises(CrosstaskError, match="unknown parameter"):
        DenseIndex.build(pool, uids, kind, bogus=1)


def test_hnsw_searches_at_least_k_deep():
    """efSearch below k truncates HNSW's candidate list; the search widens it to k."""
    pool, queries = random_unit(2000, 16, 5), random_unit(20, 16, 6)
    uids = [str(i) for i in range(2000)]
    _, exact_ids = DenseIndex.build(pool, uids).search(queries, 200)
    hnsw = DenseIndex.build(pool, uids, "hnsw", M=8, ef_construction=40, ef_search=16)
    _, ids = hnsw.search(queries, 200)
    assert recall_at_k(ids, exact_ids, 200) >= 0.9 and (ids >= 0).all()
    assert hnsw.params["ef_search"] == 16  # the saved setting is unchanged


def test_rrf_hand_computed_and_deduplicated():
    per_query = [[(5, 0.9), (3, 0.8), (7, 0.1)], [(3, 0.7), (9, 0.6)], [(3, 0.5), (5, 0.4), (5, 0.3)]]
    fused = reciprocal_rank_fusion(per_query, n=10, k=60)
    assert [f.pool_index for f in fused] == [3, 5, 9, 7]  # each once; 9 and 7 tie-free by score
    by_index = {f.pool_index: f for f in fused}
    assert by_index[3].score == pytest.approx(1 / 62 + 1 / 61 + 1 / 61)
    assert by_index[5].score == pytest.approx(1 / 61 + 1 / 62)  # repeat within query 2 ignored
    assert by_index[9].score == pytest.approx(1 / 62) and by_index[7].score == pytest.approx(1 / 63)
    assert [(h.query, h.rank) for h in by_index[3].hits] == [(0, 2), (1, 1), (2, 1)]
    assert len(reciprocal_rank_fusion(per_query, n=2)) == 2


def test_mean_fusion_missing_counts_query_minimum_and_ties_by_index():
    per_query = [[(1, 0.9), (2, 0.5)], [(2, 0.8), (4, 0.2)]]
    scores = {f.pool_index: f.score for f in mean_score_fusion(per_query, n=10)}
    assert scores == pytest.approx({1: (0.9 + 0.2) / 2, 2: (0.5 + 0.8) / 2, 4: (0.5 + 0.2) / 2})
    tied = reciprocal_rank_fusion([[(8, 1.0)], [(2, 1.0)], [(5, 1.0)]], n=3)
    assert [f.pool_index for f in tied] == [2, 5, 8]
    assert top_k_ids(np.array([0.5, 1.0, 0.5, 1.0, 0.5]), 3).tolist() == [1, 3, 0]


def test_concat_is_the_papers_per_query_top_with_duplicates():
    per_query = [[(5, 0.9), (3, 0.8), (1, 0.7)], [(3, 0.95), (7, 0.6), (8, 0.5)]]
    items = concat_per_query(per_query, 5)  # ⌈5/2⌉ = 3 per query: 5 3 1 | 3 7 8, trimmed to 5
    assert [i.pool_index for i in items] == [5, 3, 1, 3, 7]  # 3 twice: duplicates kept
    assert [i.score for i in items] == [0.9, 0.8, 0.7, 0.95, 0.6]
    assert items[3].hits == (QueryHit(1, 1, 0.95),) and items[2].hits == (QueryHit(0, 3, 0.7),)
    assert [i.pool_index for i in fuse(per_query, 4, "concat")] == [5, 3, 3, 7]  # ⌈4/2⌉ = 2 per query
    assert [i.pool_index for i in concat_per_query(per_query, 1)] == [5]


def test_retrievers_concatenate_per_query_lists():
    records = make_records()
    encoder = HashingEncoder()
    for retriever in (BM25Retriever(records, fusion="concat"), DenseRetriever(records, encoder, fusion="concat")):
        queries = ["stock market shares", "movie film plot", "stock market shares"]
        result = retriever.retrieve(queries, 10)  # ⌈10/3⌉ = 4 per query, trimmed to 10
        own = [[i for i, _ in ranked] for ranked in retriever._rank(retriever._prepare(queries), 4)]
        assert result.indices == (own[0] + own[1] + own[2])[:10] and result.depth == 4
        assert result.indices[:2] == result.indices[8:10] and len(set(result.indices)) == 8
        assert result.fusion == "concat" and [it.hits[0].query for it in result.items] == [0] * 4 + [1] * 4 + [2] * 2


@pytest.mark.parametrize("n,n_queries", [(10, 3), (7, 16), (33, 4), (1, 5)])
def test_retrieve_exactly_n_unique_for_any_query_count(n, n_queries):
    records = make_records()
    queries = ["movie film plot"] * n_queries  # identical queries: the union must be widened
    encoder = HashingEncoder()
    for retriever in (BM25Retriever(records), DenseRetriever(records, encoder),
                      DenseRetriever(records, encoder, fusion="mean")):
        result = retriever.retrieve(queries, n)
        assert len(result) == n and len(set(result.indices)) == n
        assert result.depth >= min(initial_depth(n, n_queries), len(records))
        json.dumps(result.to_json())
    with pytest.raises(CrosstaskError):
        BM25Retriever(records).retrieve(queries, len(records) + 1)


def test_random_retriever_seeded_unique():
    records = make_records()
    first = RandomRetriever(records, seed=1).retrieve(["q"], 40)
    assert first.uids == RandomRetriever(records, seed=1).retrieve(["other"], 40).uids
    assert set(first.uids) != set(RandomRetriever(records, seed=2).retrieve(["q"], 40).uids)
    assert len(set(first.indices)) == 40
    assert RandomRetriever(records, seed=1).retrieve([], 10).indices == first.indices[:10]


def test_bm25_ranks_record_with_rare_words_first():
    records = make_records()
    records[123] = T0Record("the quokka and the axolotl met in the film", ("yes",), "imdb", "train", "tpl",
                            "#rare", "imdb")
    result = BM25Retriever(records).retrieve(["a quokka befriends an axolotl"], 5)
    assert result.indices[0] == 123 and result.uids[0] == "imdb|train|tpl|#rare"


def test_dense_retriever_prefers_query_task():
    records = make_records()
    result = DenseRetriever(records, HashingEncoder()).retrieve(["stock market shares", "bank trading economy"], 20)
    assert sum(records[i].task == "ag_news" for i in result.indices) >= 18


def test_index_cache_rebuilds_on_pool_or_encoder_change(tmp_path):
    records = make_records(10)
    pool_file = tmp_path / "ag_news.json"
    pool_file.write_text(json.dumps([[r.input, list(r.outputs), r.uid] for r in records]))
    cache, encoder = IndexCache(tmp_path / "cache"), HashingEncoder()

    first = cache.get_or_build([pool_file], records, encoder)
    assert first.built and first.build_seconds >= 0 and encoder.calls == 1
    again = cache.get_or_build([pool_file], records, encoder)
    assert not again.built and again.key == first.key and encoder.calls == 1
    assert again.index.uids == [r.uid for r in records] and again.index.fingerprint == "hash-v1"

    pool_file.write_text(pool_file.read_text() + "\n")  # the pool file changed
    assert cache.get_or_build([pool_file], records, encoder).built
    encoder.fingerprint = "hash-v2"  # the model changed
    changed = cache.get_or_build([pool_file], records, encoder)
    assert changed.built and changed.key != first.key
    assert cache.get_or_build([pool_file], records[:-1], encoder).built  # another subset of the pool
    assert cache.get_or_build([pool_file], records, encoder, "hnsw", M=8).built
    assert not cache.get_or_build([pool_file], records, encoder, "hnsw", M=8).built

    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".pkl", ".pickle", ".tmp")]
    for meta in (p for p in files if p.name == "meta.json"):
        assert json.loads(meta.read_text())["kind"] in ("exact", "hnsw")
    with pytest.raises(CrosstaskError, match="another encoder"):
        DenseRetriever(records, HashingEncoder(fingerprint="other"), first.index)


def test_sentence_encoder_minilm_normalised_384():
    pytest.importorskip("sentence_transformers")
    from crosstask.retrieval.encoders import SentenceEncoder

    encoder = SentenceEncoder("default", batch_size=8)
    texts = [f"sentence number {i} about {w}" for i, w in enumerate(list(TASK_WORDS) * 5)]
    vectors = encoder.encode(texts)
    assert vectors.shape == (20, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.fingerprint == encoder.fingerprint and len(encoder.fingerprint) == 64


def test_mean_pool_encoder_matches_manual_masked_mean(tmp_path):
    import torch
    from transformers import BertConfig, BertModel

    from crosstask.models.backbone import load_tokenizer
    from crosstask.retrieval.encoders import MeanPoolEncoder

    torch.manual_seed(0)
    tokenizer = load_tokenizer("default")
    model = BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64))
    model.save_pretrained(tmp_path / "bert")
    tokenizer.save_pretrained(tmp_path / "bert")
    texts = ["a short one", "a much longer sentence with quite a few more words in it", "mid length text here"]

    encoder = MeanPoolEncoder(str(tmp_path / "bert"), max_length=32, batch_size=2, precision="fp32")
    got = encoder.encode(texts)
    model.eval()
    with torch.no_grad():
        batch = tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        manual = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    manual /= np.linalg.norm(manual, axis=1, keepdims=True)
    assert got.shape == (3, 32)
    np.testing.assert_allclose(got, manual, atol=1e-5)

    in_memory = MeanPoolEncoder(model, max_length=32, tokenizer=tokenizer, precision="fp32")
    np.testing.assert_allclose(in_memory.encode(texts), manual, atol=1e-5)
    before = in_memory.fingerprint
    with torch.no_grad():
        model.embeddings.word_embeddings.weight[0, 0] += 1.0
    assert in_memory.fingerprint != before
    assert encoder.fingerprint == MeanPoolEncoder(str(tmp_path / "bert"), max_length=32, precision="fp32").fingerprint
    assert encoder.fingerprint != MeanPoolEncoder(str(tmp_path / "bert"), max_length=64).fingerprint


def test_mean_pool_encoder_bf16_is_close_and_keyed_apart(tmp_path):
    import torch
    from transformers import BertConfig, BertModel

    from crosstask.models.backbone import load_tokenizer
    from crosstask.retrieval.encoders import MeanPoolEncoder

    torch.manual_seed(0)
    tokenizer = load_tokenizer("default")
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(tmp_path / "bert")
    tokenizer.save_pretrained(tmp_path / "bert")
    texts = ["a short one", "a much longer sentence with quite a few more words in it", "mid length text here"]
    fp32 = MeanPoolEncoder(str(tmp_path / "bert"), max_length=32, precision="fp32")
    bf16 = MeanPoolEncoder(str(tmp_path / "bert"), max_length=32, precision="bf16")
    a, b = fp32.encode(texts), bf16.encode(texts)
    assert b.dtype == np.float32 and b.shape == a.shape
    assert not np.array_equal(a, b)  # really computed in bf16
    assert (a * b).sum(1).min() > 0.99  # cosine to the fp32 embedding
    assert fp32.fingerprint != bf16.fingerprint  # a bf16 index never stands in for an fp32 one
    with pytest.raises(CrosstaskError, match="precision"):
        MeanPoolEncoder(str(tmp_path / "bert"), precision="int4")
