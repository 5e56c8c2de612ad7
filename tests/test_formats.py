"""Data in the ecosystem's formats (crosstask.data.formats): SuperNI in the Hub layout of
Muennighoff/natural-instructions, T0 prompts in bigscience/P3's layout and the generic JSONL task format,
read from the tiny files of tests/fixtures/formats into the toolkit's records, bad input named by file and
field, and a tiny classifier trained and evaluated end to end on what they become."""

import json
import shutil
from pathlib import Path

import pytest

from crosstask.core.errors import DataFormatError, DataNotFoundError
from crosstask.data import formats, formats_rows
from crosstask.data.benchmark import DataConfig, load_superni_data
from crosstask.data.formats import DataFormat, detect_format, prepare_data, read_p3, read_superni_tasks
from crosstask.data.formats_p3 import SubsetName, parse_subset, recross_split
from crosstask.data.records import Example, Instance, T0Record
from crosstask.data.superni import load_split
from crosstask.data.t0 import load_target, load_upstream_pool

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"
GENERIC, HUB, P3 = FIXTURES / "generic.jsonl", FIXTURES / "superni_hub", FIXTURES / "p3"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSTASK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "formats"


def _names(task_set, split):
    return [(t.name, len(t.instances)) for t in task_set.splits[split]]


# ----- detection -----

def test_detects_each_schema_and_native_folders(tmp_path):
    assert detect_format(GENERIC).format is DataFormat.GENERIC
    assert detect_format(HUB).format is DataFormat.SUPERNI_HUB
    assert detect_format(HUB / "train" / "train-00000-of-00001.parquet").format is DataFormat.SUPERNI_HUB
    detected = detect_format(P3)
    assert detected.format is DataFormat.P3 and len(detected.files) == 5 and not detected.hub
    (tmp_path / "superni" / "tasks").mkdir(parents=True)
    assert detect_format(tmp_path / "superni").format is DataFormat.SUPERNI_DIR
    assert detect_format(tmp_path).format is DataFormat.DATA_ROOT
    (tmp_path / "recross").mkdir()
    (tmp_path / "recross" / "split.json").write_text("{}")
    assert detect_format(tmp_path / "recross").format is DataFormat.RECROSS_DIR
    assert prepare_data(str(tmp_path)) == str(tmp_path) and prepare_data(None) is None  # native: unchanged


def test_hub_id_when_no_local_path(monkeypatch):
    """`owner/name` that is no local path is a Hub dataset, read through `datasets` (here: the fixture's rows)."""
    rows = lambda hub_id: (row for f in sorted(HUB.rglob("*-0000*")) for row in formats_rows.file_rows(f))  # noqa: E731
    monkeypatch.setattr(formats, "hub_rows", rows)
    monkeypatch.setattr(formats, "hub_columns", lambda hub_id: list(next(rows(hub_id)).data))
    detected = detect_format("Muennighoff/natural-instructions")
    assert detected.hub and detected.format is DataFormat.SUPERNI_HUB
    assert _names(read_superni_tasks(detected), "test") == [("task101_entailment", 4), ("task102_title_generation", 3)]


def test_unreachable_hub_id_and_missing_paths_are_one_line_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match=r"^nobody/no-such-dataset: cannot load it from the Hugging Face Hub"):
        detect_format("nobody/no-such-dataset")
    with pytest.raises(DataNotFoundError, match="no such file or directory, and not a Hugging Face Hub dataset id"):
        detect_format(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="neither a SuperNI / ReCross data folder"):
        detect_format(tmp_path / "empty")


# ----- SuperNI, Hub layout -----

def test_superni_hub_layout_reads_into_tasks():
    tasks = read_superni_tasks(HUB)
    assert _names(tasks, "train") == [("task001_movie_sentiment", 6), ("task002_news_topic", 6),
                                      ("task003_copy_phrase", 4)]
    assert _names(tasks, "test") == [("task101_entailment", 4), ("task102_title_generation", 3)]
    sentiment = tasks.splits["train"][0]
    assert sentiment.definition == "Classify the review as positive or negative."
    assert sentiment.instances[1] == Instance("task001-1", "Terrible plot and worse acting.", ("negative",))
    assert sentiment.positive_examples == (Example("What a great day.", "positive", "Praise."),
                                           Example("So boring.", "negative", "Complaint."))
    assert sentiment.negative_examples == (Example("What a great day.", "negative", "It is praise, not a complaint."),)
    assert tasks.splits["train"][1].negative_examples == ()  # null demo columns: no example
    assert {t.category for t in tasks.tasks()} == {"Misc."}  # the layout names no category
    assert sentiment.source_path.endswith("train-00000-of-00001.parquet")
    assert tasks.split("test").requested == 2 and tasks.label_spaces == {}


def test_superni_hub_layout_runs_through_the_existing_loaders(cache):
    root = Path(prepare_data(str(HUB)))
    assert root.parent == cache and (root / "superni" / "tasks" / "task001_movie_sentiment.json").is_file()
    assert prepare_data(str(HUB)) == str(root)  # written once, then reused
    data = load_superni_data(DataConfig(data=str(root), max_test_instances=100, dev_tasks=0))
    # training tasks are shuffled before they are typed: label order follows the shuffle
    assert [(t.name, t.task_type.value, set(t.labels)) for t in data.train][:2] == [
        ("task001_movie_sentiment", "CLS", {"positive", "negative"}),
        ("task002_news_topic", "CLS", {"sports", "business", "science"})]
    assert [(t.name, t.is_cls, len(t.task.instances)) for t in data.test] == [
        ("task101_entailment", True, 4), ("task102_title_generation", True, 3)]  # open rule: <= 10 labels


# ----- generic JSONL -----

def test_generic_jsonl_reads_into_tasks_with_label_spaces():
    tasks = read_superni_tasks(GENERIC)
    assert _names(tasks, "train") == [("movie_sentiment", 6), ("news_topic", 4)]
    assert _names(tasks, "test") == [("entailment", 4), ("title_generation", 3)]  # no split: test
    assert tasks.label_spaces == {"movie_sentiment": ("positive", "negative"),
                                  "news_topic": ("sports", "business", "science"), "entailment": ("yes", "no")}
    sentiment, topic = tasks.splits["train"]
    assert sentiment.positive_examples == (Example("What a great day.", "positive"),)
    assert sentiment.instances[0] == Instance("movie_sentiment-0", "I loved this film.", ("positive",))
    assert topic.instances[3].id == "topic-3"
    assert [t.category for t in tasks.tasks()] == ["Text Categorization"] * 3 + ["Title Generation"]
    assert tasks.splits["test"][1].instances[0].outputs == ("City approves new park", "city approves new park")


def test_generic_jsonl_types_and_label_spaces_through_the_loaders(cache):
    root = prepare_data(GENERIC)
    data = load_superni_data(DataConfig(data=root, label_mode="instances", dev_tasks=0))
    assert [(t.name, t.task_type.value, set(t.labels)) for t in data.train + data.test] == [
        ("movie_sentiment", "CLS", {"positive", "negative"}), ("news_topic", "CLS", {"sports", "business", "science"}),
        ("entailment", "CLS", {"yes", "no"}), ("title_generation", "GEN", {"City approves new park",
                                                                          "Robot learns to fold laundry",
                                                                          "Storms flood the river"})]
    saved = json.loads((Path(root) / "superni" / "tasks" / "entailment.json").read_text())
    assert saved["Label_space"] == ["yes", "no"] and saved["Categories"] == ["Text Categorization"]
    assert len(load_split(Path(root) / "superni", "test").tasks) == 2


# ----- P3 -----

def test_p3_layout_reads_into_t0_records():
    records = read_p3(P3)
    assert len(records) == 6 + 3 + 2 + 2 + 2  # the _score_eval subset keeps the correct option's row only
    assert records[0] == T0Record("The striker scored twice.\nIs this news about sports, business or science?",
                                  ("sports",), "ag_news", "train", "classify_question_first", "#0", "ag_news")
    scored = [r for r in records if r.template == "can_we_infer"]
    assert [(r.outputs, r.split, r.index, r.task) for r in scored] == [
        (("Neither",), "validation", "#0", "super_glue-cb"), (("False",), "validation", "#1", "super_glue-cb")]
    assert {r.uid for r in records if r.task == "glue-mrpc"} == {f"glue-mrpc|train|paraphrase|#{i}" for i in range(3)}


def test_p3_subset_names():
    assert parse_subset("super_glue_wsc.fixed_in_other_words") == SubsetName("super_glue-wsc.fixed", "in_other_words",
                                                                             "super_glue-wsc.fixed")
    assert parse_subset("anli_GPT_3_style_r3_score_eval") == SubsetName("anli", "GPT_3_style", "anli_r3")
    assert parse_subset("ai2_arc_ARC_Challenge_heres_a_problem").task == "ai2_arc-ARC-Challenge"
    assert parse_subset("my_own_task") == SubsetName("my_own_task", "default", "my_own_task")


def test_p3_layout_becomes_upstream_pool_and_targets(cache):
    pool, targets = recross_split(read_p3(P3))
    assert pool.tasks == ["ag_news", "glue-mrpc"] and len(pool.records) == 9
    assert [(t.name, len(t.test), len(t.query)) for t in targets] == [("super_glue-cb", 4, 2)]
    root = Path(prepare_data(P3)) / "recross"
    loaded = load_upstream_pool(root)
    assert loaded.tasks == pool.tasks and loaded.records == pool.records
    target = load_target(root, "super_glue-cb")
    assert target.test == targets[0].test and target.query == targets[0].query


# ----- bad input: file and field named -----

def _generic_line(**fields):
    line = {"task": "t1", "definition": "Answer.", "input": "x", "outputs": ["yes"], "split": "train"}
    return json.dumps({k: v for k, v in {**line, **fields}.items() if v is not None})


@pytest.mark.parametrize("lines, field, problem", [
    ([_generic_line(outputs=None)], "line 1: outputs", "missing"),
    ([_generic_line(outputs=[1])], "line 1: outputs[0]", "expected str, got int"),
    ([_generic_line(outputs=[])], "line 1: outputs", "empty list"),
    ([_generic_line(task="../etc/passwd")], "line 1: task", "is not a task name"),
    ([_generic_line(definition=None)], "line 1: definition", "missing or empty"),
    ([_generic_line(label_space=["yes", "no"]), _generic_line(outputs=["maybe"])], "line 2: outputs",
     "'maybe' is not in the task's label_space"),
    ([_generic_line(), _generic_line(definition="Another.")], "line 2: definition", "differs from the task's first"),
    ([_generic_line(id="a"), "", _generic_line(id="a")], "line 3: id", "duplicate id 'a'"),
    ([_generic_line(split="dev")], "line 1: split", "expected train or test"),
    ([_generic_line(examples=[{"input": "x"}])], "line 1: examples[0].output", "missing"),
    ([_generic_line(), "{not json"], "line 2", "invalid JSON"),
    ([_generic_line(), "[1, 2]"], "line 2", "expected a JSON object"),
])
def test_generic_errors_name_file_and_field(tmp_path, lines, field, problem):
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as info:
        read_superni_tasks(path)
    assert info.value.path == str(path) and info.value.field == field and problem in info.value.problem


def _write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


HUB_ROW = {"task_name": "task1_x", "id": "1", "definition": "Do it.", "inputs": "a", "targets": "b"}


@pytest.mark.parametrize("name, rows, field, problem", [
    ("train/part.parquet", [HUB_ROW, {**HUB_ROW, "targets": None}], "row 2: targets", "missing"),
    ("test.jsonl", [{**HUB_ROW, "inputs": 3}], "row 1: inputs", "expected str, got int"),
    ("train.jsonl", [HUB_ROW, {**HUB_ROW}], "row 2: id", "duplicate id '1'"),
    ("rows.jsonl", [HUB_ROW], "row 1: split", "expected train or test"),  # no split in the name, folder or row
    ("train.jsonl", [{**HUB_ROW, "definition": " "}], "row 1: definition", "empty"),
    ("train.jsonl", [{**HUB_ROW, "pos_0_input": "q"}], "row 1: pos_0_output", "missing"),
    ("p3sub/train.parquet", [{"inputs_pretokenized": "q", "targets_pretokenized": None}],
     "row 1: targets_pretokenized", "missing"),
    ("p3sub/train.jsonl", [{"inputs_pretokenized": "q", "targets_pretokenized": "a", "answer_choices": [1]}],
     "row 1: answer_choices[0]", "expected str"),
    ("data.jsonl", [{"question": "q", "answer": "a"}], "<columns>", "not a known layout"),
])
def test_row_layout_errors_name_file_and_field(tmp_path, name, rows, field, problem):
    path = _write_rows(tmp_path / "in" / name, rows)
    with pytest.raises(DataFormatError) as info:
        prepare_data(tmp_path / "in", cache=tmp_path / "cache")
    assert info.value.path == str(path) and info.value.field == field and problem in info.value.problem
    assert not (tmp_path / "cache").exists()  # nothing written for bad input


def test_corrupt_files_and_mixed_folders_are_named(tmp_path):
    bad = tmp_path / "bad" / "train.parquet"
    bad.parent.mkdir()
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(DataFormatError, match=r"train\.parquet: field '<file>': not a parquet file"):
        detect_format(bad)
    mixed = tmp_path / "mixed"
    shutil.copytree(HUB, mixed / "hub")
    shutil.copy(GENERIC, mixed / "generic.jsonl")
    with pytest.raises(DataFormatError, match="one format per folder"):
        detect_format(mixed)


# ----- end to end: train and evaluate a tiny classifier on what the readers give -----

@pytest.mark.parametrize("source", [GENERIC, HUB], ids=["generic-jsonl", "superni-hub"])
def test_train_and_evaluate_a_tiny_classifier(bert, source, cache, tmp_path):
    from crosstask.experiments import superni as pipeline
    from crosstask.models.classifier import ClassifierConfig
    from crosstask.training.classifier import ClassifierTrainingConfig
    from crosstask.training.pairs import PairConfig
    from crosstask.training.trainer import TrainingArguments

    data = DataConfig(data=prepare_data(source), max_train_instances=4, max_test_instances=3, dev_tasks=0)
    args = TrainingArguments(str(tmp_path / "run"), batch_size=4, max_steps=2, lr=1e-3, progress=False)
    config = ClassifierTrainingConfig(ClassifierConfig(bert), PairConfig(negatives=1), max_length=64)
    summary = pipeline.train("classifier", data, config, args)
    assert summary["steps"] == 2 and summary["train_tasks"] == (2 if source == GENERIC else 3)
    report = pipeline.evaluate(data, tmp_path / "eval", classifier=str(tmp_path / "run"),
                               options=pipeline.EvalOptions(scope="cls", max_length=64))
    n_cls = 1 if source == GENERIC else 2  # generic: entailment (title_generation is GEN); hub: both test tasks
    assert report["n_cls_tasks"] == n_cls and report["metrics"]["cls/classifier"]["overall"]["n"] == 3 * n_cls
    rows = [json.loads(line) for line in (tmp_path / "eval" / "predictions-cls-classifier.jsonl").open()]
    assert len(rows) == 3 * n_cls and all(r["prediction"] in r["candidates"] for r in rows)
    if source == GENERIC:
        assert {r["id"] for r in rows} == {f"entailment-{i}" for i in range(3)}
        assert all(sorted(r["candidates"]) == ["no", "yes"] for r in rows)
