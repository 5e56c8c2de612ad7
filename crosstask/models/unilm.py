"""A UniLM-style sequence-to-sequence generator built from one pretrained BERT, with no new attention.

Dong et al. 2019 ("Unified Language Model Pre-training for Natural Language Understanding and
Generation"): source and target share one Transformer; a self-attention mask makes it a seq2seq
model. Source tokens attend bidirectionally among the source only; target tokens attend to the
(unpadded) source and causally to their own prefix. Every weight of the Transformer is the
checkpoint's; the output layer is the word-embedding matrix itself (logits = h · Eᵀ + b), so the only
new parameter is the output bias b (zeros). `head="transform"` adds BERT's MLM transform
(dense + gelu + LayerNorm) before it: loaded when the checkpoint has an MLM head, newly initialised
otherwise (the packaged MiniLM has none).

Layout, as for a seq2seq model: `input_ids` / `attention_mask` are the source (any padding side),
`decoder_input_ids` the target shifted right behind [CLS] (`labels`: tokens + [SEP], see
`crosstask.models.generator.encode_target`). Source positions are 0…n−1 (segment 0); target
positions continue at n, n+1, … (segment 1), so padding never shifts a position.

The model is a `PreTrainedModel` + `GenerationMixin` with `config.is_encoder_decoder = True`:
`get_encoder()` runs the source once and returns its hidden states and every layer's keys / values
(`UnilmEncoderOutput`; batch first, so `generate` expands them for beams); the first decoding step
copies those into the key/value cache, each later step feeds one token. Because no source token ever
attends to the target, the cached source states are exactly those of a full forward pass.
The arch is saved in config.json (`crosstask_generator_arch: "unilm"`); config.model_type stays
"bert", so `AutoModel.from_pretrained` of a saved generator gives a `BertModel` with its Transformer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertModel, GenerationMixin
from transformers.cache_utils import EncoderDecoderCache
from transformers.modeling_outputs import Seq2SeqLMOutput
from transformers.models.bert.modeling_bert import BertPredictionHeadTransform, BertPreTrainedModel
from transformers.utils import ModelOutput

from crosstask.models.arch import ARCH_KEY, MODEL_TYPES, UNILM

__all__ = ["ARCH_KEY", "MODEL_TYPES", "UNILM", "UnilmForSeq2SeqLM", "build_unilm", "causal_target_mask"]
HEADS = ("tied", "transform")


@dataclass
class UnilmEncoderOutput(ModelOutput):
    """The source pass: last hidden states (b, s, d) and each layer's keys / values (b, layers, heads, s, head_dim)."""

    last_hidden_state: torch.FloatTensor | None = None
    source_keys: torch.FloatTensor | None = None
    source_values: torch.FloatTensor | None = None


class _LayerKV:
    """A stand-in for a cache inside `BertModel`: records each layer's new keys / values and returns
    them behind an optional prefix (the source's), so one pass needs no stored cache."""

    def __init__(self, prefix_keys: torch.Tensor | None = None, prefix_values: torch.Tensor | None = None):
        self.prefix_keys, self.prefix_values = prefix_keys, prefix_values
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    def update(self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int, *args, **kwargs):
        self.keys.append(keys)
        self.values.append(values)
        if self.prefix_keys is None:
            return keys, values
        return (torch.cat([self.prefix_keys[:, layer_idx].to(keys.dtype), keys], dim=-2),
                torch.cat([self.prefix_values[:, layer_idx].to(values.dtype), values], dim=-2))

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return 0 if self.prefix_keys is None else self.prefix_keys.shape[-2]


class UnilmLMHead(nn.Module):
    """Output layer tied to the word embeddings: logits = transform?(h) · Eᵀ + bias."""

    def __init__(self, config: BertConfig, transform: bool):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config) if transform else None
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        if self.transform is not None:
            hidden = self.transform(hidden)
        return F.linear(hidden, word_embeddings, self.bias)


class UnilmSourceEncoder(nn.Module):
    """The source half of a `UnilmForSeq2SeqLM` (its `get_encoder()`): a bidirectional pass over the source."""

    main_input_name = "input_ids"

    def __init__(self, bert: BertModel):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, return_dict: bool = True,
                **kwargs) -> UnilmEncoderOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        recorder = _LayerKV()
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions,
                           token_type_ids=torch.zeros_like(input_ids), cache=recorder,
                           use_cache=False).last_hidden_state
        return UnilmEncoderOutput(last_hidden_state=hidden, source_keys=torch.stack(recorder.keys, dim=1),
                                  source_values=torch.stack(recorder.values, dim=1))


def causal_target_mask(source_mask: torch.Tensor, past: int, length: int) -> torch.Tensor:
    """(b, 1, length, s + past + length) booleans, True where a target query may attend: the source's
    real tokens, and the target positions up to and including its own."""
    b, s = source_mask.shape
    query = torch.arange(length, device=source_mask.device)[:, None] + past
    key = torch.arange(past + length, device=source_mask.device)[None, :]
    target = (key <= query).expand(b, 1, length, past + length)
    source = source_mask.bool()[:, None, None, :].expand(b, 1, length, s)
    return torch.cat([source, target], dim=-1)


class UnilmForSeq2SeqLM(BertPreTrainedModel, GenerationMixin):
    """One shared BERT as a seq2seq model (see the module docstring); `config.unilm_head` in HEADS."""

    _keys_to_ignore_on_load_unexpected = [r"pooler", r"cls\.seq_relationship", r"cls\.predictions\.decoder"]

    def __init__(self, config: BertConfig):
        head = getattr(config, "unilm_head", "tied")
        if head not in HEADS:
            raise ValueError(f"unilm_head must be one of {HEADS}, got {head!r}")
        config.is_encoder_decoder = True  # for GenerationMixin: the source is encoded once, then decoded
        setattr(config, ARCH_KEY, UNILM)
        config.unilm_head = head
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = nn.ModuleDict({"predictions": UnilmLMHead(config, transform=head == "transform")})
        self.post_init()

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, UnilmLMHead):
            from transformers import initialization as init

            init.zeros_(module.bias)

    def get_encoder(self, modality: str | None = None) -> UnilmSourceEncoder:
        return UnilmSourceEncoder(self.bert)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.bert.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.bert.embeddings.word_embeddings = value

    def _start_and_pad(self) -> tuple[int, int]:
        start = self.generation_config.decoder_start_token_id
        pad = self.generation_config.pad_token_id
        if start is None or pad is None:
            raise ValueError("set decoder_start_token_id and pad_token_id on the generation config")
        return start, pad

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Labels shifted right behind the decoder start token; -100 becomes padding."""
        start, pad = self._start_and_pad()
        shifted = labels.new_full(labels.shape, start)
        shifted[:, 1:] = labels[:, :-1]
        return shifted.masked_fill(shifted == -100, pad)

    def _target_bias(self, allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if self.config._attn_implementation == "eager":  # additive float mask; sdpa takes booleans
            return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
                ~allowed, torch.finfo(dtype).min)
        return allowed

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                decoder_input_ids: torch.Tensor | None = None, encoder_outputs: UnilmEncoderOutput | None = None,
                cache=None, labels: torch.Tensor | None = None, use_cache: bool | None = None,
                logits_to_keep: int = 0, return_dict: bool = True, **kwargs) -> Seq2SeqLMOutput:
        """Target logits (b, t, vocab) given the source (`input_ids`, or its `encoder_outputs`).
        With `cache` (a `DynamicCache` / `EncoderDecoderCache`), the first call stores the source's
        keys / values in it and every call appends the target tokens' own."""
        cache = kwargs.pop("past_key_values", cache)
        if encoder_outputs is None:
            encoder_outputs = self.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
        keys, values = encoder_outputs.source_keys, encoder_outputs.source_values
        b, s = keys.shape[0], keys.shape[-2]
        source_mask = attention_mask if attention_mask is not None else keys.new_ones((b, s), dtype=torch.long)
        if decoder_input_ids is None:
            if labels is None:
                raise ValueError("pass decoder_input_ids or labels")
            decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        if cache is not None:
            layers = cache.self_attention_cache if isinstance(cache, EncoderDecoderCache) else cache
            if layers.get_seq_length() == 0:
                for i in range(keys.shape[1]):
                    layers.update(keys[:, i], values[:, i], i)
            past = layers.get_seq_length() - s
        else:
            layers, past = _LayerKV(keys, values), 0
        t = decoder_input_ids.shape[1]
        positions = source_mask.long().sum(-1, keepdim=True) + past + torch.arange(t, device=decoder_input_ids.device)
        segment = 1 if self.config.type_vocab_size > 1 else 0
        bias = self._target_bias(causal_target_mask(source_mask, past, t), encoder_outputs.last_hidden_state.dtype)
        hidden = self.bert(input_ids=decoder_input_ids, attention_mask=bias, position_ids=positions,
                           token_type_ids=torch.full_like(decoder_input_ids, segment), cache=layers,
                           use_cache=False).last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.cls["predictions"](hidden, self.bert.embeddings.word_embeddings.weight)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
        return Seq2SeqLMOutput(loss=loss, logits=logits, cache=cache,
                               encoder_last_hidden_state=encoder_outputs.last_hidden_state)


def build_unilm(path: str, tokenizer, head: str = "tied", **kwargs) -> UnilmForSeq2SeqLM:
    """A UniLM generator from a pretrained BERT checkpoint (or a saved UniLM generator), with
    decoder start = [CLS], eos = [SEP] and pad set on its config and generation config."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path, **kwargs)
    if config.model_type not in MODEL_TYPES:
        raise ValueError(f"the unilm generator needs a BERT backbone (model_type {' / '.join(MODEL_TYPES)}), "
                         f"got {config.model_type!r}: use --generator-arch bert2bert")
    if getattr(config, ARCH_KEY, None) != UNILM:
        config.unilm_head = head
    model = UnilmForSeq2SeqLM.from_pretrained(path, config=config)
    start = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    eos = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if start is None or eos is None or tokenizer.pad_token_id is None:
        raise ValueError("the unilm generator needs a tokenizer with cls/bos, sep/eos and pad tokens")
    for target in (model.config, model.generation_config):
        target.decoder_start_token_id, target.eos_token_id, target.pad_token_id = start, eos, tokenizer.pad_token_id
    return model
