"""SuperNI train / dev / test task sets for an experiment, typed and capped, from one config."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from crosstask.core.defaults import DEFAULT_SEED
from crosstask.core.errors import ValidationError
from crosstask.core.provenance import files_hash
from crosstask.data.demo import ensure_demo_benchmark
from crosstask.data.location import resolve_dataset_dir
from crosstask.data.superni import cap_instances, load_split
from crosstask.data.tasktype import LabelSpaceMode, TaskTypeRule, TypedTask, type_task


@dataclass(frozen=True)
class DataConfig:
    data: str | None = None  # SuperNI dir or data root; None: $CROSSTASK_DATA or ../shared/data
    demo: bool = False  # use the packaged demo benchmark instead
    demo_seed: int = 0
    max_train_instances: int = 100  # per training task: seeded shuffle, then the first N
    max_test_instances: int = 100  # per test task: the first N (the official evaluation set)
    dev_tasks: int = 10  # CLS training tasks held out as a dev set for model selection (0: none)
    max_dev_instances: int = 20  # per dev task: the first N
    label_mode: str = "instances"  # label spaces of the *test* tasks (training tasks always use their instances)
    max_labels: int = TaskTypeRule.max_labels  # CLS rule: a classification category with at most this many labels
    max_train_labels: int | None = None  # keep only CLS training tasks with at most this many labels
    english_only: bool = True  # the default track: tasks whose input and output language is English
    # training-task categories held out: none of their tasks is trained on or used as dev; their tasks (the first
    # max_test_instances each) replace the official test tasks (leave-categories-out evaluation)
    holdout_categories: tuple[str, ...] = ()
    seed: int = DEFAULT_SEED

    def resolve_root(self) -> Path:
        if self.demo:
            return ensure_demo_benchmark(seed=self.demo_seed)
        return resolve_dataset_dir(self.data, "superni")


@dataclass
class SuperNIData:
    root: Path
    train: list[TypedTask]
    dev: list[TypedTask]
    test: list[TypedTask]
    missing: dict[str, list[str]] = field(default_factory=dict)



def fingerprint_tasks(tasks) -> str:
    """Hash of the tasks' names and file bytes, independent of their order."""
    return files_hash((t.name, t.task.source_path) for t in sorted(tasks, key=lambda t: t.name))


def _english(typed: TypedTask) -> bool:
    task = typed.task
    return set(task.input_language) <= {"English"} and set(task.output_language) <= {"English"}


def load_superni_data(config: DataConfig) -> SuperNIData:
    root = config.resolve_root()
    rule = TaskTypeRule(max_labels=config.max_labels)
    # Types and label spaces come from every instance in a task file; the caps apply afterwards, so a
    # free-text task never looks like a classification task because its first few answers repeat.
    train_split = load_split(root, "train", max_instances=None)
    test_split = load_split(root, "test", max_instances=None)
    # Dev tasks are drawn and capped from the *uncapped* training tasks: `--max-train-instances 6` must not
    # shrink a dev task to 6 instances (checkpoints are ranked on the dev set).
    typed_train = [type_task(t, LabelSpaceMode.INSTANCES, rule) for t in train_split.tasks]
    test = [_capped(type_task(t, config.label_mode, rule), "test", config.max_test_instances, config.seed)
            for t in test_split.tasks]
    if config.english_only:
        typed_train, test = [t for t in typed_train if _english(t)], [t for t in test if _english(t)]
    if config.holdout_categories:
        typed_train, held = _hold_out(typed_train, config.holdout_categories)
        test = [_capped(type_task(t.task, config.label_mode, rule), "test", config.max_test_instances, config.seed)
                for t in held]
    if config.max_train_labels is not None:
        typed_train = [t for t in typed_train if not t.is_cls or len(t.labels) <= config.max_train_labels]
    # never every CLS training task: at least one stays to train on (a small data set keeps training)
    cls_names = sorted(t.name for t in typed_train if t.is_cls)
    dev_names = set(random.Random(config.seed).sample(cls_names, min(config.dev_tasks, max(0, len(cls_names) - 1))))
    dev = [_capped(t, "test", config.max_dev_instances, config.seed) for t in typed_train if t.name in dev_names]
    train = [_capped(t, "train", config.max_train_instances, config.seed)
             for t in typed_train if t.name not in dev_names]
    return SuperNIData(root, train, dev, test, {"train": train_split.missing, "test": test_split.missing})


def _hold_out(tasks: list[TypedTask], categories: tuple[str, ...]) -> tuple[list[TypedTask], list[TypedTask]]:
    """(tasks outside `categories`, tasks inside); an unknown category is an error listing the known ones."""
    known = sorted({t.task.category for t in tasks})
    unknown = [c for c in categories if c not in known]
    if unknown:
        raise ValidationError("--holdout-categories", "no training task has the category "
                              f"{', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    held = set(categories)
    return [t for t in tasks if t.task.category not in held], [t for t in tasks if t.task.category in held]


def _capped(typed: TypedTask, split: str, n: int | None, seed: int) -> TypedTask:
    """`split` "train": seeded shuffle then first n; otherwise the first n."""
    from dataclasses import replace
    return replace(typed, task=cap_instances(typed.task, split, n, seed))




def load_superni(data: str | Path | None = None, **options) -> SuperNIData:
    """SuperNI train / dev / test typed tasks: `data` a SuperNI folder or data root (None: $CROSSTASK_DATA, else
    ../shared/data), or `demo=True` for the generated demo benchmark; `options` are `DataConfig` fields."""
    return load_superni_data(DataConfig(data=None if data is None else str(data), **options))
