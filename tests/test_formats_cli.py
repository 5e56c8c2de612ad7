"""Every command's --data accepts the ecosystem's formats (crosstask.data.location → formats.prepare_data):
the generic JSONL file and a Hub-layout SuperNI folder train and evaluate through the CLI, a P3-layout folder
trains a ReCross upstream; a missing path is still the one-line "does not exist" error."""

import json
from pathlib import Path

import pytest

from crosstask.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"



@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSTASK_CACHE", str(tmp_path / "cache"))


SMALL = ["--max-length", "64", "--batch-size", "4", "--mixed-precision", "no"]


@pytest.mark.parametrize("source, n_cls", [("generic.jsonl", 1), ("superni_hub", 2)])
def test_train_and_evaluate_from_the_cli(bert, tmp_path, capsys, source, n_cls):
    data, run = str(FIXTURES / source), tmp_path / "run"
    main(["train", "classifier", "--data", data, "--model", bert, "--max-steps", "2", "--dev-tasks", "0",
          "--max-train-instances", "4", "--negatives", "1", "--output", str(run), *SMALL])
    assert json.loads((run / "train_summary.json").read_text())["steps"] == 2
    main(["evaluate", "--data", data, "--classifier", str(run), "--tasks", "cls", "--max-test-instances", "3",
          "--output", str(tmp_path / "eval"), *SMALL])
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["metrics"]["cls/classifier"]["overall"]["n"] == 3 * n_cls


def test_recross_upstream_and_zero_shot_from_a_p3_folder(bert, tmp_path):
    data, out = str(FIXTURES / "p3"), tmp_path / "upstream"
    main(["recross", "upstream", "--kind", "classifier", "--data", data, "--model", bert,
          "--max-steps", "1", "--max-per-task", "4", "--output", str(out), *SMALL])
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 1 and summary["n_records"] > 0
    assert main(["recross", "run", "--data", data, "--target", "all", "--retriever", "random", "--rounds", "0",
                 "--queries", "1", "--n", "2", "--upstream", str(out), "--output", str(tmp_path / "runs"),
                 "--max-length", "64", "--mixed-precision", "no"]) in (0, None)
    cb = json.loads((tmp_path / "runs" / "summary.json").read_text())["targets"]["super_glue-cb"]
    assert cb["counts"]["test"] == 4 and cb["counts"]["rank_records"] == 2  # validation rows of the two templates
    assert "rank/classifier/accuracy" in cb["zero_shot"]  # scored zero-shot on the P3 target


def test_missing_data_path_is_still_a_one_line_error(tmp_path, capsys):
    assert main(["baselines", "--data", str(tmp_path / "nowhere"), "--json", str(tmp_path / "b.json")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err and not (tmp_path / "b.json").exists()
