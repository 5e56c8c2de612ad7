"""Super-NaturalInstructions loader: task files, official splits, instance caps."""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from crosstask.core.defaults import DEFAULT_SEED
from crosstask.core.errors import DataFormatError, DataNotFoundError, warn
from crosstask.core.io import read_json
from crosstask.core.progress import progress
from crosstask.data.records import Example, Instance, Task

logger = logging.getLogger(__name__)

SPLITS = ("train", "test", "excluded")
# a split entry is a plain task name, never a path: it can only ever name tasks/<name>.json
TASK_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def check_task_name(name: object, path: str | Path, field: str) -> str:
    """`name` if it is a plain task name (letters, digits, '_', '-', '.'; no '/', '\\' or '..')."""
    if not isinstance(name, str) or not TASK_NAME.match(name) or ".." in name:
        raise DataFormatError(path, field, f"{name!r} is not a task name (letters, digits, '_', '-', '.'; no paths)")
    return name


def _require(obj: dict, key: str, kind: type | tuple[type, ...], path: Path, where: str = "") -> Any:
    name = f"{where}{key}"
    if key not in obj:
        raise DataFormatError(path, name, "missing")
    value = obj[key]
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataFormatError(path, name, f"expected {expected}, got {type(value).__name__}")
    return value


def _string_list(obj: dict, key: str, path: Path, where: str = "", required: bool = True) -> tuple[str, ...]:
    if key not in obj and not required:
        return ()
    value = _require(obj, key, list, path, where)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise DataFormatError(path, f"{where}{key}[{i}]", f"expected str, got {type(item).__name__}")
    return tuple(value)


def _parse_examples(raw: dict, key: str, path: Path) -> tuple[Example, ...]:
    if key not in raw:
        return ()
    items = _require(raw, key, list, path)
    examples = []
    for i, item in enumerate(items):
        where = f"{key}[{i}]."
        if not isinstance(item, dict):
            raise DataFormatError(path, f"{key}[{i}]", f"expected object, got {type(item).__name__}")
        text = _require(item, "input", str, path, where)
        output = _require(item, "output", (str, list), path, where)
        if isinstance(output, list):  # a few tasks give examples a list of outputs; keep the first
            if not output or not all(isinstance(o, str) for o in output):
                raise DataFormatError(path, f"{where}output", "expected a non-empty list of str")
            output = output[0]
        explanation = item.get("explanation", "")
        examples.append(Example(text, output, explanation if isinstance(explanation, str) else ""))
    return tuple(examples)


def _parse_instances(raw: dict, path: Path) -> tuple[Instance, ...]:
    items = _require(raw, "Instances", list, path)
    instances = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        where = f"Instances[{i}]."
        if not isinstance(item, dict):
            raise DataFormatError(path, f"Instances[{i}]", f"expected object, got {type(item).__name__}")
        identifier = _require(item, "id", str, path, where)
        if identifier in seen:  # ids key predictions, pairs and calibration: they must be unique
            raise DataFormatError(path, f"{where}id",
                                  f"duplicate id {identifier!r} (also Instances[{seen[identifier]}])")
        seen[identifier] = i
        text = _require(item, "input", str, path, where)
        outputs = _string_list(item, "output", path, where)
        if not outputs:
            raise DataFormatError(path, f"{where}output", "empty list: an instance needs a gold output")
        instances.append(Instance(identifier, text, outputs))
    return tuple(instances)


def parse_task(raw: Any, path: str | Path, name: str | None = None) -> Task:
    """Validate a SuperNI task object; any problem raises DataFormatError(file, field)."""
    path = Path(path)
    if not isinstance(raw, dict):
        raise DataFormatError(path, "<root>", f"expected a JSON object, got {type(raw).__name__}")
    definition = _string_list(raw, "Definition", path)
    if not definition or not definition[0].strip():
        raise DataFormatError(path, "Definition", "empty: a task needs a definition")
    return Task(
        name=name or path.stem,
        definition=definition[0],
        categories=_string_list(raw, "Categories", path, required=False),
        positive_examples=_parse_examples(raw, "Positive Examples", path),
        negative_examples=_parse_examples(raw, "Negative Examples", path),
        instances=_parse_instances(raw, path),
        input_language=_string_list(raw, "Input_language", path, required=False),
        output_language=_string_list(raw, "Output_language", path, required=False),
        source_path=str(path),
    )


def load_task(path: str | Path) -> Task:
    path = Path(path)
    return parse_task(read_json(path), path)


def read_split_lists(superni_dir: str | Path, split_name: str = "default") -> dict[str, list[str]]:
    """The task names of each split in `splits/<split_name>/{train,test,excluded}_tasks.txt`."""
    split_dir = Path(superni_dir) / "splits" / split_name
    if not split_dir.is_dir():
        raise DataNotFoundError(f"{split_dir}: no split '{split_name}' (expected {{train,test}}_tasks.txt there)")
    lists = {}
    for split in SPLITS:
        file = split_dir / f"{split}_tasks.txt"
        if file.exists():
            lines = enumerate(file.read_text(encoding="utf-8").splitlines(), start=1)
            lists[split] = [check_task_name(line.strip(), file, f"line {n}") for n, line in lines if line.strip()]
    for split in ("train", "test"):
        if split not in lists:
            raise DataNotFoundError(f"{split_dir}: {split}_tasks.txt is missing")
    return lists


def cap_instances(task: Task, split: str, max_instances: int | None, seed: int = DEFAULT_SEED) -> Task:
    """Train: seeded shuffle then the first N. Test: the first N (the official evaluation set)."""
    instances = list(task.instances)
    if split == "train":
        random.Random(f"{seed}:{task.name}").shuffle(instances)
    if max_instances is not None:
        instances = instances[:max_instances]
    return replace(task, instances=tuple(instances))


@dataclass
class SuperNISplit:
    """The tasks of one split that exist on disk, and the names of those that do not."""

    split: str
    tasks: list[Task] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    requested: int = 0
    empty: list[str] = field(default_factory=list)  # present but without instances: skipped, with a warning

    def by_name(self) -> dict[str, Task]:
        return {task.name: task for task in self.tasks}


def load_split(
    superni_dir: str | Path,
    split: str = "test",
    *,
    split_name: str = "default",
    max_instances: int | None = 100,
    seed: int = DEFAULT_SEED,
    task_names: list[str] | None = None,
) -> SuperNISplit:
    """Load the tasks of `split`; tasks named in the split but absent on disk are listed in `missing`."""
    superni_dir = Path(superni_dir)
    names = task_names if task_names is not None else read_split_lists(superni_dir, split_name)[split]
    result = SuperNISplit(split=split, requested=len(names))
    for name in progress(names, len(names), f"read {split} tasks", min_items=50):
        path = superni_dir / "tasks" / f"{check_task_name(name, superni_dir / 'splits', f'{split} task')}.json"
        if not path.exists():
            result.missing.append(name)
            continue
        task = load_task(path)
        if not task.instances:
            result.empty.append(name)
            continue
        result.tasks.append(cap_instances(task, split, max_instances, seed))
    logger.debug("%s split of %s: %d tasks read, %d missing, %d empty", split, superni_dir, len(result.tasks),
                 len(result.missing), len(result.empty))
    if result.empty:
        warn(f"{split} split of {superni_dir}: {len(result.empty)} task(s) without instances skipped: "
             f"{', '.join(result.empty[:5])}{' ...' if len(result.empty) > 5 else ''}")
    return result
