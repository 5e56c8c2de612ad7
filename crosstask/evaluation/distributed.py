"""Sharding work over processes and gathering the results back (works with 1 process and no accelerate)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def shard(items: Sequence[T], accelerator=None) -> list[T]:
    """This process's share: every N-th item, starting at the process index."""
    if accelerator is None or accelerator.num_processes == 1:
        return list(items)
    return list(items[accelerator.process_index::accelerator.num_processes])


def gather_shards(local: list[T], accelerator=None, key: Callable[[T], object] | None = None) -> list[T]:
    """Every process's results, in the original order (undoing `shard`), on every process."""
    if accelerator is None or accelerator.num_processes == 1:
        return local
    from accelerate.utils import gather_object

    per_process = gather_object([local])
    merged = [item for row in zip_longest_rows(per_process) for item in row]
    if key is not None:
        seen, unique = set(), []
        for item in merged:
            if key(item) not in seen:
                seen.add(key(item))
                unique.append(item)
        merged = unique
    return merged


def zip_longest_rows(per_process: list[list[T]]) -> list[list[T]]:
    """Interleave shards back: item k of process r was item k*N + r of the whole."""
    longest = max(len(p) for p in per_process)
    return [[p[k] for p in per_process if k < len(p)] for k in range(longest)]
