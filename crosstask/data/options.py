"""Answer options that a prompt lists by index ("- A: ...", "Ending 2: ...", "B -> ...", "(c) ...").

Many T0 templates ask for an index ("A", "Ending 3", "2") instead of the option's text. A classifier that
scores a candidate apart from the input (a siamese one) cannot tell "A" from "B"; scored as "A: <text>"
it can. Expanded, an instance's candidates are the labels its input lists, every one scored as "label: text".
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


def expand_listed_options(text: str, labels: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(candidates, texts to score). When `text` lists two or more of `labels` with distinct texts, the
    candidates are those listed and each is scored as "label: its listed text" (a template's option set may
    mix index styles, e.g. A–D and 1–4 on ARC, and an input lists one of them); else all labels, unchanged."""
    listed = [(label, option) for label in labels if (option := listed_option(text, label)) is not None]
    if len(listed) < 2 or len({option for _, option in listed}) < len(listed):
        return tuple(labels), tuple(labels)
    return tuple(label for label, _ in listed), tuple(f"{label}: {option}" for label, option in listed)
