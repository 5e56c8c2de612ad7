"""ReCross: adaptation of model copies, reranking, distant supervision, the resumable loop (label guards),
the retrieved-task distribution and its heatmap, on a synthetic 120-record pool with tiny models."""

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import tiny_bert, tiny_t5

from crosstask.core.errors import CrosstaskError
from crosstask.core.io import read_json, read_jsonl
from crosstask.data.records import T0Record
from crosstask.data.t0 import Target, UpstreamPool
from crosstask.evaluation import targets as targets_module
from crosstask.experiments import distant_supervision
from crosstask.experiments import recross_round as recross
from crosstask.experiments.distant_supervision import DistantSupervisionConfig, build_distant_supervision
from crosstask.experiments.recross_round import RecrossConfig, retrieved_task_distribution, run_recross, sample_queries
from crosstask.reporting.heatmap import plot_retrieval_heatmap
from crosstask.retrieval import reranker
from crosstask.retrieval.reranker import pair_scores, rerank
from crosstask.retrieval.retrievers import BM25Retriever, RetrievedItem, RetrievedSet
from crosstask.training import adapt as adapt_module
from crosstask.training.adapt import (
    AdaptConfig,
    adapt_classifier,
    adapt_generator,
    heldout_loss,
    load_model,
    token_nll,
)
from crosstask.training.reranker import train_reranker

ADJ = ["good", "bad", "great", "awful", "fine", "poor"]
TOPICS = ["sports", "politics", "science", "business"]


def rec(task, template, i, text, *outputs, dataset=None, split="train"):
    return T0Record(text, tuple(outputs), dataset or task, split, template, f"#{i}", task)


def synthetic_pool() -> list[T0Record]:
    """4 fake tasks, 120 records: two 2-label templates, a 3-label one, a 4-label one, a free-text one."""
    pool = []
    for i in range(30):
        adj = ADJ[i % 6]
        if i < 15:
            pool.append(rec("sentiment", "positive yes no", i, f"Review {i}: the movie was {adj}. Is it positive?",
                            "yes" if i % 2 == 0 else "no"))
        else:
            pool.append(rec("sentiment", "great or terrible", i, f"Review {i}: a {adj} film. Great or terrible?",
                            "great" if i % 2 == 0 else "terrible"))
        pool.append(rec("nli", "entail", i, f"Premise: the cat {i} sleeps. Hypothesis: an animal {i} rests. "
                        "Entailment, neutral or contradiction?", ["entailment", "neutral", "contradiction"][i % 3]))
        pool.append(rec("topic", "which topic", i, f"Article {i} about the {TOPICS[i % 4]} news. Which topic?",
                        TOPICS[i % 4]))
        pool.append(rec("qa", "capital", i, f"Question: what is the capital city of country {i}?", f"city {i}"))
    return pool


def target_records(split: str, n_free: int) -> list[T0Record]:
    yes_no = [rec("toy_target", "is positive", i, f"Statement {i}: the film is {ADJ[i % 6]}. Is the review positive?",
                  "yes" if i % 2 else "no", split=split) for i in range(8)]
    free = [rec("toy_target", "name", i, f"Question: which city is the capital of land {i}?", f"town {i}",
                split=split) for i in range(n_free)]
    return yes_no + free


class Gate:
    def __init__(self):
        self.open, self.accessed = False, []


class Guarded:
    """A record whose `outputs` raise until its gate opens; other attribute reads are logged while closed."""

    def __init__(self, record: T0Record, gate: Gate):
        self._record, self._gate = record, gate

    def __getattr__(self, name):
        if not self._gate.open:
            self._gate.accessed.append(name)
        return getattr(self._record, name)

    @property
    def outputs(self):
        if not self._gate.open:
            raise AssertionError("a label was read before it was allowed")
        return self._record.outputs


def file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from crosstask.data.t0_tasks import t0_typed_tasks
    from crosstask.models.classifier import ClassifierConfig
    from crosstask.training.classifier import ClassifierTrainingConfig, train_classifier
    from crosstask.training.trainer import TrainingArguments

    root = tmp_path_factory.mktemp("recross")
    pool = synthetic_pool()
    bert = tiny_bert(root / "bert")
    config = ClassifierTrainingConfig(model=ClassifierConfig(model=bert, dropout=0.0), max_length=64)
    args = TrainingArguments(output_dir=str(root / "upstream"), batch_size=8, lr=1e-3, max_steps=3,
                             scheduler="constant", progress=False)
    train_classifier(t0_typed_tasks(pool), config, args)
    return {"root": root, "pool": pool, "bert": bert, "upstream": root / "upstream" / "final",
            "t5": Path(tiny_t5(root / "t5"))}


FAST = AdaptConfig(max_steps=2, max_length=64)


def test_adapt_config_has_the_paper_defaults():
    c = AdaptConfig()
    assert (c.lr, c.batch_size, c.epochs, c.scheduler, c.max_grad_norm, c.label_smoothing) == \
        (6e-6, 4, 1, "constant", 0.1, 0.1)
    assert c.pairs.mix_gen


def test_round_adaptation_expands_options_with_the_scoring():
    plain, expanded = RecrossConfig("tgt"), RecrossConfig("tgt", expand_options=True)
    assert [recross.adapt_config(c, 2).pairs.expand_options for c in (plain, expanded)] == [False, True]
    assert recross.adapt_config(expanded, 2).seed == expanded.adapt.seed + 2
    assert recross.adapt_config(plain, 0).pairs == plain.adapt.pairs
    # recorded with a run only when on, so run roots written before the option still resume
    assert "expand_options" not in recross.adapt_settings(plain.adapt)["pairs"]
    assert recross.adapt_settings(recross.adapt_config(expanded, 0))["pairs"]["expand_options"] is True


def test_adapt_classifier_writes_a_copy_and_leaves_upstream_untouched(env, tmp_path):
    before = file_hashes(env["upstream"])
    out = adapt_classifier(env["upstream"], env["pool"][:40], AdaptConfig(lr=1e-3, max_steps=2, max_length=64),
                           tmp_path / "adapted")
    assert out == tmp_path / "adapted" and file_hashes(env["upstream"]) == before
    assert [p.name for p in tmp_path.iterdir()] == ["adapted"]  # no temporary work dir left behind
    old, _ = load_model(env["upstream"], "classifier")
    new, _ = load_model(out, "classifier")
    assert any(not torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))
    with pytest.raises(CrosstaskError, match="in place"):
        adapt_classifier(env["upstream"], env["pool"][:4], FAST, env["upstream"])


def test_heldout_loss_of_a_siamese_classifier_is_its_mean_pair_loss(env):
    from transformers import AutoTokenizer

    from crosstask.models.classifier import ClassifierConfig, EncoderClassifier

    model = EncoderClassifier.from_backbone(ClassifierConfig(env["bert"], dropout=0.0, siamese=True))
    tokenizer = AutoTokenizer.from_pretrained(env["bert"])
    records = env["pool"][:12]
    whole = heldout_loss(model, records, tokenizer, FAST, batch_size=64)  # one batch: the training loss itself
    features = adapt_module.classifier_features(records, tokenizer, FAST, siamese=True)
    batch = adapt_module._collate("classifier", tokenizer, siamese=True)(features)
    with torch.no_grad():
        expected = adapt_module.classifier_loss(model.eval(), batch).item()
    assert whole == pytest.approx(expected, rel=1e-5) and np.isfinite(whole) and whole > 0
    assert heldout_loss(model, records, tokenizer, FAST, batch_size=2) == pytest.approx(whole, rel=1e-4)  # weighted


def test_adapt_generator_and_label_smoothed_nll(env, tmp_path):
    before = file_hashes(env["t5"])
    out = adapt_generator(env["t5"], env["pool"][:12], FAST, tmp_path / "gen")
    assert file_hashes(env["t5"]) == before and (out / "config.json").exists()
    model, tokenizer = load_model(out, "generator")
    loss = heldout_loss(model, env["pool"][:8], tokenizer, FAST)
    assert np.isfinite(loss) and loss > 0
    features = adapt_module.seq2seq_features(env["pool"][:4], tokenizer, FAST)
    batch = adapt_module._collate("generator", tokenizer)(features)
    with torch.no_grad():
        logp = torch.log_softmax(model(**batch).logits.float(), -1)
        mask = batch["labels"] != -100
        nll = -logp.gather(-1, batch["labels"].clamp(min=0).unsqueeze(-1)).squeeze(-1)[mask].mean()
        uniform = -logp.mean(-1)[mask].mean()
        assert token_nll(model, batch, 0.1).item() == pytest.approx((0.9 * nll + 0.1 * uniform).item(), rel=1e-4)
        assert token_nll(model, batch).item() == pytest.approx(nll.item(), rel=1e-4)


class Stub:
    """A cross-encoder stand-in: a score per (query, candidate) pair, or two logits."""

    def __init__(self, table, two_logits=False):
        self.table, self.two_logits, self.calls = table, two_logits, []

    def predict(self, pairs):
        self.calls.append(list(pairs))
        scores = np.array([self.table[p] for p in pairs])
        return np.stack([np.zeros_like(scores), np.log(scores / (1 - scores))], 1) if self.two_logits else scores


@pytest.mark.parametrize("two_logits", [False, True])
def test_rerank_keeps_top_n_by_mean_score(two_logits):
    pool = [rec("t", "x", i, f"c{i}", "o") for i in range(5)]
    per_query = {0: (0.1, 0.1), 1: (0.9, 0.1), 2: (0.6, 0.6), 3: (0.01, 0.99), 4: (0.2, 0.2)}  # means .1 .5 .6 .5 .2
    table = {(q, f"c{i}"): s[k] for i, s in per_query.items() for k, q in enumerate(["q0", "q1"])}
    stub = Stub(table, two_logits)
    candidates = RetrievedSet([RetrievedItem(i, pool[i].uid, 1.0 - i / 10) for i in range(5)], "bm25", "rrf", 4, 2)
    out = rerank(stub, ["q0", "q1"], candidates, pool, 3)
    assert out.indices == [2, 1, 3]  # by mean; the 1/3 tie keeps retrieval order (max would pick 3 and 1 first)
    assert [it.score for it in out.items] == pytest.approx([0.6, 0.5, 0.5])
    assert len(stub.calls) == 1 and len(stub.calls[0]) == 10 and out.method == "bm25+rerank"
    assert out.extra["reranked_from"] == 5


def test_distant_supervision_rows(env, tmp_path, monkeypatch):
    pool = env["pool"]
    config = DistantSupervisionConfig(n_query_sets=1, query_size=2, group_size=4, n_groups=3, heldout_size=6, seed=1,
                                      adapt=AdaptConfig(lr=1e-3, max_steps=1, max_length=64))
    kwargs = {"pseudo_targets": ["nli"], "retriever": BM25Retriever(pool), "config": config,
              "output": tmp_path / "ds.jsonl"}
    rows = build_distant_supervision(pool, env["upstream"], **kwargs)
    assert len(rows) == 2 * (4 + 4) and sum(r["label"] for r in rows) == 8
    assert {r["pseudo_target"] for r in rows} == {"nli"}
    by_uid = {r.uid: r for r in pool}
    assert all(by_uid[r["candidate_uid"]].task != "nli" for r in rows)  # candidates come from the other tasks
    assert max(r["delta"] for r in rows if r["label"]) <= min(r["delta"] for r in rows if not r["label"])
    assert len({r["query"] for r in rows}) == 2 and read_jsonl(tmp_path / "ds.jsonl") == rows
    monkeypatch.setattr(distant_supervision, "fine_tune", lambda *a,
                        **k: pytest.fail("a finished query set was recomputed"))
    assert build_distant_supervision(pool, env["upstream"], **kwargs) == rows


@pytest.mark.parametrize("trained_on_texts", [True, False])
def test_distant_supervision_adapts_on_the_candidates_the_upstream_was_trained_on(env, tmp_path, monkeypatch,
                                                                                    trained_on_texts):
    run = tmp_path / "upstream-run"  # a `recross upstream` run: final/ and its run_config.json
    run.mkdir()
    (run / "final").symlink_to(Path(env["upstream"]).resolve(), target_is_directory=True)
    (run / "run_config.json").write_text(json.dumps({"config": {"pairs": {"expand_options": trained_on_texts}}}))
    seen = []  # the adaptation config of every held-out loss and fine-tuning

    def heldout_loss(model, heldout, tokenizer, adapt):
        seen.append(adapt)
        return 0.0

    def fine_tune(kind, model_dir, records, adapt, work, save):
        seen.append(adapt)
        return None, None

    monkeypatch.setattr(distant_supervision, "heldout_loss", heldout_loss)
    monkeypatch.setattr(distant_supervision, "fine_tune", fine_tune)
    config = DistantSupervisionConfig(query_size=2, group_size=4, n_groups=2, heldout_size=6, seed=1)
    build_distant_supervision(env["pool"], run, ["nli"], BM25Retriever(env["pool"]), config)
    assert len(seen) == 1 + 2 + 2 and {a.pairs.expand_options for a in seen} == {trained_on_texts}


def test_train_reranker_saves_a_cross_encoder(env, tmp_path):
    rows = [{"query": f"Review {i}: good?", "candidate": c, "label": int(c.startswith("Review"))}
            for i in range(4) for c in (f"Review {i + 9}: bad.", f"Premise {i}: cats.")]
    out = train_reranker(rows, env["bert"], tmp_path / "ce", epochs=1, batch_size=4, seed=0)
    model = reranker.load_reranker(out)
    assert model.num_labels == 2 and model.predict([("a", "b"), ("c", "d")]).shape == (2, 2)
    scores = pair_scores(model, [("a", "b"), ("c", "d"), ("e", "f")])
    assert scores.shape == (3,) and ((0 <= scores) & (scores <= 1)).all()


@pytest.fixture(scope="module")
def guarded_target():
    test_gate, query_gate = Gate(), Gate()
    target = Target("toy_target", [Guarded(r, test_gate) for r in target_records("validation", 4)],
                    [Guarded(r, query_gate) for r in target_records("train", 12)])
    return target, test_gate, query_gate


def install_guards(monkeypatch, test_gate, query_gate):
    """Query labels open only inside option_sets; test labels only inside the scorer."""
    original_options, original_score = recross.option_sets, targets_module.score_target

    def options(records):
        query_gate.open = True
        try:
            return original_options(records)
        finally:
            query_gate.open = False

    def score(predicted):
        test_gate.open = True
        try:
            return original_score(predicted)
        finally:
            test_gate.open = False

    monkeypatch.setattr(recross, "option_sets", options)
    monkeypatch.setattr(targets_module, "score_target", score)


def test_sample_queries_reads_inputs_only():
    gate = Gate()
    records = [Guarded(r, gate) for r in target_records("train", 12)]
    first = sample_queries(records, 5, seed=0)
    assert gate.accessed == ["input"] * 5 and len(set(first)) == 5
    assert sample_queries(records, 5, seed=0) == first and sample_queries(records, 5, seed=1) != first


def test_recross_loop_bm25_rerank_resumes(env, tmp_path, monkeypatch, guarded_target):
    target, test_gate, query_gate = guarded_target
    install_guards(monkeypatch, test_gate, query_gate)
    rows = [{"query": "Review good?", "candidate": r.input, "label": int(r.task == "sentiment")}
            for r in env["pool"][:16]]
    ce = train_reranker(rows, env["bert"], tmp_path / "ce", batch_size=8)
    config = RecrossConfig("toy_target", retriever="bm25", n=16, query_size=4, rounds=2, mu=2, reranker=str(ce),
                           adapt=FAST)
    pool = UpstreamPool(env["pool"], ["sentiment", "nli", "topic", "qa"])
    result = run_recross(config, pool, target, env["upstream"], tmp_path / "run")
    assert set(query_gate.accessed) == {"input"}  # besides option_sets, only query inputs were read
    for r in range(2):
        retrieved = read_json(tmp_path / "run" / f"round-{r}" / "retrieved.json")
        assert len(retrieved["items"]) == 16 and retrieved["method"] == "bm25+rerank"
        assert retrieved["reranked_from"] == 32 and len(retrieved["queries"]) == 4
        assert all(0 <= it["score"] <= 1 for it in retrieved["items"])
        assert not (tmp_path / "run" / f"round-{r}" / "model").exists()
    key = "rank/classifier/accuracy"
    values = [m[key] for m in result["rounds"]]
    assert result["summary"][key] == {"mean": pytest.approx(np.mean(values)), "std": pytest.approx(np.std(values)),
                                      "n": 2}
    assert key in result["zero_shot"]
    assert read_json(tmp_path / "run" / "summary.json") == json.loads(json.dumps(result))
    assert read_json(tmp_path / "run" / "round-0" / "metrics.json")["counts"]["rank_records"] == 8
    timings = [read_json(tmp_path / "run" / f"round-{r}" / "metrics.json")["seconds"] for r in range(2)]
    for seconds in timings:
        assert set(seconds) == {"index", "retrieve", "rerank", "adapt", "evaluate", "total"}
        assert seconds["total"] == pytest.approx(sum(v for k, v in seconds.items() if k != "total"), abs=0.01)
        assert seconds["rerank"] > 0 and seconds["adapt"] > 0

    calls = []
    monkeypatch.setattr(adapt_module, "adapt", lambda *a, **k: calls.append(a) or pytest.fail("recomputed"))
    monkeypatch.setattr(recross, "evaluate_model", lambda *a, **k: pytest.fail("re-evaluated"))
    assert run_recross(config, pool, target, env["upstream"], tmp_path / "run") == result and calls == []
    with pytest.raises(CrosstaskError, match="other settings"):
        run_recross(RecrossConfig("toy_target", retriever="bm25", n=8), pool, target, env["upstream"],
                    tmp_path / "run")


def test_recross_loop_dense_and_heatmap(env, tmp_path, monkeypatch, guarded_target):
    target, test_gate, query_gate = guarded_target
    install_guards(monkeypatch, test_gate, query_gate)
    config = RecrossConfig("toy_target", retriever="dense", n=12, query_size=3, rounds=1,
                           adapt=replace(FAST, mixed_precision="bf16"), cache_dir=str(tmp_path / "cache"),
                           encoder_precision="bf16")
    result = run_recross(config, env["pool"], target, env["upstream"], tmp_path / "dense")
    assert len(list((tmp_path / "cache").iterdir())) == 1 and len(result["rounds"]) == 1
    assert "rank/classifier/accuracy" in result["rounds"][0]  # bf16 adaptation and evaluation ran
    again = run_recross(replace(config, rounds=2), env["pool"], target, env["upstream"], tmp_path / "dense")
    assert len(list((tmp_path / "cache").iterdir())) == 1 and len(again["rounds"]) == 2  # index reused
    retrieved = recross.load_retrieved_sets(tmp_path / "dense")
    assert retrieved[0]["method"] == "dense" and len(retrieved[0]["items"]) == 12
    bm25 = RetrievedSet([RetrievedItem(i, env["pool"][i].uid, 0.0) for i in (0, 1, 2, 4)], "bm25")
    distribution = retrieved_task_distribution({"toy_target": retrieved, "hand": bm25}, env["pool"])
    assert distribution["hand"] == {"nli": 0.25, "sentiment": 0.5, "topic": 0.25}  # pool order: s, n, t, q, s, ...
    assert all(sum(row.values()) == pytest.approx(1.0) for row in distribution.values())
    out = plot_retrieval_heatmap(distribution, tmp_path / "fig" / "heatmap.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and [p.name for p in out.parent.iterdir()] == ["heatmap.png"]


def test_recross_loop_generator_with_its_own_encoder(env, tmp_path, monkeypatch, guarded_target):
    target, test_gate, query_gate = guarded_target
    install_guards(monkeypatch, test_gate, query_gate)
    config = RecrossConfig("toy_target", retriever="dense", n=8, query_size=2, rounds=1, model_kind="generator",
                           adapt=FAST, num_beams=1, max_new_tokens=3)
    result = run_recross(config, env["pool"], target, env["t5"], tmp_path / "gen")
    assert set(result["zero_shot"]) == set(result["rounds"][0]) == {
        "generation/exact_match", "generation/soft_exact_match", "rank/generator/accuracy"}
    assert result["summary"]["generation/exact_match"]["std"] == 0.0  # one round
    assert set(query_gate.accessed) == {"input"}
