"""Progress bars for long loops: shown on the main process for enough work, hidden for small jobs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")
MIN_ITEMS = 200  # below this many items a loop finishes too fast to need a bar


def progress(items: Iterable[T], total: int, desc: str, min_items: int = MIN_ITEMS) -> Iterable[T]:
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc=desc, disable=total < min_items, mininterval=2.0)
