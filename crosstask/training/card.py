"""What a trained model's card and inference settings record about its training: kind, architecture, base model,
label-space mode, and the training tasks with a hash of their content."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from crosstask.core.provenance import files_hash, git_commit, hash_json, model_revision
from crosstask.data.tasktype import TypedTask


def tasks_hash(tasks: Sequence[TypedTask]) -> str:
    """The SuperNI data hash of the tasks' files (as `fingerprint_tasks`), or, for tasks built in memory (T0
    templates, a user's own), a hash of their instances."""
    ordered = sorted(tasks, key=lambda t: t.name)
    if ordered and all(t.task.source_path and Path(t.task.source_path).is_file() for t in ordered):
        return files_hash((t.name, t.task.source_path) for t in ordered)
    return hash_json([(t.name, t.task.definition, [(i.id, i.input, list(i.outputs)) for i in t.task.instances])
                      for t in ordered])[:16]


def card_info(kind: str, architecture: dict, base_model: str, tasks: Sequence[TypedTask]) -> dict:
    """The `info` of `save_inference_settings` for a model trained on `tasks`."""
    modes = sorted({t.mode.value for t in tasks})
    return {"kind": kind, "architecture": architecture, "base_model": str(base_model),
            "base_model_revision": model_revision(base_model), "label_mode": ",".join(modes) or None,
            "training": {"data_hash": tasks_hash(tasks), "train_tasks": len(tasks), "git_commit": git_commit()}}
