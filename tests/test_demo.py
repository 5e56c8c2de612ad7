"""Tests for the generated demo benchmark (crosstask.data.demo)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from crosstask.data.demo import (
    DEMO_TASKS,
    GENERATOR_VERSION,
    TEST_CLS_CATEGORIES,
    TEST_GEN_CATEGORIES,
    default_demo_root,
    ensure_demo_benchmark,
    generate_task,
    write_demo_benchmark,
)

N = 20  # instances per task: small keeps the tests fast
SPECS = {spec.name: spec for spec in DEMO_TASKS}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_benchmark(tmp_path_factory.mktemp("demo") / "bench", seed=0, instances_per_task=N)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _split(root: Path, name: str) -> list[str]:
    return (root / "splits" / "default" / f"{name}_tasks.txt").read_text(encoding="utf-8").splitlines()


def _task(root: Path, name: str) -> dict:
    return json.loads((root / "tasks" / f"{name}.json").read_text(encoding="utf-8"))


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path: Path, bench: Path) -> None:
    again = write_demo_benchmark(tmp_path / "again", seed=0, instances_per_task=N)
    assert _files(again) == _files(bench)
    other = write_demo_benchmark(tmp_path / "other", seed=1, instances_per_task=N)
    name = DEMO_TASKS[0].name
    assert _task(other, name)["Instances"] != _task(bench, name)["Instances"]
    assert generate_task(DEMO_TASKS[0], seed=3) == generate_task(DEMO_TASKS[0], seed=3)


def test_layout_and_split_counts(bench: Path) -> None:
    assert {p.name for p in bench.iterdir()} == {"tasks", "splits", "test_references.jsonl", "README.md"}
    train, test = _split(bench, "train"), _split(bench, "test")
    assert _split(bench, "excluded") == []
    assert len(train) >= 14 and len(test) >= 8 and not set(train) & set(test)
    assert sorted(train + test) == sorted(p.stem for p in (bench / "tasks").glob("*.json"))
    for names in (train, test):
        assert {SPECS[n].task_type for n in names} == {"CLS", "GEN"}
    for name in test:
        expected = TEST_CLS_CATEGORIES if SPECS[name].task_type == "CLS" else TEST_GEN_CATEGORIES
        assert SPECS[name].category in expected
    assert all(re.fullmatch(r"task\d{4}_demo_[a-z0-9_]+", n) for n in train + test)
    readme = (bench / "README.md").read_text(encoding="utf-8")
    assert "generated" in readme and "seed: 0" in readme and f"generator version: {GENERATOR_VERSION}" in readme


def test_task_json_schema(bench: Path) -> None:
    list_keys = ["Contributors", "Source", "URL", "Categories", "Reasoning", "Definition", "Input_language",
                 "Output_language", "Instruction_language", "Domains", "Instance License"]
    for spec in DEMO_TASKS:
        task = _task(bench, spec.name)
        assert set(task) == set(list_keys) | {"Positive Examples", "Negative Examples", "Instances"}
        assert all(isinstance(task[k], list) for k in list_keys)
        assert task["Categories"] == [spec.category] and task["Definition"] == [spec.definition]
        assert task["Input_language"] == task["Output_language"] == task["Instruction_language"] == ["English"]
        assert task["Instance License"] == ["Unknown"]
        assert len(task["Positive Examples"]) == 3 and len(task["Negative Examples"]) == 2
        for ex in task["Positive Examples"] + task["Negative Examples"]:
            assert set(ex) == {"input", "output", "explanation"} and all(isinstance(v, str) and v for v in ex.values())
        assert len(task["Instances"]) == N
        prefix = spec.name.split("_")[0]
        for inst in task["Instances"]:
            assert set(inst) == {"id", "input", "output"}
            assert re.fullmatch(rf"{prefix}-[0-9a-f]{{16}}", inst["id"])
            assert isinstance(inst["input"], str) and len(inst["input"].split()) < 40
            assert inst["output"] and all(isinstance(o, str) and o for o in inst["output"])


def test_examples_follow_the_rule(bench: Path) -> None:
    for spec in DEMO_TASKS:
        task = _task(bench, spec.name)
        inputs = {inst["input"] for inst in task["Instances"]}
        for ex in task["Positive Examples"]:
            assert ex["input"] not in inputs  # drawn from the rule, not copied from the instances
        for ex in task["Negative Examples"]:
            assert ex["input"] not in inputs and "wrong" in ex["explanation"]
        if spec.task_type == "CLS":  # a negative example's label is a real label, just not the right one
            labels = {lab.lower() for lab in spec.labels}
            for ex in task["Negative Examples"]:
                assert ex["output"].lower() in labels


def test_cls_label_sets_are_small_and_skewed(bench: Path) -> None:
    skewed = 0
    for spec in DEMO_TASKS:
        if spec.task_type != "CLS":
            continue
        outputs = [inst["output"] for inst in generate_task(spec, seed=0)["Instances"]]
        assert all(len(o) == 1 for o in outputs)
        labels = {o[0].lower() for o in outputs}
        assert 2 <= len(labels) <= 6
        assert {lab.rstrip(".") for lab in labels} <= {lab.lower() for lab in spec.labels}
        counts = sorted((sum(o[0].lower().rstrip(".") == lab.lower() for o in outputs) for lab in spec.labels))
        skewed += counts[-1] - counts[0] >= 6
    assert skewed >= 3  # a majority-label baseline differs from chance


def test_gen_tasks_have_some_multi_reference_instances() -> None:
    multi = [s.name for s in DEMO_TASKS if s.task_type == "GEN"
             and any(len(i["output"]) > 1 for i in generate_task(s, seed=0)["Instances"])]
    assert len(multi) >= 2


def test_answerability_exercises_normalisation() -> None:
    spec = next(s for s in DEMO_TASKS if s.category == "Answerability Classification")
    outputs = {i["output"][0] for i in generate_task(spec, seed=0)["Instances"]}
    assert outputs - {"Yes", "No"}  # some lower-cased or with trailing punctuation
    assert {o.lower().rstrip(".") for o in outputs} == {"yes", "no"}


def test_instance_ids_unique_across_benchmark(bench: Path) -> None:
    ids = [inst["id"] for spec in DEMO_TASKS for inst in _task(bench, spec.name)["Instances"]]
    assert len(ids) == len(set(ids)) == N * len(DEMO_TASKS)


def test_references_match_test_instances(bench: Path) -> None:
    rows = [json.loads(line) for line in (bench / "test_references.jsonl").read_text(encoding="utf-8").splitlines()]
    expected = [{"id": inst["id"], "references": inst["output"], "task_id": name,
                 "task_category": SPECS[name].category, "track": "default"}
                for name in _split(bench, "test") for inst in _task(bench, name)["Instances"]]
    assert rows == expected


def test_rule_spot_checks(bench: Path) -> None:
    def instances(slug: str) -> list[dict]:
        name = next(n for n in SPECS if n.endswith(slug))
        return _task(bench, name)["Instances"]

    for inst in instances("_reverse_word"):
        assert inst["output"] == [inst["input"][::-1]]
    for inst in instances("_number_parity"):
        number = int(inst["input"].split()[-1])
        assert inst["output"] == ["even" if number % 2 == 0 else "odd"]
    for inst in instances("_sort_words"):
        assert inst["output"] == [" ".join(sorted(inst["input"].split()))] != [inst["input"]]
    for inst in instances("_letter_count"):
        word = inst["input"].split("'")[1]
        assert inst["output"][0] == str(len(word))
    for inst in instances("_larger_number"):
        a, b = map(int, re.findall(r"\d+", inst["input"]))
        assert inst["output"] == ["first" if a > b else "second"]
    for inst in instances("_longest_word"):
        words = inst["input"].split()
        assert set(inst["output"]) == {w for w in words if len(w) == max(map(len, words))}


def test_ensure_does_not_rewrite_existing(tmp_path: Path) -> None:
    root = ensure_demo_benchmark(tmp_path / "cache", seed=0, instances_per_task=5)
    marker = root / "splits" / "default" / "test_tasks.txt"
    old = marker.stat().st_mtime_ns
    os.utime(marker, ns=(old - 10**9, old - 10**9))  # make a rewrite detectable even on coarse clocks
    before = marker.stat().st_mtime_ns
    assert ensure_demo_benchmark(root, seed=0, instances_per_task=5) == root
    assert marker.stat().st_mtime_ns == before
    assert not [p for p in tmp_path.iterdir() if p.name != "cache"]  # no temporary dirs left behind


def test_write_replaces_existing_dir_atomically(tmp_path: Path) -> None:
    root = write_demo_benchmark(tmp_path / "bench", seed=0, instances_per_task=3)
    (root / "stale.txt").write_text("old", encoding="utf-8")
    write_demo_benchmark(root, seed=1, instances_per_task=3)
    assert not (root / "stale.txt").exists()
    assert "seed: 1" in (root / "README.md").read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["bench"]


def test_default_root_respects_cache_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CROSSTASK_CACHE", str(tmp_path))
    seven = default_demo_root(7)
    assert seven.parent == tmp_path / "demo" and seven.name.startswith(f"seed7-n60-v{GENERATOR_VERSION}-")
    monkeypatch.delenv("CROSSTASK_CACHE")
    home = default_demo_root(0, 30)
    assert home.parent == Path.home() / ".cache" / "crosstask" / "demo" and home.name.startswith("seed0-n30-")


def test_cache_key_changes_with_generator_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import crosstask.data.demo as demo
    before = demo.default_demo_root()
    monkeypatch.setattr(demo, "_source_hash", lambda: "deadbeef")
    assert demo.default_demo_root() != before and demo.default_demo_root().name.endswith("-deadbeef")


@pytest.mark.parametrize("mode", ["instances", "examples"])
def test_toolkit_loads_and_types_every_task(bench: Path, mode: str) -> None:
    superni = pytest.importorskip("crosstask.data.superni")
    tasktype = pytest.importorskip("crosstask.data.tasktype")
    for split in ("train", "test"):
        loaded = superni.load_split(bench, split, max_instances=None)
        assert not loaded.missing and len(loaded.tasks) == len(_split(bench, split))
        for task in loaded.tasks:
            assert tasktype.type_task(task, mode).task_type.value == SPECS[task.name].task_type, task.name
