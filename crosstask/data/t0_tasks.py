"""T0 / ReCross records as the toolkit's typed tasks, and the answer options of target templates.

One `Task` per (dataset, template): its name is `"{dataset}|{template}"`, its definition is empty
(a PromptSource input already carries its instruction, and an empty definition is left out of
prompts), its category is "T0" and its instances are the records (id = record uid). A template is
CLS when its label space is small (yes/no, entailment labels, option letters, ...), else GEN:
open-answer templates then join classifier training as "w/ GEN" does (`PairConfig(mix_gen=True)`
draws their negatives from other instances' outputs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from crosstask.data.records import Instance, T0Record, Task, TaskType
from crosstask.data.tasktype import LabelSpaceMode, TypedTask, dedupe_labels

T0_CATEGORY = "T0"
TemplateKey = tuple[str, str]  # (dataset, template)


def template_key(record: T0Record) -> TemplateKey:
    return record.dataset, record.template


def task_name(key: TemplateKey) -> str:
    return f"{key[0]}|{key[1]}"


def group_by_template(records: Iterable[T0Record]) -> dict[TemplateKey, list[T0Record]]:
    """Records per (dataset, template), templates in first-seen order, records in input order."""
    groups: dict[TemplateKey, list[T0Record]] = defaultdict(list)
    for record in records:
        groups[template_key(record)].append(record)
    return dict(groups)


def make_task(key: TemplateKey, records: Sequence[T0Record], with_outputs: bool = True) -> Task:
    """The Task of one template. `with_outputs=False` leaves every instance's outputs empty and
    never touches `record.outputs` (used to predict on test records before any label is read)."""
    instances = tuple(Instance(r.uid, r.input, tuple(r.outputs) if with_outputs else ()) for r in records)
    return Task(task_name(key), "", (T0_CATEGORY,), (), (), instances)


def typed(task: Task, labels: tuple[str, ...], max_cls_labels: int, mode: LabelSpaceMode) -> TypedTask:
    kind = TaskType.CLS if 0 < len(labels) <= max_cls_labels else TaskType.GEN
    return TypedTask(task, kind, labels, mode)


def t0_typed_tasks(records: Iterable[T0Record], *, max_cls_labels: int = 10,
                   label_source: Mapping[TemplateKey, tuple[str, ...]] | None = None) -> list[TypedTask]:
    """One TypedTask per (dataset, template) of `records`.

    The label space is `label_source[(dataset, template)]` when given (mode EXAMPLES: not read from
    these instances), else the distinct normalised outputs of the records (mode INSTANCES). The task
    is CLS when its label space has 1..`max_cls_labels` entries, else GEN."""
    tasks = []
    for key, group in group_by_template(records).items():
        if label_source is not None:
            labels, mode = tuple(label_source.get(key, ())), LabelSpaceMode.EXAMPLES
        else:
            labels, mode = dedupe_labels(o for r in group for o in r.outputs), LabelSpaceMode.INSTANCES
        tasks.append(typed(make_task(key, group), labels, max_cls_labels, mode))
    return tasks


def option_sets(query_records: Iterable[T0Record], max_labels: int = 10) -> dict[TemplateKey, tuple[str, ...]]:
    """The answer options of each target template, read from the *query pool* (validation-1000).

    A template whose query records have at most `max_labels` distinct normalised outputs has a fixed
    answer set (yes/no, entailment labels, option letters, "Ending 1".."Ending 4", ...): that set,
    first surface form kept, in first-seen order. Templates with more distinct outputs have no fixed
    option set (their answers are instance-specific texts) and are left out.

    Only the pooled SET of outputs is kept: which option is right for any query is never returned
    or used, and no test record is read."""
    grouped: dict[TemplateKey, list[str]] = defaultdict(list)
    for record in query_records:
        grouped[template_key(record)].extend(record.outputs)
    sets = {key: dedupe_labels(outputs) for key, outputs in grouped.items()}
    return {key: labels for key, labels in sets.items() if 0 < len(labels) <= max_labels}
