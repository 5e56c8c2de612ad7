"""Training batches from transformers' collators where they fit exactly: `DataCollatorWithPadding` for
(pair ids, label) features, `DataCollatorForSeq2Seq` for (source ids, target ids) features (labels padded with
-100). Both right-pad with the tokenizer's pad token whatever its `padding_side` (the classifier's pooling and the
hand-written inference collators, `models.classifier.pad_collate` / `models.generator.seq2seq_collate`, assume
right padding), so a batch equals the hand-written collators' (tests/test_collators.py). Shared-context packs keep
their own collator (`training.classifier.packed_collate`): no library one builds 4D masks."""

from __future__ import annotations

import copy

import torch


def _right_padding(tokenizer):
    if tokenizer.padding_side == "right":
        return tokenizer
    tokenizer = copy.copy(tokenizer)  # the caller's tokenizer keeps its own padding side
    tokenizer.padding_side = "right"
    return tokenizer


def pair_collator(tokenizer):
    """Dynamic padding of `{"input_ids", "labels"}` features to the longest of the batch: input_ids,
    attention_mask and labels as int64 tensors."""
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(_right_padding(tokenizer), return_tensors="pt")


def siamese_collator(tokenizer):
    """Siamese instance features (`training.classifier.encode_pairs`): the batch's contexts (input_ids /
    attention_mask) and its distinct candidates (candidate_ids / candidate_attention_mask), each right-padded to
    its longest, and per pair the row of its context and of its candidate (context_index, candidate_index) and
    its label."""
    from crosstask.models.classifier import pad_collate

    pad = tokenizer.pad_token_id

    def collate(features: list[dict]) -> dict:
        contexts = pad_collate([{"input_ids": f["input_ids"]} for f in features], pad)
        distinct: dict[tuple[int, ...], int] = {}
        candidate_index = [distinct.setdefault(tuple(c), len(distinct)) for f in features for c in f["candidate_ids"]]
        candidates = pad_collate([{"input_ids": list(c)} for c in distinct], pad)
        return {**contexts, "candidate_ids": candidates["input_ids"],
                "candidate_attention_mask": candidates["attention_mask"],
                "context_index": torch.tensor([row for row, f in enumerate(features) for _ in f["candidate_ids"]]),
                "candidate_index": torch.tensor(candidate_index),
                "labels": torch.tensor([label for f in features for label in f["labels"]], dtype=torch.long)}
    return collate


def classifier_collator(tokenizer, siamese: bool = False):
    """The collator of classifier pair features (`encode_pairs`) of either architecture."""
    return siamese_collator(tokenizer) if siamese else pair_collator(tokenizer)


def seq2seq_collator(tokenizer):
    """Dynamic padding of `{"input_ids", "labels"}` seq2seq features: input_ids / attention_mask padded with the pad
    token / 0, labels with -100 (ignored by the loss)."""
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(_right_padding(tokenizer), label_pad_token_id=-100, return_tensors="pt")
