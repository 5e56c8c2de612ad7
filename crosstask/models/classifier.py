"""Encoder-classifier: encoder + pooling + dropout + linear layer to 2 logits (incorrect, correct).

Two architectures: `cross` (default) reads `[context ; candidate]` as one sequence, pooled once. `siamese`
pools the context u and the candidate v in separate passes of the same encoder and puts the head on
[u, v, u*v, |u-v|] (SBERT's classification objective): the cross pair classifier stays on the ln 2 plateau
on balanced binary tasks, where the siamese one learns (docs/results/recross_r2.md); and every context is
encoded once however many candidates it has.

Pooling defaults to `mean` (masked mean over tokens): the default backbone, all-MiniLM-L6-v2, was
trained to produce mean-pooled sentence embeddings (its [CLS] vector was never trained for anything),
and T5 encoders have no [CLS] token at all. `first` pools the first token, as BERT-style classifiers do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from crosstask.core.batching import length_batches
from crosstask.core.errors import CrosstaskError
from crosstask.core.progress import progress
from crosstask.models.arch import ARCH_KEY, UNILM
from crosstask.models.backbone import resolve_model
from crosstask.models.card import write_encoder_note

CONFIG_FILE = "crosstask_classifier.json"
HEAD_FILE = "classifier_head.safetensors"
ENCODER_DIR = "encoder"


@dataclass(frozen=True)
class ClassifierConfig:
    model: str = "default"
    pooling: str = "mean"
    dropout: float = 0.2
    trust_remote_code: bool = False
    shared_context: bool = False  # score all candidates of an instance in one pass (a model variant)
    siamese: bool = False  # context and candidate pooled separately, head on [u, v, u*v, |u-v|]

    def __post_init__(self):
        if self.pooling not in ("mean", "first"):
            raise CrosstaskError(f"pooling must be 'mean' or 'first', got {self.pooling!r}")
        if self.siamese and self.shared_context:
            raise CrosstaskError("a classifier is either siamese or shared-context, not both")

    def architecture(self) -> dict:
        """What the model card and the inference settings say of the architecture."""
        return {"encoder": "AutoModel", "pooling": self.pooling,
                "head": "linear(2) on [u, v, u*v, |u-v|]" if self.siamese else "linear(2)",
                "dropout": self.dropout, "shared_context": self.shared_context, "siamese": self.siamese}


def load_encoder(name_or_path: str, trust_remote_code: bool = False) -> nn.Module:
    """The encoder of any backbone: T5 → T5EncoderModel, a saved bert2bert (EncoderDecoderModel) or
    other seq2seq → its get_encoder(), a saved unilm generator → its shared BERT, else AutoModel."""
    from transformers import AutoConfig, EncoderDecoderModel, T5EncoderModel

    from crosstask.models.unilm import UnilmForSeq2SeqLM  # local: transformers' BERT modelling (seconds to import)

    path = resolve_model(name_or_path)
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        if getattr(config, ARCH_KEY, None) == UNILM:  # the source side: bidirectional, masked mean pooled by callers
            return UnilmForSeq2SeqLM.from_pretrained(path).bert
        if config.model_type in ("t5", "mt5", "umt5"):
            return T5EncoderModel.from_pretrained(path)
        if config.model_type == "encoder-decoder":  # AutoModel has no mapping for it
            model = EncoderDecoderModel.from_pretrained(path)
        else:
            model = _auto_encoder(path, trust_remote_code)
    except OSError as exc:
        raise CrosstaskError(f"cannot load a model from {name_or_path!r}: {exc}") from None
    return drop_pooler(model.get_encoder() if config.is_encoder_decoder else model)


def saved_without_pooler(path: str | Path) -> bool:
    """Whether a local safetensors checkpoint holds no pooler weights, as every encoder crosstask saves (it pools
    itself); False for a hub id or another format, where that cannot be told without downloading."""
    directory = Path(path)
    if (directory / "model.safetensors.index.json").is_file():
        keys = json.loads((directory / "model.safetensors.index.json").read_text()).get("weight_map", {})
    elif (directory / "model.safetensors").is_file():
        with safe_open(directory / "model.safetensors", "pt") as weights:
            keys = list(weights.keys())
    else:
        return False
    return not any("pooler." in key for key in keys)


def _auto_encoder(path: str, trust_remote_code: bool) -> nn.Module:
    """AutoModel of `path`; a checkpoint saved without a pooler is built without one, so loading reports no pooler
    weights as missing and newly initialised (it would be dropped anyway)."""
    from transformers import AutoModel

    if saved_without_pooler(path):
        try:
            return AutoModel.from_pretrained(path, trust_remote_code=trust_remote_code, add_pooling_layer=False)
        except TypeError:  # an architecture without the option (and without a pooler)
            pass
    return AutoModel.from_pretrained(path, trust_remote_code=trust_remote_code)


def drop_pooler(model: nn.Module) -> nn.Module:
    """Remove a BERT-style pooler: crosstask pools itself, and parameters that get no gradient make
    DistributedDataParallel fail."""
    if getattr(model, "pooler", None) is not None:
        model.pooler = None
    return model


def _hidden_size(encoder: nn.Module) -> int:
    config = encoder.config
    for name in ("hidden_size", "d_model", "dim"):
        if getattr(config, name, None):
            return int(getattr(config, name))
    raise CrosstaskError(f"cannot tell the hidden size of {type(encoder).__name__}")


class EncoderClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, config: ClassifierConfig):
        super().__init__()
        self.encoder = encoder
        self.config = config
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(_hidden_size(encoder) * (4 if config.siamese else 1), 2)

    @classmethod
    def from_backbone(cls, config: ClassifierConfig) -> "EncoderClassifier":
        return cls(load_encoder(config.model, config.trust_remote_code), config)

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.config.pooling == "first":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled encoder output, (batch, hidden)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.pool(hidden, attention_mask)

    def interaction_logits(self, context: torch.Tensor, candidate: torch.Tensor) -> torch.Tensor:
        """Siamese head: (batch, 2) logits from pooled contexts u and candidates v."""
        features = torch.cat([context, candidate, context * candidate, (context - candidate).abs()], -1)
        return self.head(self.dropout(features))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, candidate_ids: torch.Tensor | None = None,
                candidate_attention_mask: torch.Tensor | None = None, context_index: torch.Tensor | None = None,
                candidate_index: torch.Tensor | None = None) -> torch.Tensor:
        """(pairs, 2) logits: of the `[context ; candidate]` pairs in `input_ids` (cross); siamese: of context i
        against candidate i, or, with `context_index` / `candidate_index`, of each pair's context row against its
        candidate row (each context and candidate encoded once)."""
        if not self.config.siamese:
            return self.head(self.dropout(self.embed(input_ids, attention_mask)))
        if candidate_ids is None or candidate_attention_mask is None:
            raise CrosstaskError("a siamese classifier scores a context against a candidate: pass candidate_ids and "
                                 "candidate_attention_mask")
        u, v = self.embed(input_ids, attention_mask), self.embed(candidate_ids, candidate_attention_mask)
        return self.interaction_logits(u if context_index is None else u[context_index],
                                       v if candidate_index is None else v[candidate_index])

    def parameter_groups(self, lr: float, head_lr: float, weight_decay: float = 0.01) -> list[dict]:
        """Optimizer groups: encoder at `lr`, head at `head_lr` (biases/norms without weight decay)."""
        def split(module: nn.Module) -> tuple[list, list]:
            decay, no_decay = [], []
            for name, param in module.named_parameters():
                if param.requires_grad:
                    (no_decay if param.ndim < 2 else decay).append(param)
            return decay, no_decay

        groups = []
        for module, rate, tag in ((self.encoder, lr, "encoder"), (self.head, head_lr, "head")):
            decay, no_decay = split(module)
            groups += [{"params": decay, "lr": rate, "weight_decay": weight_decay, "name": f"{tag}"},
                       {"params": no_decay, "lr": rate, "weight_decay": 0.0, "name": f"{tag}_no_decay"}]
        return [g for g in groups if g["params"]]

    def save_pretrained(self, directory: str | Path, tokenizer=None) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(directory / ENCODER_DIR)
        if tokenizer is not None:
            tokenizer.save_pretrained(directory / ENCODER_DIR)
        write_encoder_note(directory / ENCODER_DIR)  # the encoder alone is not the model: say so where it lies
        save_file({k: v.detach().contiguous() for k, v in self.head.state_dict().items()}, directory / HEAD_FILE)
        (directory / CONFIG_FILE).write_text(json.dumps({**asdict(self.config), "model": str(self.config.model)},
                                                        indent=2))

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "EncoderClassifier":
        directory = Path(directory)
        if not (directory / CONFIG_FILE).exists():
            raise CrosstaskError(f"{directory} is not a crosstask classifier (no {CONFIG_FILE})")
        config = ClassifierConfig(**json.loads((directory / CONFIG_FILE).read_text()))
        model = cls(load_encoder(str(directory / ENCODER_DIR), config.trust_remote_code), config)
        model.head.load_state_dict(load_file(directory / HEAD_FILE))
        return model


def is_classifier_dir(path: str | Path) -> bool:
    return (Path(path) / CONFIG_FILE).exists()


def pad_collate(features: list[dict], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Dynamic padding to the longest sequence of the batch."""
    width = max(len(f["input_ids"]) for f in features)
    ids = torch.full((len(features), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(features), width), dtype=torch.long)
    for row, f in enumerate(features):
        ids[row, :len(f["input_ids"])] = torch.tensor(f["input_ids"])
        mask[row, :len(f["input_ids"])] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if "labels" in features[0]:
        batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
    return batch


@torch.inference_mode()
def score_pairs(model, features: list[list[int]], pad_token_id: int, batch_size: int = 64,
                device: torch.device | str | None = None) -> list[float]:
    """P(correct) for each encoded pair of a cross classifier; batches grouped by length, results in input order.
    `device`: the model's own device unless given."""
    if not features:
        return []
    device = device if device is not None else next(model.parameters()).device
    logits = model.head(model.dropout(_embed_all(model, features, pad_token_id, batch_size, device)))
    return torch.softmax(logits.float(), -1)[:, 1].tolist()

def _embed_all(model, sequences: Sequence[Sequence[int]], pad_token_id: int, batch_size: int,
               device: torch.device | str) -> torch.Tensor:
    """(len(sequences), hidden) pooled embeddings; batches grouped by length."""
    rows: list[torch.Tensor | None] = [None] * len(sequences)
    batches = length_batches([len(s) for s in sequences], batch_size)
    for chunk in progress(batches, len(batches), "score", min_items=20):
        batch = pad_collate([{"input_ids": list(sequences[i])} for i in chunk], pad_token_id)
        for i, row in zip(chunk, model.embed(batch["input_ids"].to(device), batch["attention_mask"].to(device))):
            rows[i] = row
    return torch.stack(rows) if rows else torch.zeros(0)


@torch.inference_mode()
def score_siamese(model, contexts: Sequence[Sequence[int]], candidates: Sequence[Sequence[int]],
                  pairs: Sequence[tuple[int, int]], pad_token_id: int, batch_size: int = 64,
                  device: torch.device | str | None = None) -> list[float]:
    """P(correct) of each (context index, candidate index) pair of a siamese classifier; every context and
    every candidate is encoded once."""
    if not pairs:
        return []
    device = device if device is not None else next(model.parameters()).device
    u = _embed_all(model, contexts, pad_token_id, batch_size, device)
    v = _embed_all(model, candidates, pad_token_id, batch_size, device)
    index = torch.tensor(pairs, dtype=torch.long, device=u.device)
    logits = model.interaction_logits(u[index[:, 0]], v[index[:, 1]])
    return torch.softmax(logits.float(), -1)[:, 1].tolist()
