"""Data semantics, self-healing caches, failed writes and bounded ROUGE-L memory (issue 15, points 3–6):
see README "Failure behaviour" for what each case is documented to do."""

from __future__ import annotations

import errno
import json
import random
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import expect_refused, run_cli, snapshot, write_json
from test_malformed import _superni_dir as superni_dir
from test_malformed import valid_task

from crosstask.core.errors import DataFormatError, WriteError
from crosstask.core.io import atomic_save_dir, atomic_write_json
from crosstask.data.superni import load_split
from crosstask.data.t0 import read_task_lists
from crosstask.data.tasktype import LabelSpaceMode, dedupe_labels, type_task
from crosstask.evaluation.metrics import lcs_length, normalize_answer, rouge_l

# --- split entries, ids, empty tasks, empty splits, empty labels -----------------------------------------------


@pytest.mark.parametrize("entry", ["../../etc/passwd", "../secret", "tasks/task001_a", "/etc/passwd", ".hidden"])
def test_split_entry_that_is_not_a_task_name_is_an_error(tmp_path, capsys, entry):
    root = superni_dir(tmp_path, {"task001_a": valid_task()}, ["task001_a"], ["task001_a", entry])
    write_json(tmp_path / "secret.json", valid_task())  # what "../secret" would have read
    split_file = root / "splits" / "default" / "test_tasks.txt"
    with pytest.raises(DataFormatError) as info:
        load_split(root, "test")
    assert info.value.path == str(split_file) and info.value.field == "line 2"
    expect_refused(capsys, ["baselines", "--data", root], tmp_path, "test_tasks.txt", "'line 2'", "not a task name")


def test_t0_split_entry_that_is_a_path_is_an_error(tmp_path):
    path = write_json(tmp_path / "split.json", {"T0": ["glue-sst2", "../targets/piqa"], "evaluation": []})
    with pytest.raises(DataFormatError) as info:
        read_task_lists(tmp_path)
    assert info.value.path == str(path) and info.value.field == "T0[1]"


def test_duplicate_instance_ids_are_an_error(tmp_path, capsys):
    raw = valid_task()
    raw["Instances"].append({"id": "t-0", "input": "again", "output": ["Yes"]})
    root = superni_dir(tmp_path, {"task001_a": raw}, [], ["task001_a"])
    expect_refused(capsys, ["baselines", "--data", root], tmp_path, "task001_a.json", "'Instances[2].id'",
                   "duplicate id 't-0'")


def test_task_without_instances_is_skipped_with_a_warning(tmp_path, capsys):
    empty = {**valid_task(), "Instances": []}
    root = superni_dir(tmp_path, {"task001_a": valid_task(), "task002_empty": empty}, [],
                   ["task001_a", "task002_empty"])
    split = load_split(root, "test")
    assert [t.name for t in split.tasks] == ["task001_a"] and split.empty == ["task002_empty"]
    assert "1 task(s) without instances skipped" in capsys.readouterr().err  # logged: Python shows warnings
    code, out, err = run_cli(capsys, ["baselines", "--data", root, "--format", "json"])
    assert code == 0 and json.loads(out)["n_tasks"] == 1 and "task002_empty" in err


@pytest.mark.parametrize("test_list", [[], ["task404_gone"]], ids=["empty-split", "all-missing"])
def test_no_test_tasks_is_an_error_not_a_score_over_zero(tmp_path, capsys, test_list):
    root = superni_dir(tmp_path, {"task001_a": valid_task()}, ["task001_a"], test_list)
    expect_refused(capsys, ["baselines", "--data", root], tmp_path, "no CLS test tasks")


def test_evaluate_without_cls_test_tasks_is_an_error_before_any_model_loads(tmp_path, capsys, saved_models,
                                                                            monkeypatch):
    from crosstask.experiments import superni as pipeline

    monkeypatch.setattr(pipeline, "_classifier_predictions", lambda *a: pytest.fail("a model was loaded"))
    title = {**valid_task(), "Categories": ["Title Generation"]}
    root = superni_dir(tmp_path, {"task001_a": valid_task(), "task002_title": title}, ["task001_a"],
                   ["task002_title"])
    expect_refused(capsys, ["evaluate", "--data", root, "--classifier", saved_models["classifier"],
                            "--output", tmp_path / "E", "--mixed-precision", "no"], tmp_path, "no CLS test tasks")


def test_empty_outputs_are_never_labels():
    assert dedupe_labels(["", "Yes", "  ", "?", "yes", "No"]) == ("Yes", "No")


def test_task_with_an_empty_gold_answer_is_never_cls(tmp_path):
    from crosstask.data.superni import load_task

    raw = valid_task()
    raw["Instances"].append({"id": "t-2", "input": "P: -. H: -.", "output": [""]})
    typed = type_task(load_task(write_json(tmp_path / "task001_a.json", raw)))
    assert not typed.is_cls and "" not in typed.labels


def test_empty_label_space_is_never_cls(tmp_path):
    from crosstask.data.superni import load_task

    raw = {**valid_task(), "Positive Examples": [], "Negative Examples": []}
    task = load_task(write_json(tmp_path / "task001_a.json", raw))
    assert type_task(task, LabelSpaceMode.INSTANCES).is_cls  # its instances give it labels
    examples = type_task(task, LabelSpaceMode.EXAMPLES)
    assert examples.labels == () and not examples.is_cls


# --- reranker rows -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("row, field", [
    ({"query": "q", "candidate": "c", "label": "yes"}, "line 2: label"),
    ({"query": "q", "candidate": "c", "label": 2}, "line 2: label"),
    ({"query": "q", "candidate": "c", "label": True}, "line 2: label"),
    ({"candidate": "c", "label": 1}, "line 2: query"),
    ({"query": "q", "candidate": "", "label": 0}, "line 2: candidate"),
    (["q", "c", 1], "line 2"),
], ids=["label-yes", "label-2", "label-bool", "no-query", "empty-candidate", "not-an-object"])
def test_bad_reranker_row_names_file_and_field(tmp_path, capsys, row, field):
    rows = tmp_path / "ds.jsonl"
    rows.write_text(json.dumps({"query": "q", "candidate": "c", "label": 1}) + "\n" + json.dumps(row) + "\n")
    expect_refused(capsys, ["recross", "train-reranker", "--data-file", rows, "--output", tmp_path / "rr"], tmp_path,
                   "ds.jsonl", f"'{field}'")


def test_empty_reranker_rows_file(tmp_path, capsys):
    (tmp_path / "ds.jsonl").write_text("\n")
    expect_refused(capsys, ["recross", "train-reranker", "--data-file", tmp_path / "ds.jsonl", "--output",
                            tmp_path / "rr"], tmp_path, "ds.jsonl", "no rows")


# --- failed writes leave the previous state ----------------------------------------------------------------


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_write_keeps_the_previous_file(tmp_path, monkeypatch):
    from crosstask.core import io

    path = atomic_write_json(tmp_path / "metrics.json", {"old": 1})
    monkeypatch.setattr(io.os, "fsync", _full_disk)
    with pytest.raises(WriteError) as info:
        atomic_write_json(path, {"new": 2})
    assert str(info.value) == f"cannot write {path}: no space left on device (disk full); nothing there was replaced"
    assert json.loads(path.read_text()) == {"old": 1} and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_disk_full_json_output_of_a_command(tmp_path, capsys, monkeypatch):
    from crosstask.core import io

    write_json(tmp_path / "baselines.json", {"earlier": True})
    monkeypatch.setattr(io.os, "fsync", _full_disk)
    expect_refused(capsys, ["baselines", "--demo", "--json", tmp_path / "baselines.json"], tmp_path,
                   "baselines.json", "no space left on device")


def test_failed_directory_save_keeps_the_previous_directory(tmp_path):
    write_json(tmp_path / "best" / "weights.bin", "old weights")

    def half_then_full(directory: Path):
        (directory / "weights.bin").write_text("half")
        _full_disk()

    with pytest.raises(WriteError, match="no space left"):
        atomic_save_dir(tmp_path / "best", half_then_full)
    assert snapshot(tmp_path) == {"best": "<dir>", "best/weights.bin": snapshot(tmp_path)["best/weights.bin"]}
    assert (tmp_path / "best" / "weights.bin").read_text() == "old weights"


# --- the index cache heals ----------------------------------------------------------------------------------


class _Encoder:
    fingerprint = "test-encoder-v1"

    def encode(self, texts):
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(16) for t in texts]
        vectors = np.asarray(rows, dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("damage", ["truncated-index", "truncated-meta", "reordered-meta", "missing-index"])
def test_corrupt_index_cache_entry_is_rebuilt_with_a_warning(tmp_path, capsys, damage):
    from crosstask.data.records import T0Record
    from crosstask.retrieval.index import IndexCache

    records = [T0Record(f"input {i}", ("x",), "ds", "train", "t", f"#{i}", "ds") for i in range(40)]
    pool = write_json(tmp_path / "ds.json", [])
    cache = IndexCache(tmp_path / "cache")
    first = cache.get_or_build([pool], records, _Encoder())
    queries = _Encoder().encode(["input 3"])
    expected = first.index.search(queries, 5)
    if damage == "truncated-index":
        (first.path / "index.faiss").write_bytes((first.path / "index.faiss").read_bytes()[:50])
    elif damage == "truncated-meta":
        (first.path / "meta.json").write_text('{"format": 1, "ki')
    elif damage == "reordered-meta":
        meta = json.loads((first.path / "meta.json").read_text())
        meta["uids"] = meta["uids"][::-1]
        (first.path / "meta.json").write_text(json.dumps(meta))
    else:
        (first.path / "index.faiss").unlink()
    capsys.readouterr()
    again = cache.get_or_build([pool], records, _Encoder())
    assert again.built and "rebuilding" in capsys.readouterr().err
    assert [a.tolist() for a in again.index.search(queries, 5)] == [e.tolist() for e in expected]
    healed = cache.get_or_build([pool], records, _Encoder())
    assert not healed.built and [p.name for p in (tmp_path / "cache").iterdir()] == [first.key]


# --- a failed ReCross run never blocks its corrected re-run (issue point 5) -----------------------------------


def test_recross_run_validates_before_writing_so_the_corrected_run_works(tmp_path, capsys, saved_models):
    from test_recross_cli import make_recross_dir

    data = make_recross_dir(tmp_path / "recross")
    argv = ["recross", "run", "--data", data, "--target", "tgt_b", "--retriever", "random", "--rounds", "1",
            "--n", "8", "--upstream", saved_models["classifier"], "--output", tmp_path / "runs",
            "--adapt-max-steps", "1", "--max-length", "64", "--max-test", "3", "--mixed-precision", "no"]
    expect_refused(capsys, [*argv, "--queries", "500"], tmp_path, "--queries", "fewer than 500")
    assert not (tmp_path / "runs").exists()
    code, out, err = run_cli(capsys, [*argv, "--queries", "4"])
    assert code == 0, err
    assert json.loads((tmp_path / "runs" / "tgt_b" / "random" / "config.json").read_text())["query_size"] == 4


# --- ROUGE-L: rouge_score's values in O(min(n, m)) memory (issue point 3) ------------------------------------


def _rouge_score_l(prediction: str, reference: str) -> float:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return scorer.score(normalize_answer(reference), normalize_answer(prediction))["rougeL"].fmeasure


WORDS = "the cats sat on mats running runs ran dog dogs quickly quick brown fox jumps over lazy".split()


@pytest.mark.parametrize("prediction, reference", [
    ("The cat sat on the mat.", "the cats were sitting on mats"),
    ("Running dogs ran quickly!", "a dog runs quick"),
    ("", "anything"), ("anything", ""), ("?!", "..."), ("Yes", "yes."),
    ("A B C D E F G", "G F E D C B A"),
    (" ".join(random.Random(1).choice(WORDS) for _ in range(150)),
     " ".join(random.Random(2).choice(WORDS) for _ in range(90))),  # above the plain-Python size: numpy rows
    (" ".join(random.Random(3).choice(WORDS) for _ in range(400)), "quick brown fox"),
], ids=["stemming", "punctuation", "empty-prediction", "empty-reference", "only-punctuation", "case", "reversed",
        "long-both", "long-prediction"])
def test_rouge_l_equals_rouge_score(prediction, reference):
    assert rouge_l(prediction, reference) == _rouge_score_l(prediction, reference)


def test_lcs_length_matches_the_full_table_on_random_sequences():
    rng = random.Random(0)
    for _ in range(200):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 90))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 90))]
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a, 1):
            for j, y in enumerate(b, 1):
                table[i][j] = table[i - 1][j - 1] + 1 if x == y else max(table[i - 1][j], table[i][j - 1])
        assert lcs_length(a, b) == table[-1][-1] == lcs_length(b, a)


def test_rouge_l_memory_is_linear_in_the_shorter_text():
    """30 000 × 2 000 tokens: rouge_score's table would hold 60 M cells (≥ 480 MB); this stays under 8 MB."""
    rng = random.Random(0)
    long_text = " ".join(rng.choice(WORDS) for _ in range(30_000))
    reference = " ".join(rng.choice(WORDS) for _ in range(2_000))
    tracemalloc.start()
    try:
        value = rouge_l(long_text, reference)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0.0 < value < 1.0 and peak < 8 * 2**20, peak
