"""SuperNI tasks from two row layouts, as the toolkit's `Task` records:

- the Hugging Face Hub layout of `Muennighoff/natural-instructions`: one row per instance with
  `task_name`, `id`, `definition`, `inputs`, `targets` and the task's demonstrations in
  `pos_{i}_input` / `pos_{i}_output` / `pos_{i}_explanation` and `neg_{i}_...`; split train / test;
- the generic JSONL task format (README "Data formats"): one object per line with `task`,
  `definition`, `input`, `outputs` and optional `id`, `split`, `category`, `label_space`, `examples`.

Neither layout names the SuperNI category every task file carries. A task without one gets
`DEFAULT_CATEGORY` ("Misc.", an open category: CLS when its label space has at most 10 labels), or,
in the generic format when it declares a `label_space`, `LABEL_SPACE_CATEGORY` ("Text
Categorization": CLS when it has at most 100 labels). See docs/task-types.md for the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from crosstask.core.errors import DataFormatError, warn
from crosstask.core.io import read_jsonl
from crosstask.data.formats_rows import Row, require, split_of, string_list
from crosstask.data.records import Example, Instance, Task
from crosstask.data.superni import SuperNISplit, check_task_name
from crosstask.data.tasktype import dedupe_labels
from crosstask.data.text import normalize_answer

DEFAULT_CATEGORY = "Misc."
LABEL_SPACE_CATEGORY = "Text Categorization"
SUPERNI_SPLITS = ("train", "test")
HUB_DEMO = re.compile(r"^(pos|neg)_(\d+)_input$")


@dataclass
class _TaskDraft:
    """A task being assembled row by row; the first row that names a task-level field sets it."""

    name: str
    split: str
    definition: str
    first: str  # where the task was first seen: "file: row N"
    categories: tuple[str, ...] = ()
    positive: tuple[Example, ...] = ()
    negative: tuple[Example, ...] = ()
    label_space: tuple[str, ...] | None = None
    instances: list[Instance] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)
    source: str = ""

    def add(self, instance: Instance, row: Row) -> None:
        if instance.id in self.ids:
            raise DataFormatError(row.source, row.where("id"), f"duplicate id {instance.id!r} in task {self.name!r} "
                                                               f"(also {row.unit} {self.ids[instance.id]})")
        self.ids[instance.id] = row.number
        self.instances.append(instance)

    def task(self) -> Task:
        return Task(self.name, self.definition, self.categories or (DEFAULT_CATEGORY,), self.positive, self.negative,
                    tuple(self.instances), source_path=self.source)


@dataclass(frozen=True)
class TaskSet:
    """SuperNI tasks per split, read from a Hub-layout dataset or a generic JSONL file.

    `label_spaces`: the label spaces that tasks of the generic format declare (others are derived from
    instances or examples, as for SuperNI task files). `sources`: the files (or hub id) read."""

    splits: dict[str, tuple[Task, ...]]
    label_spaces: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def split(self, name: str) -> SuperNISplit:
        """One split as `load_split` returns it (nothing missing: every task read has its instances)."""
        tasks = list(self.splits.get(name, ()))
        return SuperNISplit(split=name, tasks=tasks, requested=len(tasks))

    def tasks(self) -> list[Task]:
        return [task for split in self.splits.values() for task in split]


def _superni_split(split: str, source: str, where: str) -> str:
    split = "validation" if split == "dev" else split
    if split not in SUPERNI_SPLITS:
        raise DataFormatError(source, where, f"split {split!r}: expected train or test (name the file or its "
                                             "folder train*/test*, or give each row a 'split')")
    return split


def _collect(drafts: dict[str, _TaskDraft]) -> dict[str, tuple[Task, ...]]:
    splits: dict[str, list[Task]] = {split: [] for split in SUPERNI_SPLITS}
    for draft in drafts.values():
        splits[draft.split].append(draft.task())
    return {split: tuple(tasks) for split, tasks in splits.items()}


# ----- Hub layout (Muennighoff/natural-instructions) -----

def _hub_examples(row: Row, kind: str) -> tuple[Example, ...]:
    indices = sorted(int(m.group(2)) for key in row.data if (m := HUB_DEMO.match(key)) and m.group(1) == kind)
    examples = []
    for i in indices:
        text = require(row, f"{kind}_{i}_input", str, optional=True)
        if text is None:  # columns of a parquet file exist for every row; a task with fewer demos leaves them null
            continue
        output = require(row, f"{kind}_{i}_output", str)
        explanation = require(row, f"{kind}_{i}_explanation", str, optional=True) or ""
        examples.append(Example(text, output, explanation))
    return tuple(examples)


def _hub_categories(row: Row) -> tuple[str, ...]:
    for key in ("categories", "category"):
        if row.data.get(key) is not None:
            return string_list(row, key)
    return ()


def read_superni_rows(rows: Iterable[Row]) -> TaskSet:
    """Tasks from Hub-layout rows (`task_name`, `id`, `definition`, `inputs`, `targets`, demos)."""
    drafts: dict[str, _TaskDraft] = {}
    sources: dict[str, None] = {}
    for row in rows:
        sources[row.source] = None
        name = check_task_name(require(row, "task_name", str), row.source, row.where("task_name"))
        split = _superni_split(require(row, "split", str, optional=True) or row.split, row.source, row.where("split"))
        draft = drafts.get(name)
        if draft is None:
            definition = require(row, "definition", str)
            if not definition.strip():
                raise DataFormatError(row.source, row.where("definition"), "empty: a task needs a definition")
            draft = drafts[name] = _TaskDraft(name, split, definition, f"{row.source}: row {row.number}",
                                              _hub_categories(row), _hub_examples(row, "pos"),
                                              _hub_examples(row, "neg"), source=row.source)
        elif draft.split != split:
            raise DataFormatError(row.source, row.where("split"), f"task {name!r} is also in the {draft.split} "
                                                                  f"split ({draft.first})")
        identifier = require(row, "id", (str, int))
        outputs = string_list(row, "targets")
        draft.add(Instance(str(identifier), require(row, "inputs", str), outputs), row)
    return TaskSet(_collect(drafts), sources=tuple(sources))


# ----- generic JSONL -----

def _line_row(path: Path, number: int, obj: object) -> Row:
    if not isinstance(obj, dict):
        raise DataFormatError(path, f"line {number}", f"expected a JSON object, got {type(obj).__name__}")
    return Row(str(path), number, split_of(path), "", obj, unit="line")


def _generic_examples(row: Row) -> tuple[Example, ...]:
    items = require(row, "examples", list, optional=True) or []
    examples = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problem = f"expected object, got {type(item).__name__}"
            raise DataFormatError(row.source, row.where(f"examples[{i}]"), problem)
        text, output = item.get("input"), item.get("output")
        for key, value in (("input", text), ("output", output)):
            if not isinstance(value, str):
                problem = "missing" if value is None else f"expected str, got {type(value).__name__}"
                raise DataFormatError(row.source, row.where(f"examples[{i}].{key}"), problem)
        explanation = item.get("explanation", "")
        examples.append(Example(text, output, explanation if isinstance(explanation, str) else ""))
    return tuple(examples)


def _check_same(row: Row, draft: _TaskDraft, key: str, value: object, known: object) -> None:
    if value is not None and value != known:
        raise DataFormatError(row.source, row.where(key), f"differs from the task's first line ({draft.first}) "
                                                          f"for task {draft.name!r}")


def _check_labels(row: Row, outputs: tuple[str, ...], label_space: tuple[str, ...]) -> None:
    allowed = {normalize_answer(label) for label in label_space}
    for output in outputs:
        if normalize_answer(output) and normalize_answer(output) not in allowed:
            raise DataFormatError(row.source, row.where("outputs"), f"{output!r} is not in the task's label_space")


def _generic_row(row: Row, drafts: dict[str, _TaskDraft]) -> None:
    name = check_task_name(require(row, "task", str), row.source, row.where("task"))
    split = require(row, "split", str, optional=True) or row.split or "test"
    split = _superni_split(split, row.source, row.where("split"))
    definition = require(row, "definition", str, optional=True)
    label_space = string_list(row, "label_space", optional=True)
    category = require(row, "category", str, optional=True)
    examples = _generic_examples(row) if row.data.get("examples") is not None else None
    draft = drafts.get(name)
    if draft is None:
        if definition is None or not definition.strip():
            raise DataFormatError(row.source, row.where("definition"), "missing or empty on the task's first line")
        default = LABEL_SPACE_CATEGORY if label_space else DEFAULT_CATEGORY
        draft = drafts[name] = _TaskDraft(name, split, definition, f"line {row.number}", (category or default,),
                                          examples or (), label_space=label_space, source=row.source)
    else:
        _check_same(row, draft, "split", row.data.get("split") and split, draft.split)
        _check_same(row, draft, "definition", definition, draft.definition)
        _check_same(row, draft, "label_space", label_space, draft.label_space)
        _check_same(row, draft, "examples", examples, draft.positive)
    outputs = string_list(row, "outputs")
    if draft.label_space:
        _check_labels(row, outputs, draft.label_space)
    identifier = require(row, "id", (str, int), optional=True)
    identifier = str(identifier) if identifier is not None else f"{name}-{len(draft.instances)}"
    draft.add(Instance(identifier, require(row, "input", str), outputs), row)


def _warn_unseen_labels(drafts: dict[str, _TaskDraft]) -> None:
    for draft in drafts.values():
        seen = {normalize_answer(o) for i in draft.instances for o in i.outputs}
        seen |= {normalize_answer(e.output) for e in draft.positive}
        unseen = [label for label in draft.label_space or () if normalize_answer(label) not in seen]
        if unseen:
            warn(f"{draft.source}: task {draft.name!r}: label(s) {', '.join(map(repr, unseen))} of its label_space "
                 "appear in no instance or example, so crosstask's loaders will not offer them as candidates")


def _generic_task_set(rows: Iterable[Row], empty_source: str) -> TaskSet:
    drafts: dict[str, _TaskDraft] = {}
    sources: dict[str, None] = {}
    for row in rows:
        sources[row.source] = None
        _generic_row(row, drafts)
    if not drafts:
        raise DataFormatError(empty_source, "<file>", "no task lines")
    _warn_unseen_labels(drafts)
    spaces = {name: dedupe_labels(d.label_space) for name, d in drafts.items() if d.label_space}
    return TaskSet(_collect(drafts), spaces, tuple(sources))


def read_generic_rows(rows: Iterable[Row]) -> TaskSet:
    """Tasks from generic-format rows of parquet / JSON files or a hub dataset."""
    rows = list(rows)
    return _generic_task_set(rows, rows[0].source if rows else "<rows>")


def read_generic_jsonl(path: str | Path) -> TaskSet:
    """Tasks from a generic JSONL file; any problem names the file and `line N: field`."""
    path = Path(path)
    return _generic_task_set((_line_row(path, number, obj) for number, obj in _numbered_lines(path)), str(path))


def _numbered_lines(path: Path) -> list[tuple[int, object]]:
    """(line number, object) for each non-blank line; `read_jsonl` checks the JSON and names bad lines."""
    objects = iter(read_jsonl(path))
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return [(number, next(objects)) for number, line in enumerate(lines, start=1) if line.strip()]
