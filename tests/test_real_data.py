"""Acceptance numbers on the real data in ../shared/data (skipped when it is absent)."""

import pytest

from crosstask.data import summary
from crosstask.data.superni import load_split
from crosstask.data.tasktype import type_task
from crosstask.evaluation.baselines import run_baselines


@pytest.fixture(scope="module")
def test_split(superni_dir):
    return load_split(superni_dir, "test")


def test_superni_test_split_presence(test_split):
    assert test_split.requested == 119
    assert len(test_split.tasks) == 103
    assert len(test_split.missing) == 16
    assert "task1356_xlsum_title_generation" in test_split.missing
    # two GEN tasks have fewer than 100 instances in the official set
    assert sum(len(task.instances) for task in test_split.tasks) == 100 * 101 + 26 + 84


def test_cls_count_and_baselines(test_split):
    typed = [type_task(task, "instances") for task in test_split.tasks]
    cls = [t for t in typed if t.is_cls]
    assert len(cls) == 65
    results = run_baselines(cls, ["most_frequent_positive_label", "random_label"], seed=42)
    assert results["most_frequent_positive_label"]["overall"]["exact_match"] == pytest.approx(34.43, abs=0.05)
    assert results["most_frequent_positive_label"]["overall"]["n"] == 6500
    assert 32.0 <= results["random_label"]["overall"]["exact_match"] <= 36.0


def test_examples_mode_reads_no_instance_labels(test_split):
    typed = [type_task(task, "examples") for task in test_split.tasks]
    # the two six-category tasks that are GEN by size in `instances` mode are CLS when only examples are read
    assert sum(t.is_cls for t in typed) == 67


def test_recross_summary(recross_dir):
    result = summary.summarize_recross(recross_dir)
    assert result["upstream"]["tasks"] == 21
    assert result["upstream"]["records"] == 105_000
    assert len(result["upstream"]["missing"]) == 15
    assert len(result["targets"]) == 10
    assert result["targets"]["super_glue-cb"]["label_space_sizes"]["can we infer"] == 3


def test_training_task_types_use_every_instance_not_the_cap(superni_dir):
    from crosstask.data.benchmark import DataConfig, load_superni_data

    capped = load_superni_data(DataConfig(data=str(superni_dir), max_train_instances=6, english_only=False,
                                          dev_tasks=0))
    full = load_superni_data(DataConfig(data=str(superni_dir), max_train_instances=None, english_only=False,
                                        dev_tasks=0))
    assert {t.name: t.is_cls for t in capped.train} == {t.name: t.is_cls for t in full.train}
    assert sum(t.is_cls for t in capped.train) == 352  # as `crosstask data summary` reports
    assert all(len(t.task.instances) <= 6 for t in capped.train)
