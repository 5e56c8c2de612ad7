"""Text encoders for dense retrieval: texts → float32, L2-normalised embeddings (n, dim).

`SentenceEncoder` wraps sentence-transformers (the packaged all-MiniLM-L6-v2 by default);
`MeanPoolEncoder` mean-pools the last layer of any HF encoder, as the ReCross paper does with the
upstream model's own encoder. Both expose `fingerprint`, a stable hash of the weights and pooling
settings that index caches key on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from crosstask.core.batching import length_batches
from crosstask.core.errors import CrosstaskError
from crosstask.core.precision import ENCODER_PRECISIONS, resolve_precision
from crosstask.core.provenance import hash_json
from crosstask.models.backbone import load_tokenizer, resolve_model
from crosstask.models.classifier import load_encoder

PRECISIONS = ENCODER_PRECISIONS  # bf16: autocast matmuls (AMX / AVX512-BF16 CPUs, GPUs); pooling stays fp32
PROGRESS_MIN_TEXTS = 2048  # show a progress bar only for encodes at least this long
_CONTENT_HASH_MAX_BYTES = 4 << 20  # files up to this size are hashed by content, larger ones by size+mtime


class Encoder(Protocol):
    """What retrieval needs from an encoder."""

    @property
    def fingerprint(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as contiguous float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def directory_fingerprint(path: str | Path) -> list[list[Any]]:
    """Per-file identity of a model directory: small files by content hash, weights by (size, mtime)."""
    root = Path(path)
    entries: list[list[Any]] = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = file.stat()
        rel = file.relative_to(root).as_posix()
        if stat.st_size <= _CONTENT_HASH_MAX_BYTES:
            entries.append([rel, hashlib.sha256(file.read_bytes()).hexdigest()])
        else:
            entries.append([rel, stat.st_size, stat.st_mtime_ns])
    return entries


def model_source_fingerprint(name_or_path: str | Path) -> Any:
    """A local model directory's file identities, or the hub id itself."""
    resolved = resolve_model(name_or_path)
    return directory_fingerprint(resolved) if Path(resolved).is_dir() else resolved


def state_dict_fingerprint(module: Any) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes (fine for small/medium models)."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        data = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(data.tobytes())
    return digest.hexdigest()


def concrete_encoder_precision(precision: str, device_type: str) -> str:
    """"auto" / "fp32" / "bf16" → "fp32" or "bf16" on this device (the value that keys the index cache)."""
    return "bf16" if resolve_precision(precision, device_type) == "bf16" else "fp32"


class SentenceEncoder:
    """sentence-transformers model (path, hub id or "default") producing normalised embeddings."""

    def __init__(self, model: str | Path = "default", batch_size: int = 64, device: str | None = None,
                 precision: str = "auto"):
        from sentence_transformers import SentenceTransformer

        if precision not in PRECISIONS:
            raise CrosstaskError(f"encoder precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.source = resolve_model(model)
        self.batch_size = batch_size
        try:
            self.model = SentenceTransformer(self.source, device=device)
        except OSError as exc:
            raise CrosstaskError(f"cannot load a sentence-transformers model from {model!r}: {exc}") from None
        self.precision = concrete_encoder_precision(precision, self.model.device.type)

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    @cached_property
    def fingerprint(self) -> str:
        settings = {"encoder": "sentence-transformers", "modules": repr(self.model),
                    "max_seq_length": self.model.max_seq_length, "normalize": True,
                    **({"precision": self.precision} if self.precision != "fp32" else {})}
        return hash_json({"source": model_source_fingerprint(self.source), "settings": settings})

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with torch.autocast(self.model.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                        convert_to_tensor=True, show_progress_bar=len(texts) >= PROGRESS_MIN_TEXTS)
        return l2_normalise(vectors.float().cpu().numpy())


def masked_mean(hidden: Any, attention_mask: Any) -> Any:
    """Mean of `hidden` (b, t, d) over the positions where `attention_mask` (b, t) is 1."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class MeanPoolEncoder:
    """Last-layer masked mean pooling of an HF encoder, L2-normalised (ReCross's retrieval encoder).

    `model_or_path`: a path / hub id / "default" (loaded with `load_encoder` + its tokenizer), or an
    already-loaded encoder module, in which case `tokenizer` is required.
    """

    def __init__(self, model_or_path: Any, max_length: int = 256, batch_size: int = 64, *, tokenizer: Any = None,
                 device: str | None = None, precision: str = "auto"):
        import torch

        if precision not in PRECISIONS:
            raise CrosstaskError(f"encoder precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")

        if isinstance(model_or_path, (str, Path)):

            self.source: str | None = resolve_model(model_or_path)
            self.model = load_encoder(self.source)
            self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(self.source)
        else:
            if tokenizer is None:
                raise CrosstaskError("MeanPoolEncoder needs a tokenizer when given a loaded model")
            self.source, self.model, self.tokenizer = None, model_or_path, tokenizer
        if device is not None:
            self.model.to(device)
        self.device = next(self.model.parameters()).device if device is None else torch.device(device)
        self.precision = concrete_encoder_precision(precision, self.device.type)
        self.max_length = max_length
        self.batch_size = batch_size
        self._file_fingerprint: str | None = None

    @property
    def dim(self) -> int:
        config = self.model.config
        for name in ("hidden_size", "d_model", "dim"):
            if getattr(config, name, None):
                return int(getattr(config, name))
        raise CrosstaskError(f"cannot tell the hidden size of {type(self.model).__name__}")

    @property
    def fingerprint(self) -> str:
        """From the saved files (computed once) when loaded from a path; from the in-memory weights
        (recomputed on each access, so later weight updates are seen) when given a module."""
        if self.source is not None:
            if self._file_fingerprint is None:
                self._file_fingerprint = self._fingerprint(model_source_fingerprint(self.source))
            return self._file_fingerprint
        return self._fingerprint(state_dict_fingerprint(self.model))

    def _fingerprint(self, weights: Any) -> str:
        settings = {"encoder": "mean-pool", "class": type(self.model).__name__, "max_length": self.max_length,
                    "pooling": "masked-mean-last-layer", "normalize": True,
                    **({"precision": self.precision} if self.precision != "fp32" else {}),
                    "tokenizer": [type(self.tokenizer).__name__, len(self.tokenizer)]}
        return hash_json({"weights": weights, "settings": settings})

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        batches = length_batches([len(i) for i in ids], self.batch_size, longest_first=True)
        out: np.ndarray | None = None
        was_training = self.model.training
        self.model.eval()
        try:
            autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")
            with torch.inference_mode(), autocast:
                for batch in tqdm(batches, desc="encode", disable=len(texts) < PROGRESS_MIN_TEXTS):
                    padded = self.tokenizer.pad({"input_ids": [ids[i] for i in batch]}, return_tensors="pt")
                    mask = padded["attention_mask"].to(self.device)
                    hidden = self.model(input_ids=padded["input_ids"].to(self.device),
                                        attention_mask=mask).last_hidden_state
                    pooled = masked_mean(hidden.float(), mask).cpu().numpy()
                    if out is None:
                        out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
                    out[batch] = pooled
        finally:
            self.model.train(was_training)
        return l2_normalise(out)
