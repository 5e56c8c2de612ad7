"""Batch collation. transformers' collators replace the hand-written training collators only where the batches
are identical (issue 14.8): DataCollatorWithPadding for classifier pairs, DataCollatorForSeq2Seq for generator
features; inference batches are grouped by length (core.batching)."""

from __future__ import annotations

import random

import pytest
import torch
from tiny_models import tiny_bart, tiny_bert, tiny_t5

from crosstask.models.backbone import load_tokenizer
from crosstask.models.classifier import pad_collate
from crosstask.models.generator import seq2seq_collate
from crosstask.training.collators import pair_collator, seq2seq_collator


@pytest.fixture(scope="module", params=["bert", "t5", "bart", "default"])
def tokenizer(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("tok")
    path = {"bert": tiny_bert, "t5": tiny_t5, "bart": tiny_bart}.get(request.param, lambda p: "default")(root / "m")
    return load_tokenizer(path)


def _same(a: dict, b: dict) -> bool:
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)


def _ids(rng, low=1, high=9):
    return [rng.randrange(5, 60) for _ in range(rng.randrange(low, high))]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_library_collators_equal_the_hand_written_ones(tokenizer, seed):
    rng = random.Random(seed)
    pairs = [{"input_ids": _ids(rng), "labels": rng.randrange(2)} for _ in range(rng.randrange(1, 7))]
    assert _same(pair_collator(tokenizer)(pairs), pad_collate(pairs, tokenizer.pad_token_id))
    seq = [{"input_ids": _ids(rng), "labels": _ids(rng, 1, 5)} for _ in range(rng.randrange(1, 7))]
    batch = seq2seq_collator(tokenizer)(seq)
    assert _same(batch, seq2seq_collate(seq, tokenizer.pad_token_id))
    assert (batch["labels"] == -100).any() or len({len(f["labels"]) for f in seq}) == 1


def test_a_left_padding_tokenizer_still_gives_right_padded_batches(tokenizer):
    tokenizer.padding_side = "left"
    try:
        pairs = [{"input_ids": [7, 8, 9], "labels": 1}, {"input_ids": [7], "labels": 0}]
        batch = pair_collator(tokenizer)(pairs)
        assert _same(batch, pad_collate(pairs, tokenizer.pad_token_id))
        assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
        assert tokenizer.padding_side == "left"  # the caller's tokenizer is left as it was
    finally:
        tokenizer.padding_side = "right"


def test_length_batches_group_by_length_and_keep_input_order_on_ties():
    from crosstask.core.batching import length_batches

    lengths = [3, 1, 4, 1, 5, 9, 2, 6]
    assert length_batches(lengths, 3) == [[1, 3, 6], [0, 2, 4], [7, 5]]
    assert length_batches(lengths, 3, longest_first=True) == [[5, 7, 4], [2, 0, 6], [1, 3]]
    assert length_batches([], 4) == []
    assert sorted(i for b in length_batches(lengths, 5) for i in b) == list(range(len(lengths)))
    with pytest.raises(ValueError, match="batch_size"):
        length_batches(lengths, 0)
