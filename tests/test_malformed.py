"""Malformed data files: every loader raises DataFormatError naming the file and the exact field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from crosstask.core.errors import CrosstaskError, DataFormatError
from crosstask.data import superni, t0
from crosstask.data.superni import cap_instances, load_split, load_task
from crosstask.data.t0 import load_records, read_task_lists


def valid_task() -> dict:
    return {
        "Definition": ["Decide whether the hypothesis follows from the premise."],
        "Categories": ["Textual Entailment"],
        "Positive Examples": [
            {"input": "P: a. H: a.", "output": "Yes", "explanation": "same"},
            {"input": "P: a. H: b.", "output": "No"},
        ],
        "Negative Examples": [{"input": "P: a. H: a.", "output": "No"}],
        "Instances": [
            {"id": "t-0", "input": "P: x. H: x.", "output": ["Yes"]},
            {"id": "t-1", "input": "P: x. H: y.", "output": ["No"]},
        ],
    }


def _mutate(change):
    task = valid_task()
    change(task)
    return task


def _set_instance_1(key, value):
    def change(task):
        task["Instances"][1][key] = value
    return change


VALID_RECORD = ["Is this positive?", ["yes"], "glue-sst2|train|is_positive|#0"]


# (case id, loader, text written to the file, expected field)
# loader: "task" (superni.load_task), "split" (superni.load_split, file is tasks/<name>.json),
#         "t0" (t0.load_records), "t0_lists" (t0.read_task_lists, file is split.json)
CASES = [
    ("definition-missing", "task", _mutate(lambda t: t.pop("Definition")), "Definition"),
    ("definition-empty-list", "task", _mutate(lambda t: t.update(Definition=[])), "Definition"),
    ("definition-blank-string", "task", _mutate(lambda t: t.update(Definition=["   "])), "Definition"),
    ("definition-not-a-list", "task", _mutate(lambda t: t.update(Definition="Decide.")), "Definition"),
    ("definition-item-not-str", "task", _mutate(lambda t: t.update(Definition=[3])), "Definition[0]"),
    ("categories-not-a-list", "task", _mutate(lambda t: t.update(Categories="Textual Entailment")), "Categories"),
    ("instances-missing", "task", _mutate(lambda t: t.pop("Instances")), "Instances"),
    ("instances-not-a-list", "task", _mutate(lambda t: t.update(Instances={"id": "t-0"})), "Instances"),
    ("instance-not-an-object", "task", _mutate(lambda t: t["Instances"].__setitem__(1, "P: x. H: y.")),
     "Instances[1]"),
    ("instance-missing-id", "task", _mutate(lambda t: t["Instances"][1].pop("id")), "Instances[1].id"),
    ("instance-id-not-str", "task", _mutate(_set_instance_1("id", 7)), "Instances[1].id"),
    ("instance-missing-input", "task", _mutate(lambda t: t["Instances"][1].pop("input")), "Instances[1].input"),
    ("instance-output-str", "task", _mutate(_set_instance_1("output", "No")), "Instances[1].output"),
    ("instance-output-empty-list", "task", _mutate(_set_instance_1("output", [])), "Instances[1].output"),
    ("instance-output-non-str-item", "task", _mutate(_set_instance_1("output", ["No", None])),
     "Instances[1].output[1]"),
    ("positive-example-missing-input", "task", _mutate(lambda t: t["Positive Examples"][0].pop("input")),
     "Positive Examples[0].input"),
    ("positive-example-not-an-object", "task", _mutate(lambda t: t["Positive Examples"].__setitem__(1, "No")),
     "Positive Examples[1]"),
    ("positive-example-output-empty-list", "task",
     _mutate(lambda t: t["Positive Examples"][1].update(output=[])), "Positive Examples[1].output"),
    ("negative-example-output-int", "task", _mutate(lambda t: t["Negative Examples"][0].update(output=0)),
     "Negative Examples[0].output"),
    ("positive-examples-not-a-list", "task", _mutate(lambda t: t.update({"Positive Examples": {}})),
     "Positive Examples"),
    ("empty-file", "task", "", "<file>"),
    ("whitespace-only-file", "task", "  \n\t\n  ", "<file>"),
    ("truncated-json", "task", json.dumps(valid_task())[:-25], "<file>"),
    ("top-level-list", "task", [valid_task()], "<root>"),
    ("top-level-null", "task", None, "<root>"),
    # the same problems reached through load_split (the file lives in tasks/)
    ("split-instance-output-str", "split", _mutate(_set_instance_1("output", "No")), "Instances[1].output"),
    ("split-truncated-json", "split", '{"Definition": ["x"], "Instances": [', "<file>"),
    # T0 / ReCross
    ("t0-top-level-object", "t0", {"records": [VALID_RECORD]}, "<root>"),
    ("t0-empty-file", "t0", "\n", "<file>"),
    ("t0-truncated-json", "t0", json.dumps([VALID_RECORD, VALID_RECORD])[:-3], "<file>"),
    ("t0-record-wrong-length", "t0", [VALID_RECORD, VALID_RECORD, VALID_RECORD[:2]], "[2]"),
    ("t0-record-not-a-list", "t0", [VALID_RECORD, {"input": "x"}], "[1]"),
    ("t0-input-not-str", "t0", [[["x"], ["yes"], "d|s|t|#0"]], "[0][0] (input)"),
    ("t0-outputs-not-a-list", "t0", [["Is this positive?", "yes", "glue-sst2|train|is_positive|#0"]],
     "[0][1] (outputs)"),
    ("t0-outputs-non-str-item", "t0", [["Is this positive?", ["yes", 1], "glue-sst2|train|is_positive|#0"]],
     "[0][1] (outputs)"),
    ("t0-id-too-few-fields", "t0", [VALID_RECORD, VALID_RECORD, ["Is this positive?", ["yes"], "glue-sst2|train|#2"]],
     "[2][2] (id)"),
    ("t0-id-too-few-fields-at-1", "t0", [VALID_RECORD, ["Is this positive?", ["yes"], "glue-sst2|train|is_positive"]],
     "[1][2] (id)"),
    ("t0-id-not-str", "t0", [["Is this positive?", ["yes"], 5]], "[0][2] (id)"),
    ("t0-split-missing-T0", "t0_lists", {"evaluation": ["ai2_arc-ARC-Challenge"]}, "T0"),
    ("t0-split-T0-not-a-list", "t0_lists", {"T0": "glue-sst2", "evaluation": []}, "T0"),
    ("t0-split-missing-evaluation", "t0_lists", {"T0": ["glue-sst2"]}, "evaluation"),
    ("t0-split-top-level-list", "t0_lists", [["glue-sst2"]], "<root>"),
    ("t0-split-empty-file", "t0_lists", "", "<file>"),
]


def _write(path: Path, content) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _load(kind: str, tmp_path: Path, content) -> tuple[Path, object]:
    """Write `content` where `kind`'s loader expects it; return (file path, thunk that loads it)."""
    if kind == "task":
        path = _write(tmp_path / "task001_bad.json", content)
        return path, lambda: load_task(path)
    if kind == "split":
        root = tmp_path / "superni"
        _write(root / "tasks" / "task002_good.json", valid_task())
        path = _write(root / "tasks" / "task001_bad.json", content)
        _write(root / "splits" / "default" / "train_tasks.txt", "\n")
        _write(root / "splits" / "default" / "test_tasks.txt", "task002_good\ntask001_bad\n")
        return path, lambda: load_split(root, "test")
    if kind == "t0":
        path = _write(tmp_path / "glue-sst2.json", content)
        return path, lambda: load_records(path)
    if kind == "t0_lists":
        path = _write(tmp_path / "recross" / "split.json", content)
        return path, lambda: read_task_lists(path.parent)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind, content, field", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_file_names_file_and_field(tmp_path, kind, content, field):
    path, load = _load(kind, tmp_path, copy.deepcopy(content))
    with pytest.raises(DataFormatError) as info:
        load()
    error = info.value
    assert isinstance(error, CrosstaskError)
    assert error.path == str(path)
    assert error.field == field
    assert error.problem
    message = str(error)
    assert path.name in message
    assert f"'{field}'" in message
    assert "\n" not in message


def test_cases_are_many_and_distinct():
    assert len(CASES) >= 14
    assert len({c[0] for c in CASES}) == len(CASES)


def test_valid_fixtures_load(tmp_path):
    """Sanity: the unmutated fixtures load, so each malformed case fails for its own reason only."""
    task = load_task(_write(tmp_path / "task001_ok.json", valid_task()))
    assert task.name == "task001_ok"
    assert task.category == "Textual Entailment"
    assert [i.outputs for i in task.instances] == [("Yes",), ("No",)]
    assert [e.output for e in task.positive_examples] == ["Yes", "No"]
    records = load_records(_write(tmp_path / "glue-sst2.json", [VALID_RECORD]))
    assert (records[0].dataset, records[0].split, records[0].template, records[0].index) == (
        "glue-sst2", "train", "is_positive", "#0")
    assert records[0].task == "glue-sst2"
    lists = read_task_lists(_write(tmp_path / "recross" / "split.json", {"T0": ["a"], "evaluation": ["b"]}).parent)
    assert lists["T0"] == ["a"]


def test_example_output_list_keeps_first(tmp_path):
    raw = valid_task()
    raw["Positive Examples"][0]["output"] = ["Yes", "yes indeed"]
    task = load_task(_write(tmp_path / "task001_ok.json", raw))
    assert task.positive_examples[0].output == "Yes"


def test_t0_template_with_pipe(tmp_path):
    path = _write(tmp_path / "x.json", [["in", ["out"], "super_glue-cb|validation|does it follow | or not|#12"]])
    record = load_records(path)[0]
    assert (record.dataset, record.split, record.template, record.index) == (
        "super_glue-cb", "validation", "does it follow | or not", "#12")


# --- splits with tasks absent on disk, instance caps -------------------------------------------------------


def _task_with_instances(n: int) -> dict:
    raw = valid_task()
    raw["Instances"] = [{"id": f"i{k}", "input": f"input {k}", "output": [f"out {k}"]} for k in range(n)]
    return raw


def _superni_dir(tmp_path: Path, present: dict[str, dict], train: list[str], test: list[str]) -> Path:
    root = tmp_path / "superni"
    for name, raw in present.items():
        _write(root / "tasks" / f"{name}.json", raw)
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    _write(root / "splits" / "default" / "train_tasks.txt", "".join(f"{n}\n" for n in train))
    _write(root / "splits" / "default" / "test_tasks.txt", "".join(f"{n}\n" for n in test))
    return root


def test_split_with_absent_tasks_loads_and_reports_missing(tmp_path):
    root = _superni_dir(
        tmp_path,
        {"task001_a": valid_task(), "task003_c": valid_task()},
        train=["task001_a", "task900_gone"],
        test=["task003_c", "task002_b", "task004_d", "task005_e"],
    )
    test = load_split(root, "test")
    assert test.split == "test"
    assert test.requested == 4
    assert [t.name for t in test.tasks] == ["task003_c"]
    assert len(test.missing) == 3
    assert test.missing == ["task002_b", "task004_d", "task005_e"]
    assert set(test.by_name()) == {"task003_c"}

    train = load_split(root, "train")
    assert [t.name for t in train.tasks] == ["task001_a"]
    assert train.missing == ["task900_gone"]
    assert train.requested == 2


def test_split_all_absent(tmp_path):
    root = _superni_dir(tmp_path, {}, train=[], test=["task1", "task2"])
    split = load_split(root, "test")
    assert split.tasks == []
    assert split.missing == ["task1", "task2"]


def test_split_malformed_task_not_listed_is_ignored(tmp_path):
    root = _superni_dir(tmp_path, {"task001_a": valid_task()}, train=[], test=["task001_a"])
    _write(root / "tasks" / "task999_bad.json", "{")
    assert [t.name for t in load_split(root, "test").tasks] == ["task001_a"]


def test_cap_instances_test_is_first_n_in_file_order(tmp_path):
    task = load_task(_write(tmp_path / "task010_many.json", _task_with_instances(20)))
    capped = cap_instances(task, "test", 5)
    assert [i.id for i in capped.instances] == ["i0", "i1", "i2", "i3", "i4"]
    assert [i.id for i in cap_instances(task, "test", None).instances] == [f"i{k}" for k in range(20)]
    assert len(cap_instances(task, "test", 100).instances) == 20
    # the task itself is left untouched
    assert len(task.instances) == 20


def test_cap_instances_train_is_seeded_shuffle(tmp_path):
    task = load_task(_write(tmp_path / "task010_many.json", _task_with_instances(30)))
    all_ids = [f"i{k}" for k in range(30)]

    full_a = [i.id for i in cap_instances(task, "train", None, seed=1).instances]
    full_b = [i.id for i in cap_instances(task, "train", None, seed=1).instances]
    full_c = [i.id for i in cap_instances(task, "train", None, seed=2).instances]
    assert full_a == full_b
    assert full_a != full_c
    assert sorted(full_a) == sorted(all_ids) and full_a != all_ids
    assert sorted(full_c) == sorted(all_ids)

    capped = [i.id for i in cap_instances(task, "train", 7, seed=1).instances]
    assert len(capped) == 7
    assert capped == full_a[:7]
    assert capped != [i.id for i in cap_instances(task, "train", 7, seed=2).instances]


def test_load_split_applies_caps(tmp_path):
    root = _superni_dir(tmp_path, {"task010_many": _task_with_instances(12)},
                        train=["task010_many"], test=["task010_many"])
    test = load_split(root, "test", max_instances=3)
    assert [i.id for i in test.tasks[0].instances] == ["i0", "i1", "i2"]
    train_a = load_split(root, "train", max_instances=4, seed=5)
    train_b = load_split(root, "train", max_instances=4, seed=5)
    train_c = load_split(root, "train", max_instances=None, seed=6)
    ids_a = [i.id for i in train_a.tasks[0].instances]
    assert len(ids_a) == 4
    assert ids_a == [i.id for i in train_b.tasks[0].instances]
    assert len(train_c.tasks[0].instances) == 12
    assert [i.id for i in train_c.tasks[0].instances] != [f"i{k}" for k in range(12)]


def test_public_loaders_are_the_documented_ones():
    assert superni.load_task is load_task and superni.load_split is load_split
    assert t0.load_records is load_records and t0.read_task_lists is read_task_lists


def test_non_utf8_file_names_file(tmp_path):
    from crosstask.core.errors import DataFormatError
    from crosstask.data.superni import load_task
    bad = tmp_path / "task_bad.json"
    bad.write_bytes(b'{"Definition": ["\xff"]}')
    with pytest.raises(DataFormatError) as info:
        load_task(bad)
    assert info.value.field == "<file>" and "UTF-8" in str(info.value) and "task_bad.json" in str(info.value)


def test_t0_record_with_no_outputs_is_rejected(tmp_path):
    import json

    from crosstask.core.errors import DataFormatError
    from crosstask.data.t0 import load_records
    bad = tmp_path / "pool.json"
    bad.write_text(json.dumps([["x", ["y"], "a|b|c|#0"], ["x", [], "a|b|c|#1"]]))
    with pytest.raises(DataFormatError) as info:
        load_records(bad)
    assert info.value.field == "[1][1] (outputs)"
