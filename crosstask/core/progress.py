"""Progress bars (tqdm, on stderr) for long loops: shown for enough work, hidden for small jobs, and off with
`enabled=False` (the callers' `progress` settings) or `TQDM_DISABLE=1` in the environment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
MIN_ITEMS = 200  # below this many items a loop finishes too fast to need a bar


def progress(items: Iterable[T], total: int, desc: str, min_items: int = MIN_ITEMS, enabled: bool = True) -> tqdm:
    """`items` wrapped in a bar of `total` steps named `desc`; `min_items=1` for loops of slow steps."""
    return tqdm(items, total=total, desc=desc, disable=not enabled or total < min_items, mininterval=2.0)
