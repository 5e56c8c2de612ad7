"""FAISS inner-product indexes over pool embeddings, saved as `faiss.write_index` + plain JSON
metadata (never pickle), and an on-disk cache keyed by pool content, encoder and index settings."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crosstask.core.errors import CrosstaskError, warn
from crosstask.core.io import atomic_write_json
from crosstask.core.provenance import file_digest
from crosstask.data.records import T0Record
from crosstask.retrieval.encoders import Encoder, hash_json

logger = logging.getLogger(__name__)

INDEX_FILE = "index.faiss"
META_FILE = "meta.json"
FORMAT_VERSION = 1
KINDS = ("exact", "hnsw", "ivf")
DEFAULT_PARAMS: dict[str, dict[str, int]] = {
    "exact": {},
    "hnsw": {"M": 32, "ef_construction": 200, "ef_search": 128},  # raised to k at search time
    # nlist defaults to min(4·sqrt(n), n/39) at build time; nprobe 64 of 533 lists (21k records) keeps
    # recall@512 ≥ 0.91 on the upstream pool, nprobe 16 fell to 0.66 (benchmarks/perf_ann.py)
    "ivf": {"nprobe": 64},
}


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise CrosstaskError(f"expected a 2-d array of vectors, got shape {vectors.shape}")
    return vectors


def resolve_params(kind: str, n: int, params: dict[str, Any]) -> dict[str, int]:
    """Defaults for `kind` overridden by `params`; unknown names are an error."""
    if kind not in KINDS:
        raise CrosstaskError(f"index kind must be one of {', '.join(KINDS)}, got {kind!r}")
    allowed = set(DEFAULT_PARAMS[kind]) | ({"nlist"} if kind == "ivf" else set())
    unknown = set(params) - allowed
    if unknown:
        raise CrosstaskError(f"unknown parameter(s) for a {kind} index: {', '.join(sorted(unknown))}")
    resolved = {**DEFAULT_PARAMS[kind], **{k: int(v) for k, v in params.items()}}
    if kind == "ivf":
        resolved.setdefault("nlist", max(1, min(int(4 * math.sqrt(n)), n // 39)))
        if not 1 <= resolved["nlist"] <= max(n, 1):
            raise CrosstaskError(f"nlist must be between 1 and the pool size {n}, got {resolved['nlist']}")
    return resolved


def _apply_search_params(index: Any, kind: str, params: dict[str, int]) -> None:
    if kind == "hnsw":
        index.hnsw.efSearch = params["ef_search"]
    elif kind == "ivf":
        index.nprobe = min(params["nprobe"], params["nlist"])


@dataclass
class DenseIndex:
    """A FAISS index (inner product = cosine on normalised vectors) aligned with pool record uids."""

    index: Any
    uids: list[str]
    kind: str = "exact"
    params: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(cls, embeddings: np.ndarray, uids: Sequence[str], kind: str = "exact", fingerprint: str = "",
              **params: Any) -> DenseIndex:
        """Index `embeddings` (row i ↔ uids[i]); kinds: exact (IndexFlatIP), hnsw, ivf."""
        import faiss

        vectors = _as_matrix(embeddings)
        n, dim = vectors.shape
        if len(uids) != n:
            raise CrosstaskError(f"{n} embeddings but {len(uids)} uids")
        resolved = resolve_params(kind, n, params)
        if kind == "exact":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, resolved["M"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = resolved["ef_construction"]
        else:
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, resolved["nlist"], faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
        index.add(vectors)
        _apply_search_params(index, kind, resolved)
        return cls(index, list(uids), kind, resolved, fingerprint)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores float32, ids int64), each (n_queries, min(k, size)); approximate kinds may
        pad with id -1 when they find fewer than k vectors."""
        queries = _as_matrix(queries)
        if queries.shape[1] != self.dim:
            raise CrosstaskError(f"query dimension {queries.shape[1]} does not match the index ({self.dim})")
        k = min(int(k), self.size)
        if k <= 0 or len(queries) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        # HNSW keeps only efSearch candidates: fewer than k loses recall (0.73 at k=512, ef 128)
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = max(self.params["ef_search"], k)
        scores, ids = self.index.search(queries, k)
        return scores.astype(np.float32, copy=False), ids.astype(np.int64, copy=False)

    def metadata(self) -> dict[str, Any]:
        import faiss

        return {"format": FORMAT_VERSION, "kind": self.kind, "params": self.params, "dim": self.dim,
                "size": self.size, "fingerprint": self.fingerprint, "faiss_version": faiss.__version__,
                "uids": self.uids}

    def save(self, directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write index.faiss, then meta.json (JSON only; meta.json last marks a complete save)."""
        import faiss

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / INDEX_FILE))
        atomic_write_json(directory / META_FILE, {**self.metadata(), **(extra or {})})
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> DenseIndex:
        import faiss

        directory = Path(directory)
        if not (directory / META_FILE).exists() or not (directory / INDEX_FILE).exists():
            raise CrosstaskError(f"{directory} holds no saved index ({INDEX_FILE} + {META_FILE})")
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        index = faiss.read_index(str(directory / INDEX_FILE))
        if meta.get("format") != FORMAT_VERSION or index.d != meta["dim"] or index.ntotal != len(meta["uids"]):
            raise CrosstaskError(f"{directory}: index and metadata disagree (format, dim or size)")
        params = {k: int(v) for k, v in meta["params"].items()}
        _apply_search_params(index, meta["kind"], params)
        return cls(index, list(meta["uids"]), meta["kind"], params, meta.get("fingerprint", ""))


def recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray, k: int) -> float:
    """Mean over queries of |approx top-k ∩ exact top-k| / k (ids of -1 never count)."""
    approx, exact = np.asarray(approx_ids)[:, :k], np.asarray(exact_ids)[:, :k]
    if len(exact) == 0 or k <= 0:
        return 1.0
    hits = [len(set(a[a >= 0].tolist()) & set(e[e >= 0].tolist())) / max(1, min(k, int((e >= 0).sum())))
            for a, e in zip(approx, exact)]
    return float(np.mean(hits))


def records_digest(records: Sequence[T0Record]) -> str:
    """Hash of the pool as indexed: order, uids and inputs (the same files with another
    `max_per_task` give another pool)."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(record.uid.encode())
        digest.update(b"\0")
        digest.update(record.input.encode())
        digest.update(b"\1")
    return digest.hexdigest()


@dataclass
class CacheResult:
    index: DenseIndex
    built: bool  # False: loaded from the cache
    build_seconds: float  # time the build took (now, or when the cached index was built)
    load_seconds: float  # 0.0 when built
    key: str
    path: Path


@dataclass
class IndexCache:
    """Indexes under `root/<key>/`, key = sha256(pool files' content, pool records, encoder
    fingerprint, kind, params); a changed pool or model gives a new key, hence a rebuild."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def key(self, pool_files: Sequence[str | Path], records: Sequence[T0Record], fingerprint: str, kind: str,
            params: dict[str, int]) -> str:
        files = sorted((Path(p).name, file_digest(p)) for p in pool_files)
        return hash_json({"files": files, "records": records_digest(records), "encoder": fingerprint,
                          "kind": kind, "params": params, "format": FORMAT_VERSION})

    def get_or_build(self, pool_files: Sequence[str | Path], records: Sequence[T0Record], encoder: Encoder,
                     kind: str = "exact", **params: Any) -> CacheResult:
        """Load the cached index for this pool/encoder/kind/params, or encode + build + store it."""
        resolved = resolve_params(kind, len(records), params)
        fingerprint = encoder.fingerprint
        key = self.key(pool_files, records, fingerprint, kind, resolved)
        final = self.root / key
        if final.exists():
            start = time.perf_counter()
            try:
                index, meta = self._load_checked(final, key, records, fingerprint, kind, resolved)
                return CacheResult(index, False, float(meta.get("build_seconds", 0.0)),
                                   time.perf_counter() - start, key, final)
            except Exception as exc:  # noqa: BLE001 - truncated, reordered, foreign: rebuild it
                warn(f"index cache entry {final} is unusable ({' '.join(str(exc).split())[:160]}); rebuilding it")
                self._discard(final)
        start = time.perf_counter()
        logger.info("building a %s index of %d records (encoding them first) ...", kind, len(records))
        embeddings = encoder.encode([r.input for r in records])
        index = DenseIndex.build(embeddings, [r.uid for r in records], kind, fingerprint, **resolved)
        seconds = time.perf_counter() - start
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{key[:12]}.", suffix=".tmp"))
        try:
            os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
            index.save(tmp, extra={"build_seconds": seconds, "key": key, "n_records": len(records)})
            os.replace(tmp, final)
        except OSError:
            if not (final / META_FILE).exists():  # not a concurrent writer that finished first
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return CacheResult(index, True, seconds, 0.0, key, final)

    @staticmethod
    def _load_checked(final: Path, key: str, records: Sequence[T0Record], fingerprint: str, kind: str,
                      params: dict[str, int]) -> tuple[DenseIndex, dict]:
        """The cached index, if it loads and its metadata matches what was asked for (else raises)."""
        index = DenseIndex.load(final)
        meta = json.loads((final / META_FILE).read_text(encoding="utf-8"))
        expected = {"key": key, "kind": kind, "params": params, "fingerprint": fingerprint}
        wrong = [name for name, value in expected.items() if meta.get(name) != value]
        if wrong or index.uids != [r.uid for r in records]:
            raise CrosstaskError(f"metadata does not match the pool and encoder ({', '.join(wrong) or 'uids'})")
        return index, meta

    @staticmethod
    def _discard(final: Path) -> None:
        """Move an unusable entry aside, then delete it (a concurrent reader never sees half of it)."""
        aside = final.parent / f".{final.name}.broken-{os.getpid()}"
        try:
            os.replace(final, aside)
        except OSError:
            aside = final
        shutil.rmtree(aside, ignore_errors=True)
