"""Answer options that a prompt lists by index ("- A: ...", "Ending 2: ...", "B -> ...", "(c) ...").

Many T0 templates ask for an index ("A", "Ending 3", "2") instead of the option's text. A classifier that
scores a candidate apart from the input (a siamese one) cannot tell "A" from "B"; scored as "A: <text>"
it can. The expansion is all-or-nothing per input, so every candidate of one instance is scored alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SEPARATOR = r"[ \t]*(?::|->|\.|\))[ \t]*"


def listed_option(text: str, label: str) -> str | None:
    """The text listed after `label` on a line of `text` ("- A: x", "A -> x", "Choice 2: x" for label "2",
    "(a) x" for "a"); None when no line lists it."""
    pattern = (rf"(?im)^[ \t]*(?:[-*•][ \t]*)?(?:[A-Za-z]+[ \t]+)?\(?{re.escape(label.strip())}\)?"
               rf"{_SEPARATOR}(\S[^\n]*)$")
    match = re.search(pattern, text)
    return match[1].strip() if match else None


def expand_listed_options(text: str, labels: Sequence[str]) -> tuple[str, ...]:
    """Each label as "label: its listed text" when `text` lists every one of them (two or more, with distinct
    texts); else the labels unchanged."""
    listed = [listed_option(text, label) for label in labels]
    if len(labels) < 2 or any(option is None for option in listed) or len(set(listed)) < len(listed):
        return tuple(labels)
    return tuple(f"{label}: {option}" for label, option in zip(labels, listed))
