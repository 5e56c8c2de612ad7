"""ReCross reranking: a sentence-transformers `CrossEncoder` over (query input, candidate input) pairs,
trained by distant supervision from the upstream model's own held-out losses.

`rerank` scores every (query, candidate) pair, averages over the queries and keeps the top N (the
caller retrieves μ·N first). The cross-encoder is a 2-way classifier (num_labels=2, labels 0 =
unhelpful, 1 = helpful, cross-entropy), as in the paper; its score is P(helpful) (softmax). Any object
with `predict(pairs) -> np.ndarray` works: 1-d outputs are used as they are, (n, 2) as logits.

Distant supervision (the ReCross code's `gen_better_ds`): every upstream task in turn is a pseudo
target. For each sampled query set of its inputs: retrieve candidates from the *other* tasks, shuffle
them into `n_groups` groups of `group_size`, fine-tune a copy of the upstream model on each group
(`adapt.fine_tune`, paper optimiser) and measure the loss on labelled held-out records of the pseudo
target. A candidate's score is the mean loss change (Δ vs. the unadapted model) of the groups it was
in over `n_shuffles` shuffles; the `n_label` lowest-Δ candidates are positives, the `n_label`
highest-Δ negatives (`strict=True` also requires Δ < 0 / Δ > 0). Rows: every query × every labelled
candidate (the paper's "product" pairs).

Scaling to a 2-core CPU (paper → defaults here): query set 8 → 8; candidates: top 100 of 500 → top
`group_size·n_groups` = 64; groups of 20 (5 groups) → 16 (4 groups); 3 shuffles → 1; held-out 100
test records → 32; query sets: thousands over all upstream tasks on GPUs → `n_query_sets`=1 per
pseudo-target; reranker RoBERTa/BART-base, batch 64, lr 1e-5, 5 epochs, 512 tokens → the packaged
MiniLM ("default"), batch 16, lr 2e-5, 1 epoch, 256 tokens. That is 4 adaptations of 4 optimiser steps
per query set, about a minute each query set with the MiniLM classifier.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from crosstask.data.records import T0Record
from crosstask.errors import CrosstaskError
from crosstask.io import atomic_write_jsonl, read_jsonl
from crosstask.retrieval.adapt import AdaptConfig, check_kind, fine_tune, heldout_loss, load_model
from crosstask.retrieval.encoders import hash_json
from crosstask.retrieval.retrievers import RetrievedItem, RetrievedSet, Retriever


def pair_scores(cross_encoder, pairs: list[tuple[str, str]], batch_size: int = 32) -> np.ndarray:
    """One score per pair: P(helpful) for a 2-logit model, the raw score for a 1-score model."""
    if not pairs:
        return np.zeros(0, dtype=np.float32)
    try:
        from sentence_transformers import CrossEncoder
    except ImportError:  # pragma: no cover - sentence-transformers is a dependency
        CrossEncoder = ()
    if isinstance(cross_encoder, CrossEncoder):
        raw = cross_encoder.predict(pairs, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
    else:
        raw = cross_encoder.predict(pairs)
    scores = np.asarray(raw, dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] == 2:
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores = shifted[:, 1] / shifted.sum(axis=1)
    scores = scores.reshape(len(pairs), -1)
    if scores.shape[1] != 1:
        raise CrosstaskError(f"expected one score or two logits per pair, got shape {np.shape(raw)}")
    return scores[:, 0]


def rerank(cross_encoder, queries: Sequence[str], candidates: RetrievedSet, pool_records: Sequence[T0Record],
           n: int, batch_size: int = 32) -> RetrievedSet:
    """The `n` candidates of highest mean cross-encoder score over the queries (ties: retrieval order).
    Item scores become the mean reranker scores; per-query retrieval hits are kept."""
    queries = list(queries)
    if not queries:
        raise CrosstaskError("reranking needs at least one query")
    texts = [pool_records[i].input for i in candidates.indices]
    pairs = [(q, t) for t in texts for q in queries]
    means = pair_scores(cross_encoder, pairs, batch_size).reshape(len(texts), len(queries)).mean(axis=1)
    order = sorted(range(len(texts)), key=lambda k: (-means[k], k))[: max(0, n)]
    items = [RetrievedItem(candidates.items[k].pool_index, candidates.items[k].uid, float(means[k]),
                           candidates.items[k].hits) for k in order]
    extra = {**candidates.extra, "reranked_from": len(candidates), "retrieval_method": candidates.method}
    return RetrievedSet(items, f"{candidates.method}+rerank", candidates.fusion, candidates.depth,
                        candidates.n_queries, extra)


def _exclude_task(retriever: Retriever, queries: list[str], task: str, need: int) -> list[int]:
    """The first `need` retrieved pool indices whose record is not of `task` (over-retrieves by the
    size of that task, so enough others always remain)."""
    records = retriever.records
    own = sum(r.task == task for r in records)
    ranked = retriever.retrieve(queries, min(len(records), need + own)).indices
    others = [i for i in ranked if records[i].task != task]
    if len(others) < need:
        raise CrosstaskError(f"only {len(others)} candidates outside {task!r}; need {need}")
    return others[:need]


def build_distant_supervision(pool_records: Sequence[T0Record], upstream_model_dir: str | Path, *,
                              pseudo_targets: Sequence[str], retriever: Retriever, kind: str = "classifier",
                              n_query_sets: int = 1, query_size: int = 8, group_size: int = 16, n_groups: int = 4,
                              n_shuffles: int = 1, heldout_size: int = 32, n_label: int | None = None,
                              strict: bool = False, seed: int = 0, adapt: AdaptConfig | None = None,
                              output: str | Path | None = None, work_dir: str | Path | None = None) -> list[dict]:
    """(query, candidate, label) rows by distant supervision (see the module docstring).

    `retriever` must be built over `pool_records`. `n_label` defaults to `group_size` (with one
    shuffle: the whole best group is positive, the whole worst group negative). With `output`, the
    rows are written there as JSONL (atomically), and each query set's rows are kept under
    `<output>.parts/` so an interrupted run resumes where it stopped."""
    check_kind(kind)
    adapt = adapt or AdaptConfig()
    pool_records = list(pool_records)
    if len(retriever.records) != len(pool_records):
        raise CrosstaskError("the distant-supervision retriever must be built over pool_records")
    n_label = group_size if n_label is None else n_label
    if 2 * n_label > group_size * n_groups:
        raise CrosstaskError(f"{n_label} positives and negatives need at least {2 * n_label} candidates")
    by_task: dict[str, list[T0Record]] = {}
    for record in pool_records:
        by_task.setdefault(record.task, []).append(record)
    parts = Path(f"{output}.parts") if output is not None else None
    key = hash_json({"pool": len(pool_records), "model": str(upstream_model_dir), "kind": kind, "sizes": [
        query_size, group_size, n_groups, n_shuffles, heldout_size, n_label, strict, seed], "adapt": repr(adapt)})[:12]
    upstream, tokenizer = load_model(upstream_model_dir, kind)
    rows: list[dict] = []
    for t, task in enumerate(pseudo_targets):
        if len(by_task.get(task, [])) < query_size + heldout_size:
            raise CrosstaskError(f"pseudo-target {task!r} has fewer than {query_size + heldout_size} records")
        for s in range(n_query_sets):
            part = parts / f"{key}-{t}-{s}.jsonl" if parts else None
            if part is not None and part.exists():
                rows += read_jsonl(part)
                continue
            rng = random.Random(f"{seed}|{task}|{s}")
            sample = rng.sample(by_task[task], query_size + heldout_size)
            queries, heldout = [r.input for r in sample[:query_size]], sample[query_size:]
            candidates = _exclude_task(retriever, queries, task, group_size * n_groups)
            base = heldout_loss(upstream, heldout, tokenizer, adapt)
            deltas: dict[int, list[float]] = {i: [] for i in candidates}
            for _ in range(n_shuffles):
                order = list(candidates)
                rng.shuffle(order)
                for g in range(n_groups):
                    group = order[g * group_size:(g + 1) * group_size]
                    work = Path(tempfile.mkdtemp(prefix="recross-ds-", dir=work_dir))
                    try:
                        model, _ = fine_tune(kind, upstream_model_dir, [pool_records[i] for i in group],
                                             adapt, work, save=False)
                        delta = heldout_loss(model, heldout, tokenizer, adapt) - base
                    finally:
                        shutil.rmtree(work, ignore_errors=True)
                    for i in group:
                        deltas[i].append(delta)
            score = {i: float(np.mean(d)) for i, d in deltas.items()}
            position = {i: k for k, i in enumerate(candidates)}
            ranked = sorted(candidates, key=lambda i: (score[i], position[i]))
            positives = [i for i in ranked[:n_label] if not strict or score[i] < 0]
            negatives = [i for i in ranked[::-1][:n_label] if not strict or score[i] > 0]
            found = [{"query": q, "candidate": pool_records[i].input, "label": label, "candidate_uid":
                      pool_records[i].uid, "delta": score[i], "base_loss": base, "pseudo_target": task,
                      "query_set": s} for label, chosen in ((1, positives), (0, negatives))
                     for i in chosen for q in queries]
            if part is not None:
                atomic_write_jsonl(part, found)
            rows += found
    if output is not None:
        atomic_write_jsonl(output, rows)
    return rows


def train_reranker(rows: Sequence[dict], base_model: str | Path = "default", output_dir: str | Path = "reranker",
                   epochs: int = 1, batch_size: int = 16, seed: int = 42, lr: float = 2e-5,
                   max_length: int = 256) -> Path:
    """Train a 2-way `CrossEncoder` (num_labels=2, sentence-transformers `CrossEntropyLoss`) on
    (query, candidate, label) rows and save it to `output_dir` (replaced atomically). A plain torch
    loop drives the loss: `CrossEncoderTrainer` needs the `datasets` package, which is not installed."""
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder.losses import CrossEntropyLoss

    from crosstask.models.backbone import resolve_model

    rows = list(rows)
    if not rows:
        raise CrosstaskError("no reranker training rows")
    torch.manual_seed(seed)
    model = CrossEncoder(resolve_model(base_model), num_labels=2, max_length=max_length)
    loss_fn = CrossEntropyLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    rng = random.Random(seed)
    model.train()
    for _ in range(epochs):
        order = list(range(len(rows)))
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            batch = [rows[i] for i in order[start:start + batch_size]]
            loss = loss_fn([[r["query"] for r in batch], [r["candidate"] for r in batch]],
                           torch.tensor([int(r["label"]) for r in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
    model.eval()
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=output_dir.parent, prefix=f".{output_dir.name}.", suffix=".tmp"))
    try:
        model.save_pretrained(str(tmp))
        if output_dir.exists():
            shutil.rmtree(output_dir)
        tmp.rename(output_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return output_dir


def load_reranker(path: str | Path, max_length: int | None = None):
    """A saved reranker: the shared-context reranker when its directory says so, else a
    sentence-transformers `CrossEncoder` (local files only)."""
    from sentence_transformers import CrossEncoder

    from crosstask.retrieval.shared_reranker import MARKER, SharedContextReranker

    if (Path(path) / MARKER).exists():
        return SharedContextReranker.load(path, max_length)

    return CrossEncoder(str(path), max_length=max_length, local_files_only=True)


def reranker_device_type(reranker) -> str:
    """"cpu" / "cuda" / ...: where a loaded reranker (CrossEncoder or shared-context) runs."""
    module = getattr(reranker, "model", reranker)
    return next(module.parameters()).device.type
