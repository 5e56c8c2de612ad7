"""Index batches grouped by length, so that each padded batch wastes little."""

from __future__ import annotations

from collections.abc import Sequence


def length_batches(lengths: Sequence[int], batch_size: int, *, longest_first: bool = False) -> list[list[int]]:
    """Indices into `lengths` in batches of at most `batch_size`, ordered by length (shortest first, or longest
    first so that an out-of-memory batch shows at once); equal lengths keep their input order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    sign = -1 if longest_first else 1
    order = sorted(range(len(lengths)), key=lambda i: sign * lengths[i])
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
