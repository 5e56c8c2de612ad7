"""The text-to-text generator, in one of three architectures (`GeneratorConfig.arch`, `--generator-arch`).

- `unilm` (default for BERT backbones such as the packaged MiniLM): one shared pretrained BERT as a
  seq2seq model, source bidirectional, target causal, output layer tied to the word embeddings —
  every weight pretrained but the output bias (`crosstask.models.unilm`).
- `bert2bert`: an `EncoderDecoderModel` whose encoder and decoder both start from an encoder-only
  checkpoint, with newly initialised cross-attention.
- `seq2seq` (T5 / BART / ... ids): `AutoModelForSeq2SeqLM` as it is.

All three are `generate`-capable encoder-decoders to the rest of crosstask: sources are token ids (see
`crosstask.data.prompts.encode_segments`); targets are encoded with `encode_target`, whose convention
matches the model's `decoder_start_token_id`. The arch is written into the saved config.json
(`crosstask_generator_arch`) and detected on load.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from crosstask.core.batching import length_batches
from crosstask.core.errors import CrosstaskError
from crosstask.core.progress import progress
from crosstask.models.arch import ARCH_KEY, MODEL_TYPES
from crosstask.models.backbone import load_tokenizer, resolve_model
from crosstask.models.classifier import drop_pooler

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass(frozen=True)
class GeneratorConfig:
    """Which backbone to use and how long sources and targets may be (in tokens)."""

    model: str = "default"
    trust_remote_code: bool = False
    max_source_length: int = 256
    max_target_length: int = 64
    arch: str | None = None  # unilm | bert2bert | seq2seq; None: unilm for BERT backbones, seq2seq for seq2seq ones


GENERATOR_ARCHS = ("unilm", "bert2bert", "seq2seq")


def default_arch(config) -> str:
    """The arch of a saved generator, else the default for a backbone: seq2seq for encoder-decoder
    checkpoints, unilm for BERT ones, bert2bert for other encoder-only ones."""
    if config.model_type == "encoder-decoder":
        return "bert2bert"
    if getattr(config, ARCH_KEY, None) in GENERATOR_ARCHS:
        return getattr(config, ARCH_KEY)
    if getattr(config, "is_encoder_decoder", False):
        return "seq2seq"
    return "unilm" if config.model_type in MODEL_TYPES else "bert2bert"


def _check_arch(config, arch: str | None) -> str:
    """The arch to build or load: `arch` if the checkpoint allows it, else its default."""
    detected = default_arch(config)
    if arch is None or arch == detected:
        return detected
    if arch not in GENERATOR_ARCHS:
        raise CrosstaskError(f"generator arch must be one of {', '.join(GENERATOR_ARCHS)}, got {arch!r}")
    is_generator = config.model_type == "encoder-decoder" or getattr(config, "is_encoder_decoder", False)
    if is_generator:  # a saved generator or a seq2seq backbone: only what it is
        raise CrosstaskError(f"this checkpoint is a {detected} generator; it cannot be loaded as {arch}")
    if arch == "seq2seq":
        raise CrosstaskError(f"{config.model_type} is encoder-only: use --generator-arch unilm or bert2bert")
    return arch


def _warm_start_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int, int]:
    """(decoder start, eos, pad) for a warm-started encoder-decoder: [CLS] starts, [SEP] ends."""
    start = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    eos = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    pad = tokenizer.pad_token_id
    if start is None or eos is None or pad is None:
        raise CrosstaskError("warm-starting an encoder-decoder needs a tokenizer with cls/bos, sep/eos and pad tokens")
    return start, eos, pad


def load_generator(name_or_path: str | Path, trust_remote_code: bool = False, arch: str | None = None
                   ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The generator and its tokenizer, in eval mode.

    A saved generator loads as the arch its config records (`save_generator`; a bert2bert is an
    `EncoderDecoderModel` config), a seq2seq checkpoint (T5, BART) as itself. An encoder-only
    checkpoint is built into `arch` (default: `default_arch`): `unilm`, or `bert2bert`, warm-started
    into an `EncoderDecoderModel` (encoder = decoder = the checkpoint, cross-attention newly
    initialised). Encoder-only archs get decoder_start = [CLS], eos = [SEP] and pad on both the
    config and the generation config. The arch is set on the config, so it is saved with the model.
    """
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, EncoderDecoderModel

    from crosstask.models.unilm import build_unilm  # local: transformers' BERT modelling (seconds to import)

    path = resolve_model(name_or_path)
    tokenizer = load_tokenizer(name_or_path, trust_remote_code=trust_remote_code)
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        arch = _check_arch(config, arch)
        if arch == "unilm":
            model = build_unilm(path, tokenizer, trust_remote_code=trust_remote_code)
        elif config.model_type == "encoder-decoder":
            model = EncoderDecoderModel.from_pretrained(path)
        elif arch == "seq2seq":
            model = AutoModelForSeq2SeqLM.from_pretrained(path, trust_remote_code=trust_remote_code)
        else:
            model = EncoderDecoderModel.from_encoder_decoder_pretrained(
                path, path, encoder_trust_remote_code=trust_remote_code, decoder_trust_remote_code=trust_remote_code)
            start, eos, pad = _warm_start_ids(tokenizer)
            for target in (model.config, model.generation_config):
                target.decoder_start_token_id = start
                target.eos_token_id = eos
                target.pad_token_id = pad
    except (OSError, ValueError) as exc:
        raise CrosstaskError(f"cannot load a generator from {name_or_path!r}: {exc}") from None
    setattr(model.config, ARCH_KEY, arch)
    if arch == "bert2bert":
        drop_pooler(model.encoder)  # a warm-started BERT encoder's pooler is never used
    model.eval()  # from_encoder_decoder_pretrained returns a model in training mode
    return model, tokenizer


def generator_arch(model: PreTrainedModel) -> str:
    """The arch of a loaded generator (see `load_generator`)."""
    return getattr(model.config, ARCH_KEY, None) or default_arch(model.config)


def save_generator(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, directory: str | Path) -> None:
    """Model (safetensors, config, generation config) and tokenizer into one directory."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)


def encode_target(tokenizer: PreTrainedTokenizerBase, text: str, max_length: int) -> list[int]:
    """Label ids for a target, ending with the tokenizer's end token, at most `max_length` long.

    The tokenizer's own target encoding is used, except that a leading [CLS] is dropped when the
    tokenizer's cls token is not also its bos token (BERT-style): [CLS] is the warm-started
    model's decoder_start_token_id, which the model prepends itself when shifting labels right.
    So BERT gives tokens + [SEP], T5 tokens + </s>, BART <s> + tokens + </s> (its decoder starts
    with </s>), all consistent with `shift_tokens_right(labels, pad, decoder_start_token_id)`.
    """
    cls = tokenizer.cls_token_id
    drop = int(cls is not None and cls != tokenizer.bos_token_id)
    ids = tokenizer(text_target=text, truncation=True, max_length=max_length + drop)["input_ids"]
    if drop and ids and ids[0] == cls:
        ids = ids[1:]
    return list(ids[:max_length])


def _pad(rows: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    width = max((len(row) for row in rows), default=0)
    return torch.tensor([[*row, *[value] * (width - len(row))] for row in rows], dtype=torch.long)


def seq2seq_collate(features: list[dict], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pad `input_ids` (with an attention mask) and, if present, `labels` (with -100)."""
    inputs = [list(feature["input_ids"]) for feature in features]
    batch = {"input_ids": _pad(inputs, pad_token_id),
             "attention_mask": _pad([[1] * len(row) for row in inputs], 0)}
    if features and "labels" in features[0]:
        batch["labels"] = _pad([list(feature["labels"]) for feature in features], -100)
    return batch


@contextmanager
def _evaluating(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for the block; the previous training flag is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def generate(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, sources: list[list[int]], *,
             max_new_tokens: int = 64, num_beams: int = 1, num_return_sequences: int = 1,
             batch_size: int = 16) -> list[list[str]]:
    """Greedy (num_beams=1) or beam-search outputs: `num_return_sequences` stripped strings per
    source, in input order. Sources are batched by length to limit padding."""
    if num_return_sequences > num_beams:
        raise ValueError(f"num_return_sequences ({num_return_sequences}) must be <= num_beams ({num_beams})")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else model.config.pad_token_id
    outputs: list[list[str]] = [[] for _ in sources]
    device = _device(model)
    with _evaluating(model):
        batches = length_batches([len(s) for s in sources], batch_size, longest_first=True)
        for chunk in progress(batches, len(batches), "generate", min_items=20):
            batch = seq2seq_collate([{"input_ids": sources[i]} for i in chunk], pad)
            generated = model.generate(
                input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
                max_new_tokens=max_new_tokens, num_beams=num_beams, num_return_sequences=num_return_sequences,
                do_sample=False)
            texts = tokenizer.batch_decode(generated, skip_special_tokens=True)
            for k, i in enumerate(chunk):
                outputs[i] = [t.strip() for t in texts[k * num_return_sequences:(k + 1) * num_return_sequences]]
    return outputs


def sequence_log_likelihoods(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, source: list[int],
                             candidates: list[str], *, max_target_length: int = 64,
                             length_normalize: bool = False) -> list[float]:
    """log P(candidate | source) for each candidate: the sum over its target tokens (eos included,
    see `encode_target`), or the per-token mean when `length_normalize`. The source is encoded once
    and all candidates are scored in one decoder pass."""
    return batch_sequence_log_likelihoods(model, tokenizer, [source], [candidates],
                                          max_target_length=max_target_length,
                                          length_normalize=length_normalize)[0]


def batch_sequence_log_likelihoods(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                                   sources: Sequence[Sequence[int]], candidates: Sequence[Sequence[str]], *,
                                   max_target_length: int = 64, length_normalize: bool = False) -> list[list[float]]:
    """`sequence_log_likelihoods` for several sources at once, each with its own candidates: the
    (right-padded) sources are encoded in one pass, then every (source, candidate) row in one decoder
    pass, each row reading its source's encoder output."""
    if len(sources) != len(candidates):
        raise ValueError(f"{len(sources)} sources but {len(candidates)} candidate lists")
    owners = [j for j, options in enumerate(candidates) for _ in options]
    if not owners:
        return [[] for _ in sources]
    device = _device(model)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else model.config.pad_token_id
    batch = seq2seq_collate([{"input_ids": list(s)} for s in sources], pad if pad is not None else 0)
    labels = seq2seq_collate(
        [{"input_ids": [], "labels": encode_target(tokenizer, c, max_target_length)} for cs in candidates for c in cs],
        0)["labels"].to(device)
    row_source = torch.tensor(owners, dtype=torch.long, device=device)
    with _evaluating(model):
        attention_mask = batch["attention_mask"].to(device)
        encoded = model.get_encoder()(input_ids=batch["input_ids"].to(device), attention_mask=attention_mask,
                                      return_dict=True)
        # every batch-first tensor of the encoder output (unilm: also the source's keys / values per layer)
        per_row = {k: v.index_select(0, row_source) for k, v in encoded.items() if isinstance(v, torch.Tensor)}
        logits = model(encoder_outputs=type(encoded)(**per_row), attention_mask=attention_mask[row_source],
                       decoder_input_ids=model.prepare_decoder_input_ids_from_labels(labels=labels),
                       use_cache=False).logits
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        mask = labels != -100
        picked = log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
        scores = picked.sum(-1)
        if length_normalize:
            scores = scores / mask.sum(-1).clamp(min=1)
    flat = scores.tolist()
    out: list[list[float]] = [[] for _ in sources]
    for owner, score in zip(owners, flat):
        out[owner].append(score)
    return out


def rank_candidates(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, source: list[int],
                    candidates: list[str], **kwargs) -> tuple[str, list[float]]:
    """The most likely candidate (first on ties) and every candidate's score
    (keyword arguments go to `sequence_log_likelihoods`)."""
    if not candidates:
        raise ValueError("rank_candidates needs at least one candidate")
    scores = sequence_log_likelihoods(model, tokenizer, source, candidates, **kwargs)
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    return candidates[best], scores
