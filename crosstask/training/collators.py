"""Training batches from transformers' collators where they fit exactly: `DataCollatorWithPadding` for
(pair ids, label) features, `DataCollatorForSeq2Seq` for (source ids, target ids) features (labels padded with
-100). Both right-pad with the tokenizer's pad token whatever its `padding_side` (the classifier's pooling and the
hand-written inference collators, `models.classifier.pad_collate` / `models.generator.seq2seq_collate`, assume
right padding), so a batch equals the hand-written collators' (tests/test_collators.py). Shared-context packs keep
their own collator (`training.classifier.packed_collate`): no library one builds 4D masks."""

from __future__ import annotations

import copy


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
    """`{"input_ids", "candidate_ids", "labels"}` features of a siamese classifier: contexts and candidates each
    right-padded to the longest of the batch (input_ids / attention_mask, candidate_ids /
    candidate_attention_mask), labels int64."""
    from crosstask.models.classifier import pad_collate

    pad = tokenizer.pad_token_id

    def collate(features: list[dict]) -> dict:
        batch = pad_collate([{"input_ids": f["input_ids"], "labels": f["labels"]} for f in features], pad)
        candidates = pad_collate([{"input_ids": f["candidate_ids"]} for f in features], pad)
        return {**batch, "candidate_ids": candidates["input_ids"],
                "candidate_attention_mask": candidates["attention_mask"]}
    return collate


def classifier_collator(tokenizer, siamese: bool = False):
    """The collator of classifier pair features (`encode_pairs`) of either architecture."""
    return siamese_collator(tokenizer) if siamese else pair_collator(tokenizer)


def seq2seq_collator(tokenizer):
    """Dynamic padding of `{"input_ids", "labels"}` seq2seq features: input_ids / attention_mask padded with the pad
    token / 0, labels with -100 (ignored by the loss)."""
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(_right_padding(tokenizer), label_pad_token_id=-100, return_tensors="pt")
