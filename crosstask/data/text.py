"""Answer normalisation of the official SuperNI script (used by the CLS/GEN rule, pairs and metrics)."""

from __future__ import annotations

import string

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, remove punctuation, collapse whitespace (articles are kept)."""
    return " ".join(text.lower().translate(_PUNCTUATION).split())
