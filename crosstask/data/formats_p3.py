"""T0 prompts in bigscience/P3's layout, as the toolkit's `T0Record`s, upstream pool and targets.

P3 has one subset per (dataset, template), named `<dataset>_<template>` (`super_glue_cb_GPT_3_style`,
`anli_GPT_3_style_r1`, `..._score_eval` for rank-classification rows), each with train / validation /
test splits of rows holding `inputs_pretokenized`, `targets_pretokenized`, `answer_choices` and, in
`_score_eval` subsets, one row per option with `idx` = [example, option] and `is_correct`.

- A record is `[inputs_pretokenized, [targets_pretokenized stripped], "dataset|split|template|#idx"]`;
  of a `_score_eval` subset only the correct option's row is kept.
- dataset and template come from `dataset` / `template` columns when the rows have them, else from the
  subset name: the longest known P3 dataset prefix (P3_DATASETS, named as in ReCross: "super_glue-cb"),
  the rest is the template; a subset of an unknown dataset is its own dataset with template "default".
- Local files: `<subset>/<split>.{parquet,jsonl,json}` (P3's `data/<subset>/...`), or `<subset>.jsonl`
  with a `split` column. A hub id: `bigscience/P3:<subset>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crosstask.core.errors import DataFormatError
from crosstask.data.formats_rows import Row, require, string_list
from crosstask.data.records import T0Record
from crosstask.data.superni import check_task_name
from crosstask.data.t0 import Target, UpstreamPool

SCORE_EVAL = "_score_eval"
# P3 subset prefix -> ReCross task name (the T0 training and held-out datasets of the T0 paper)
P3_DATASETS = {name.replace("-", "_"): name for name in (
    "adversarial_qa-dbert", "adversarial_qa-dbidaf", "adversarial_qa-droberta", "ag_news", "ai2_arc-ARC-Challenge",
    "ai2_arc-ARC-Easy", "amazon_polarity", "app_reviews", "cnn_dailymail-3.0.0", "common_gen", "cos_e-v1.11",
    "cosmos_qa", "dbpedia_14", "dream", "duorc-ParaphraseRC", "duorc-SelfRC", "gigaword", "glue-mrpc", "glue-qqp",
    "hellaswag", "imdb", "kilt_tasks-hotpotqa", "multi_news", "openbookqa-main", "paws-labeled_final", "piqa",
    "qasc", "quail", "quarel", "quartz", "quoref", "race-high", "race-middle", "ropes", "rotten_tomatoes", "samsum",
    "sciq", "social_i_qa", "squad_v2", "story_cloze-2016", "super_glue-boolq", "super_glue-cb", "super_glue-copa",
    "super_glue-multirc", "super_glue-record", "super_glue-rte", "super_glue-wic", "super_glue-wsc.fixed", "trec",
    "trivia_qa-unfiltered", "web_questions", "wiki_bio", "wiki_hop-original", "wiki_qa",
    "winogrande-winogrande_debiased", "winogrande-winogrande_xl", "wiqa", "xsum", "yelp_review_full", "anli",
)}
# the ReCross paper's 10 targets: never upstream data
PAPER_TARGETS = ("ai2_arc-ARC-Challenge", "anli_r3", "hellaswag", "openbookqa-main", "piqa", "squad_v2",
                 "super_glue-cb", "super_glue-wic", "super_glue-wsc.fixed", "winogrande-winogrande_xl")
TARGET_SIZE = 1000  # records per target role, as the ReCross files test-1000 / validation-1000


@dataclass(frozen=True)
class SubsetName:
    dataset: str
    template: str
    task: str  # the file-level task name (ReCross: "super_glue-cb", "anli_r3")


def parse_subset(subset: str) -> SubsetName:
    """(dataset, template, task) of a P3 subset name such as `super_glue_cb_GPT_3_style_score_eval`."""
    name = subset.removesuffix(SCORE_EVAL)
    prefix = max((p for p in P3_DATASETS if name == p or name.startswith(p + "_")), key=len, default=None)
    if prefix is None:
        return SubsetName(name, "default", name)
    dataset, template = P3_DATASETS[prefix], name[len(prefix) + 1:] or "default"
    task = dataset
    if dataset == "anli" and template[-3:] in ("_r1", "_r2", "_r3"):  # anli_GPT_3_style_r1: the round is a suffix
        template, task = template[:-3], f"anli_{template[-2:]}"
    return SubsetName(dataset, template, task)


def _row_index(row: Row) -> str:
    idx = row.data.get("idx")
    if isinstance(idx, list) and idx and isinstance(idx[0], int):
        return f"#{idx[0]}"
    if isinstance(idx, int):
        return f"#{idx}"
    return f"#{row.number - 1}"


def p3_record(row: Row) -> T0Record | None:
    """The record of one P3 row, or None for a wrong option's row of a rank-classification subset."""
    is_correct = require(row, "is_correct", bool, optional=True)
    if is_correct is False:
        return None
    text = require(row, "inputs_pretokenized", str)
    target = require(row, "targets_pretokenized", str)
    string_list(row, "answer_choices", optional=True, non_empty=False)  # checked; rank classification reads
    # the option set from the query pool's outputs, as for the ReCross files
    split = require(row, "split", str, optional=True) or row.split or "train"
    dataset = require(row, "dataset", str, optional=True)
    if dataset is not None:
        template = require(row, "template", str)
        name = SubsetName(dataset, template, require(row, "task", str, optional=True) or dataset.replace("/", "-"))
    else:
        if not row.subset:
            raise DataFormatError(row.source, row.where("dataset"), "missing, and no P3 subset name to read it from")
        name = parse_subset(row.subset)
    check_task_name(name.task, row.source, row.where("task"))  # it names upstream/<task>.json
    return T0Record(text, (target.strip(),), name.dataset, split, name.template, _row_index(row), name.task)


def read_p3_rows(rows: Iterable[Row]) -> list[T0Record]:
    """Records of P3-layout rows, in row order."""
    records = [record for row in rows if (record := p3_record(row)) is not None]
    return records


def recross_split(records: Sequence[T0Record], targets: Sequence[str] | None = None,
                  size: int = TARGET_SIZE) -> tuple[UpstreamPool, list[Target]]:
    """The upstream pool and targets as `load_upstream_pool` / `load_target` give them.

    Targets: the tasks in `targets` (default: those of PAPER_TARGETS present, and every task without
    train records). A target's test set is its validation records (else its test records), its query
    pool its train records (else its validation records), the first `size` of each. The upstream pool
    is the train records of every other task."""
    by_task: dict[str, dict[str, list[T0Record]]] = {}
    for record in records:
        by_task.setdefault(record.task, {}).setdefault(record.split, []).append(record)
    if targets is None:
        targets = [t for t, splits in by_task.items() if t in PAPER_TARGETS or "train" not in splits]
    pool, loaded = UpstreamPool(), []
    for task, splits in by_task.items():
        if task in targets:
            scored = "validation" if splits.get("validation") else "test"
            query = "train" if splits.get("train") else ("validation" if scored == "test" else "")
            if not splits.get(scored) or not splits.get(query):
                raise DataFormatError(f"P3 task {task}", "split", "a target needs validation (or test) records to "
                                                                  "score and train records as its query pool")
            loaded.append(Target(task, splits[scored][:size], splits[query][:size]))
        elif splits.get("train"):
            pool.records.extend(splits["train"])
            pool.tasks.append(task)
    return pool, loaded
