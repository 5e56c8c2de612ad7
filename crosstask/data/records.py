"""Typed records for SuperNI tasks and T0 (ReCross) examples."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class TaskType(str, Enum):
    CLS = "CLS"
    GEN = "GEN"


@dataclass(frozen=True)
class Example:
    """A demonstration from a task's Positive/Negative Examples."""

    input: str
    output: str
    explanation: str = ""


@dataclass(frozen=True)
class Instance:
    """One evaluation/training item: an input with one or more gold outputs."""

    id: str
    input: str
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Task:
    """A SuperNI task as read from its JSON file."""

    name: str
    definition: str
    categories: tuple[str, ...]
    positive_examples: tuple[Example, ...]
    negative_examples: tuple[Example, ...]
    instances: tuple[Instance, ...]
    input_language: tuple[str, ...] = ()
    output_language: tuple[str, ...] = ()
    source_path: str = ""

    @property
    def category(self) -> str:
        return self.categories[0] if self.categories else ""


@dataclass(frozen=True)
class T0Record:
    """One ReCross/T0 record: `[input, [outputs], "dataset|split|template|#idx"]`."""

    input: str
    outputs: tuple[str, ...]
    dataset: str
    split: str
    template: str
    index: str
    task: str = ""  # file-level task name (e.g. "ag_news", "super_glue-cb")

    @property
    def uid(self) -> str:
        return f"{self.dataset}|{self.split}|{self.template}|{self.index}"


@dataclass
class MissingTasks:
    """Tasks named in a split whose files are absent on disk."""

    split: str
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)
