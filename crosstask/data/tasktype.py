"""The CLS / GEN rule and label spaces.

Rule (documented in docs/task-types.md):
1. The six SuperNI test categories scored by exact match are *classification categories*; so are
   the training categories in TRAIN_CLS_CATEGORIES (their names say the output is a class).
2. A task in a classification category is CLS when its label space has at most `max_labels`
   (default 100) distinct normalised outputs; otherwise GEN.
3. A task in an *open* category (OPEN_CATEGORIES: question answering, program execution, ... whose
   tasks are sometimes multiple choice, sometimes free text) is CLS only by a data-driven test:
   its label space has at most `open_max_labels` (default 10) entries. Every other category is GEN.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from crosstask.data.records import Task, TaskType
from crosstask.data.text import normalize_answer

TEST_CLS_CATEGORIES = frozenset({
    "Textual Entailment", "Cause Effect Classification", "Coreference Resolution",
    "Dialogue Act Recognition", "Answerability Classification", "Word Analogy",
})
TEST_GEN_CATEGORIES = frozenset({
    "Overlap Extraction", "Keyword Tagging", "Question Rewriting", "Title Generation",
    "Data to Text", "Grammar Error Correction",
})
TRAIN_CLS_CATEGORIES = frozenset({
    "Sentiment Analysis", "Toxic Language Detection", "Text Categorization",
    "Commonsense Classification", "Text Matching", "Linguistic Probing", "Speaker Identification",
    "Negotiation Strategy Detection", "Gender Classification", "Stereotype Detection",
    "Text Quality Evaluation", "Coherence Classification", "Word Relation Classification",
    "Dialogue State Tracking", "Fact Verification", "Answer Verification", "Stance Detection",
    "Speaker Relation Classification", "Grammar Error Detection", "Irony Detection",
    "Spam Classification", "Punctuation Error Detection", "Entity Relation Classification",
    "Discourse Relation Classification", "Intent Identification", "Ethics Classification",
    "Sentence Ordering", "Spelling Error Detection", "Discourse Connective Identification",
    "Preposition Prediction", "Offensive Language Identification", "Language Identification",
})
CLS_CATEGORIES = TEST_CLS_CATEGORIES | TRAIN_CLS_CATEGORIES
OPEN_CATEGORIES = frozenset({
    "Question Answering", "Program Execution", "Misc.", "Text Completion", "Question Understanding",
    "Word Semantics", "Mathematics", "Fill in The Blank", "Information Extraction", "Explanation",
})


class LabelSpaceMode(str, Enum):
    """Which data a task's label space is read from.

    instances: all instances in the task file, as the seed did. For a test task this includes the
        evaluation instances, so it leaks the test label set.
    examples: only the task's Positive and Negative Examples (the demonstrations shipped with the
        instruction). Leakage-free: no instance label is read.
    """

    INSTANCES = "instances"
    EXAMPLES = "examples"


def dedupe_labels(outputs: Iterable[str]) -> tuple[str, ...]:
    """Distinct outputs by normalised form, keeping the first surface form seen, in order. Outputs that
    normalise to the empty string are never labels."""
    seen: dict[str, str] = {}
    for output in outputs:
        key = normalize_answer(output)
        if key and key not in seen:
            seen[key] = output.strip()
    return tuple(seen.values())


def label_space(task: Task, mode: LabelSpaceMode | str = LabelSpaceMode.INSTANCES) -> tuple[str, ...]:
    mode = LabelSpaceMode(mode)
    if mode is LabelSpaceMode.INSTANCES:
        return dedupe_labels(output for instance in task.instances for output in instance.outputs)
    examples = task.positive_examples + task.negative_examples
    return dedupe_labels(example.output for example in examples)


@dataclass(frozen=True)
class TaskTypeRule:
    max_labels: int = 100
    open_max_labels: int = 10

    def classify(self, category: str, num_labels: int) -> TaskType:
        if category in CLS_CATEGORIES:
            return TaskType.CLS if num_labels <= self.max_labels else TaskType.GEN
        if category in OPEN_CATEGORIES:
            return TaskType.CLS if num_labels <= self.open_max_labels else TaskType.GEN
        return TaskType.GEN


@dataclass(frozen=True)
class TypedTask:
    """A task with its type and label space, and the mode the label space came from."""

    task: Task
    task_type: TaskType
    labels: tuple[str, ...]
    mode: LabelSpaceMode

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def is_cls(self) -> bool:
        return self.task_type is TaskType.CLS


def type_task(task: Task, mode: LabelSpaceMode | str = LabelSpaceMode.INSTANCES,
              rule: TaskTypeRule = TaskTypeRule()) -> TypedTask:
    """Type a task. The CLS/GEN size test always counts the label space of `mode`."""
    mode = LabelSpaceMode(mode)
    labels = label_space(task, mode)
    # nothing to choose from, or a gold answer that is empty (instances mode): never a classification task
    unlabelled = not labels or (mode is LabelSpaceMode.INSTANCES and any(
        not any(normalize_answer(o) for o in instance.outputs) for instance in task.instances))
    return TypedTask(task, TaskType.GEN if unlabelled else rule.classify(task.category, len(labels)), labels, mode)
