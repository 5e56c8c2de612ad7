"""Logging (issue 14.4): library code logs to `crosstask.*` loggers and prints nothing; the CLI shows the log on
stderr with -v (DEBUG) / default INFO / -q (WARNING), before or after the sub-command; warnings always show."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from fault_helpers import run_cli
from test_malformed import _superni_dir as superni_dir
from test_malformed import valid_task

import crosstask
from crosstask.cli import build_parser
from crosstask.core import precision

DEBUG_LINE = "crosstask: test split of"  # load_split's debug line
INFO_LINE = "crosstask: precision auto:"  # the trainer's INFO line on which precision `auto` chose



def _train(bert: str, output: Path, *flags: str) -> list[str]:
    return [*flags, "train", "classifier", "--demo", "--model", bert, "--max-train-instances", "4", "--dev-tasks",
            "1", "--max-dev-instances", "2", "--max-test-instances", "2", "--batch-size", "4", "--max-length", "64",
            "--negatives", "1", "--max-steps", "1", "--eval-every", "100", "--output", str(output)]


@pytest.mark.parametrize("argv, level", [
    ([], logging.INFO), (["-v"], logging.DEBUG), (["-q"], logging.WARNING),
    (["--verbose"], logging.DEBUG), (["--quiet"], logging.WARNING)])
def test_verbosity_flags_go_before_or_after_the_command(argv, level):
    parser = build_parser()
    assert parser.parse_args([*argv, "data", "summary", "--demo"]).log_level == level
    assert parser.parse_args(["data", "summary", "--demo", *argv]).log_level == level
    assert parser.parse_args(["recross", "report", "--runs", "r", "--out", "o", *argv]).log_level == level


def test_verbose_and_quiet_together_are_refused():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["data", "summary", "-v", "-q"])


def test_verbose_shows_debug_lines_and_the_default_does_not(capsys):
    code, out, err = run_cli(capsys, ["data", "summary", "--demo", "--format", "json"])
    assert code == 0 and DEBUG_LINE not in err
    for argv in (["-v", "data", "summary", "--demo"], ["data", "summary", "--demo", "-v"]):
        code, out, err = run_cli(capsys, argv)
        assert code == 0 and DEBUG_LINE in err and DEBUG_LINE not in out and "| split |" in out


def test_quiet_silences_info_lines_but_not_results(bert, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(precision, "cpu_features", lambda: {"cpu_capability": "AVX2", "amx": False,
                                                              "avx512_bf16": False, "fast_bf16": False})
    precision._announce.cache_clear()  # the INFO line is said once per process
    code, out, err = run_cli(capsys, _train(bert, tmp_path / "default"))
    assert code == 0, err
    assert INFO_LINE in err and INFO_LINE not in out and "trained classifier" in out
    precision._announce.cache_clear()
    code, out, err = run_cli(capsys, _train(bert, tmp_path / "quiet", "-q"))
    assert code == 0, err
    assert "trained classifier" in out  # results are still printed
    assert not [line for line in err.splitlines() if line.startswith("crosstask:")], err
    assert "log_level" not in yaml.safe_load((tmp_path / "quiet" / "config.yaml").read_text())
    precision._announce.cache_clear()


def test_a_warning_reaches_stderr_with_quiet(tmp_path, capsys):
    root = superni_dir(tmp_path, {"task001_a": valid_task(), "task002_empty": {**valid_task(), "Instances": []}},
                       [], ["task001_a", "task002_empty"])
    code, out, err = run_cli(capsys, ["-q", "baselines", "--data", root, "--format", "json"])
    assert code == 0 and "crosstask: warning: " in err and "task002_empty" in err


def test_library_code_prints_nothing_to_stdout(bert, tmp_path, capsys):
    data = crosstask.load_superni(demo=True, max_train_instances=4, max_test_instances=2)
    clf = crosstask.Classifier.from_backbone(bert, max_length=64)
    clf.fit(data.train, crosstask.TrainingArguments(str(tmp_path / "run"), batch_size=4, max_steps=1))
    clf.save_pretrained(tmp_path / "saved")
    reloaded = crosstask.Classifier.from_pretrained(tmp_path / "saved")
    reloaded.score("Is the review positive or negative?", "A moving film.", ["positive", "negative"])
    crosstask.evaluate(reloaded, data.test[:2])
    assert capsys.readouterr().out == ""
