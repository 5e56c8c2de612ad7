"""Shared-context candidate scoring (one encoder pass per instance) against its exact per-pair reference."""

from __future__ import annotations

import random
import time
import warnings

import pytest
import torch
from tiny_models import tiny_bert, tiny_t5

from crosstask.core.errors import CrosstaskError
from crosstask.data.prompts import (
    PromptEncoder,
    candidate_segments,
    classifier_context_segments,
)
from crosstask.evaluation.classifier import score_pairs
from crosstask.models.backbone import load_tokenizer
from crosstask.models.classifier import (
    ClassifierConfig,
    EncoderClassifier,
    load_encoder,
)
from crosstask.models.shared_context import (
    CandidateScorer,
    ScoringInstance,
    _probe,
    collate_packed,
    pack_candidates,
    score_pairs_same_mask,
    score_shared_context,
    shared_context_logits,
    supports_custom_mask,
)

ATOL = 1e-5


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("default")


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> str:
    return tiny_bert(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory) -> str:
    return tiny_t5(tmp_path_factory.mktemp("t5"))


def classifier(path: str, pooling: str = "mean", attn: str | None = None) -> EncoderClassifier:
    torch.manual_seed(0)
    encoder = load_encoder(path)
    if attn:
        encoder.set_attn_implementation(attn)
    return EncoderClassifier(encoder, ClassifierConfig(model=path, pooling=pooling, dropout=0.0)).eval()


def random_instances(seed: int = 0, counts=(1, 3, 7), context_lengths=(5, 30, 17)):
    rng = random.Random(seed)
    return [([rng.randrange(1000, 5000) for _ in range(n_ctx)],
             [[rng.randrange(1000, 5000) for _ in range(rng.randint(1, 9))] for _ in range(k)])
            for k, n_ctx in zip(counts, context_lengths)]


def text_instances(n: int, k: int) -> list[ScoringInstance]:
    return [ScoringInstance(classifier_context_segments("Decide whether the review is positive or negative", [], [],
                                                        f"review {i}: " + "the film was long " * (1 + i % 4)),
                            [f"label {j}" + " very" * j for j in range(k)]) for i in range(n)]


def test_pack_layout_positions_and_mask():
    packed = pack_candidates([10, 11], [[20], [30, 31, 32]], prefix=[1], suffix=[2])
    assert packed.input_ids == [1, 10, 11, 20, 2, 30, 31, 32, 2]
    assert packed.position_ids == [0, 1, 2, 3, 4, 3, 4, 5, 6]  # restart at len(prefix + context)
    assert packed.context_length == 3 and packed.spans == ((3, 5), (5, 9))
    m = packed.mask
    assert m[:3, :3].all() and not m[:3, 3:].any()          # context sees the context only
    assert m[3:5, :5].all() and not m[3:5, 5:].any()        # candidate 1: context + itself
    assert m[5:, :3].all() and m[5:, 5:].all() and not m[5:, 3:5].any()  # candidate 2 never sees candidate 1


def test_collate_masks_padding():
    short, long_ = pack_candidates([10], [[20]]), pack_candidates([10, 11], [[20], [30, 31]])
    batch = collate_packed([short, long_], pad_id=0)
    assert batch["input_ids"].shape == (2, 5) and batch["attention_mask"].shape == (2, 1, 5, 5)
    assert batch["input_ids"][0].tolist() == [10, 20, 0, 0, 0]
    assert batch["position_ids"].tolist() == [[0, 1, 0, 0, 0], [0, 1, 2, 2, 3]]
    mask = batch["attention_mask"][0, 0]
    assert not mask[:2, 2:].any()                                       # real tokens never see padding
    assert all(mask[i].nonzero().flatten().tolist() == [i] for i in range(2, 5))  # pad rows: self only
    assert batch["counts"] == [1, 2] and batch["candidate_mask"].tolist() == [[True, False], [True, True]]
    assert batch["pool_mask"][1, 1].tolist() == [1, 1, 0, 1, 1]       # context + candidate 2


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_shared_equals_same_mask_pairs_tiny_bert(bert_dir, attn):
    model = classifier(bert_dir, attn=attn)
    assert supports_custom_mask(model.encoder)
    instances = random_instances()
    batch = collate_packed([pack_candidates(c, cands, [101], [102]) for c, cands in instances], pad_id=0)
    shared = score_shared_context(model, batch)
    for (context, cands), got in zip(instances, shared):
        expected = score_pairs_same_mask(model, context, cands, [101], [102])
        assert len(got) == len(cands)
        assert torch.allclose(torch.tensor(got), torch.tensor(expected), atol=ATOL)


def test_padding_does_not_change_scores(bert_dir):
    model = classifier(bert_dir)
    packs = [pack_candidates(c, cands, [101], [102]) for c, cands in random_instances(seed=1)]
    together = score_shared_context(model, collate_packed(packs, pad_id=0))
    for pack, got in zip(packs, together):
        alone = score_shared_context(model, collate_packed([pack], pad_id=0))[0]
        assert torch.allclose(torch.tensor(got), torch.tensor(alone), atol=1e-6)


def test_variant_differs_from_full_attention(bert_dir):
    """Sanity: the same-mask reference is a different model from full attention (the tests above are not vacuous)."""
    model = classifier(bert_dir)
    context, cands = random_instances()[1]
    same = score_pairs_same_mask(model, context, cands, [101], [102])
    full = score_pairs(model, [[101, *context, *c, 102] for c in cands], pad_token_id=0)
    assert not torch.allclose(torch.tensor(same), torch.tensor(full), atol=1e-6)


def test_minilm_scorer_matches_same_mask_reference(tokenizer):
    model = classifier("default")
    scorer = CandidateScorer(model, PromptEncoder(tokenizer, 256))
    instance = text_instances(3, 5)[2]
    assert scorer.shared
    context, tails = scorer.encode_instance(instance)
    expected = score_pairs_same_mask(model, context, tails, scorer.encoder.prefix, scorer.encoder.suffix)
    assert torch.allclose(torch.tensor(scorer.score([instance])[0]), torch.tensor(expected), atol=ATOL)


def test_scorer_truncation_and_chunking(bert_dir, tokenizer):
    model = classifier(bert_dir)
    instances = text_instances(4, 6)
    encoder = PromptEncoder(tokenizer, 24)  # forces context truncation
    whole = CandidateScorer(model, encoder).score(instances)
    chunked_scorer = CandidateScorer(model, encoder, batch_size=3, max_packed_length=30)
    packs = [p for i in instances for p in chunked_scorer._packs(i)]
    assert len(packs) > len(instances) and all(len(p.input_ids) <= 30 or len(p.spans) == 1 for p in packs)
    chunked = chunked_scorer.score(instances)
    for inst, a, b in zip(instances, whole, chunked):
        context, tails = chunked_scorer.encode_instance(inst)
        assert all(len(encoder.prefix) + len(context) + len(t) + len(encoder.suffix) <= 24 for t in tails)
        ref = score_pairs_same_mask(model, context, tails, encoder.prefix, encoder.suffix)
        assert torch.allclose(torch.tensor(a), torch.tensor(ref), atol=ATOL)
        assert torch.allclose(torch.tensor(b), torch.tensor(ref), atol=ATOL)


def test_t5_falls_back_to_full_attention_pairs(t5_dir, tokenizer):
    model = classifier(t5_dir)
    assert not supports_custom_mask(model.encoder)   # no position_ids in T5EncoderModel.forward
    assert not _probe(model.encoder)                 # and the mask alone gives the wrong relative positions
    encoder = PromptEncoder(tokenizer, 128)
    instances = text_instances(3, 4)
    scorer = CandidateScorer(model, encoder)
    with pytest.warns(RuntimeWarning, match="falling back to per-pair"):
        got = scorer.score(instances)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scorer.score(instances[:1])                  # warned once only
    features = [encoder.encode([*i.context, *candidate_segments(c)]) for i in instances for c in i.candidates]
    flat = score_pairs(model, features, tokenizer.pad_token_id)
    assert [s for row in got for s in row] == pytest.approx(flat, abs=1e-6)
    assert [len(row) for row in got] == [4, 4, 4]


def test_first_pooling_refused(bert_dir, tokenizer):
    model = classifier(bert_dir, pooling="first")
    with pytest.raises(CrosstaskError):
        shared_context_logits(model, collate_packed([pack_candidates([5], [[6], [7]])], 0))
    scorer = CandidateScorer(model, PromptEncoder(tokenizer, 64))
    with pytest.warns(RuntimeWarning, match="pooling"):
        assert not scorer.shared


def test_training_logits_are_differentiable(bert_dir):
    model = classifier(bert_dir).train()
    batch = collate_packed([pack_candidates(c, cands, [101], [102]) for c, cands in random_instances()], 0)
    logits = shared_context_logits(model, batch)
    assert logits.shape == (1 + 3 + 7, 2)
    torch.nn.functional.cross_entropy(logits, torch.zeros(11, dtype=torch.long)).backward()
    assert model.encoder.embeddings.word_embeddings.weight.grad is not None and model.head.weight.grad is not None


def test_timing_shared_vs_pairs(bert_dir, tokenizer):
    model = classifier(bert_dir)
    encoder = PromptEncoder(tokenizer, 256)
    instances = text_instances(20, 6)
    timings = {}
    for shared in (True, False):
        scorer = CandidateScorer(model, encoder, batch_size=64 if not shared else 20, shared=shared)
        start = time.perf_counter()
        scorer.score(instances)
        timings[shared] = time.perf_counter() - start
    print(f"\n20 instances x 6 candidates, tiny BERT: shared {timings[True] * 1e3:.1f} ms, "
          f"per-pair {timings[False] * 1e3:.1f} ms")
