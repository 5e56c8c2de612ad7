"""Runs never mix, training that fails says so, checkpoints heal (issue 15, points 1, 2, 4): tiny BERT
runs on the demo benchmark through the CLI, a few optimizer steps each."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
from fault_helpers import assert_one_line_error, expect_refused, run_cli, snapshot

from crosstask.core.runs import run_lock
from crosstask.training import classifier as classifier_training
from crosstask.training import trainer as trainer_module


def base(bert: str, output: Path, *extra: str) -> list[str]:
    return ["train", "classifier", "--demo", "--model", bert, "--max-train-instances", "4", "--dev-tasks", "1",
            "--max-dev-instances", "2", "--max-test-instances", "2", "--batch-size", "4", "--max-length", "64",
            "--negatives", "1", "--save-every", "2", "--eval-every", "100", "--mixed-precision", "no",
            "--output", str(output), *extra]


@pytest.fixture(scope="module")
def finished(bert, tmp_path_factory) -> Path:
    """A finished 4-step run with checkpoint-2 and checkpoint-4 (never modified by the tests)."""
    from crosstask.cli import main

    run = tmp_path_factory.mktemp("finished") / "R"
    assert main(base(bert, run, "--max-steps", "4")) == 0
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    return run


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "R"))


# --- runs never mix (issue point 1) ------------------------------------------------------------------------


def test_second_run_into_a_finished_run_is_refused(bert, finished, capsys):
    expect_refused(capsys, base(bert, finished, "--max-steps", "24", "--seed", "7", "--lr", "1e-4"), finished,
                   "--output", "already holds a run", "--resume", "--overwrite")


def test_resume_with_other_settings_is_refused_naming_them(bert, finished, capsys):
    line = expect_refused(capsys, base(bert, finished, "--max-steps", "24", "--seed", "7", "--lr", "1e-4", "--resume"),
                          finished, "other settings")
    assert "training.max_steps" in line and "training.seed" in line and "training.lr" in line


def test_generator_resume_into_a_classifier_run_keeps_its_run_config(bert, finished, capsys):
    argv = base(bert, finished, "--max-steps", "4", "--resume")
    argv[1] = "generator"
    line = expect_refused(capsys, argv, finished, "other settings")
    assert "kind" in line and json.loads((finished / "run_config.json").read_text())["kind"] == "classifier"


def test_a_second_process_is_locked_out(bert, finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    with run_lock(run):
        expect_refused(capsys, base(bert, run, "--max-steps", "4", "--resume"), run,
                       "in use by another crosstask process")


def test_overwrite_then_interrupt_then_resume_continues_the_new_run(bert, finished, tmp_path, capsys, monkeypatch):
    """The issue's reproduction: a new run with other settings into R, interrupted at step ~5, resumed."""
    run = _copy(finished, tmp_path)
    real, calls = classifier_training.classifier_loss, {"n": 0}

    def interrupted(model, batch):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return real(model, batch)

    monkeypatch.setattr(classifier_training, "classifier_loss", interrupted)
    new = ["--max-steps", "8", "--seed", "7", "--lr", "1e-4"]
    assert run_cli(capsys, base(bert, run, *new, "--overwrite"))[0] == 130
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-6"]
    assert json.loads((run / "run_config.json").read_text())["training"]["seed"] == 7
    assert not (run / "final").exists() and not (run / "train_summary.json").exists()
    monkeypatch.setattr(classifier_training, "classifier_loss", real)
    code, out, err = run_cli(capsys, base(bert, run, *new, "--resume"))
    assert code == 0, err
    assert f"resumed from {run / 'checkpoint-6'} (step 6)" in err
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["steps"] == 8 and summary["training"]["lr"] == 1e-4


def test_rotation_only_deletes_the_runs_own_checkpoints(bert, finished, tmp_path):
    """A foreign checkpoint with a higher step (another run's) survives the rotation."""
    from crosstask.data.benchmark import DataConfig, load_superni_data
    from crosstask.models.classifier import ClassifierConfig
    from crosstask.training.classifier import ClassifierTrainingConfig, train_classifier
    from crosstask.training.pairs import PairConfig
    from crosstask.training.trainer import TrainingArguments

    out = tmp_path / "api"
    shutil.copytree(finished / "checkpoint-4", out / "checkpoint-12")
    foreign = snapshot(out / "checkpoint-12")
    data = load_superni_data(DataConfig(demo=True, max_train_instances=4, dev_tasks=0))
    args = TrainingArguments(str(out), batch_size=4, max_steps=3, save_every=1, progress=False, mixed_precision="no")
    train_classifier(data.train, ClassifierTrainingConfig(ClassifierConfig(bert), PairConfig(negatives=1),
                                                          max_length=64), args)
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-12", "checkpoint-2", "checkpoint-3"]
    assert snapshot(out / "checkpoint-12") == foreign


# --- training that fails says so (issue point 2) --------------------------------------------------------------


def _nan_on_call(n: int):
    real, calls = classifier_training.classifier_loss, {"n": 0}

    def loss(model, batch):
        calls["n"] += 1
        value = real(model, batch)
        return value * float("nan") if calls["n"] == n else value
    return loss


def test_non_finite_loss_stops_training_and_exports_nothing(bert, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(classifier_training, "classifier_loss", _nan_on_call(3))
    run = tmp_path / "R"
    code, out, err = run_cli(capsys, base(bert, run, "--max-steps", "4"))
    assert_one_line_error(code, out, err, "non-finite loss", "step 3", "--skip-nonfinite")
    assert not (run / "final").exists() and not (run / "best").exists() and not (run / "train_summary.json").exists()
    assert [p.name for p in run.glob("checkpoint-*")] == ["checkpoint-2"]  # the last good state stays resumable


def test_skip_nonfinite_skips_and_counts_the_step(bert, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(classifier_training, "classifier_loss", _nan_on_call(3))
    run = tmp_path / "R"
    code, out, err = run_cli(capsys, base(bert, run, "--max-steps", "4", "--skip-nonfinite"))
    assert code == 0, err
    assert "step 3: non-finite loss" in err
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["skipped_nonfinite_steps"] == 1 and summary["steps"] == 4
    assert all(entry["loss"] == entry["loss"] for entry in summary["log"] if "loss" in entry)  # no NaN logged


def test_nothing_to_train_is_an_error_before_anything_is_written(bert, tmp_path, capsys):
    """Only CLS tasks with ≤ 1 label kept (there are none): 0 steps, refused before run_config.json."""
    expect_refused(capsys, base(bert, tmp_path / "R", "--max-train-labels", "1"), tmp_path, "nothing to train")
    assert not (tmp_path / "R").exists()


def test_best_is_only_an_evaluated_model(bert, finished):
    selection = json.loads((finished / "best" / "selection.json").read_text())
    summary = json.loads((finished / "train_summary.json").read_text())
    assert selection["step"] == summary["best_step"] and selection["value"] == summary["best_dev"]


# --- checkpoints that heal, writes that fail cleanly (issue point 4) ----------------------------------------


@pytest.mark.parametrize("damage", ["truncated-safetensors", "broken-trainer-state"])
def test_resume_falls_back_to_the_newest_checkpoint_that_loads(bert, finished, tmp_path, capsys, damage):
    run = _copy(finished, tmp_path)
    newest = run / "checkpoint-4"
    if damage == "truncated-safetensors":
        weights = newest / "state" / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    else:
        (newest / "trainer_state.json").write_text('{"global_step": 4, "epo')
    code, out, err = run_cli(capsys, base(bert, run, "--max-steps", "4", "--resume"))
    assert code == 0, err
    assert f"{newest} does not load" in err and "warning" in err
    assert f"resumed from {run / 'checkpoint-2'} (step 2)" in err
    assert json.loads((newest / "trainer_state.json").read_text())["global_step"] == 4  # rewritten, complete
    assert json.loads((run / "train_summary.json").read_text())["steps"] == 4


def test_resume_with_no_loadable_checkpoint_is_an_error(bert, finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    for checkpoint in run.glob("checkpoint-*"):
        (checkpoint / "trainer_state.json").write_text("{")
    expect_refused(capsys, base(bert, run, "--max-steps", "4", "--resume"), run, "no checkpoint", "loads")


def test_disk_full_during_a_checkpoint_keeps_the_previous_one(bert, tmp_path, capsys, monkeypatch):
    real = trainer_module.atomic_write_json

    def full_disk(path, obj):
        if Path(path).parent.name == ".checkpoint-4.tmp":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, obj)

    monkeypatch.setattr(trainer_module, "atomic_write_json", full_disk)
    run = tmp_path / "R"
    code, out, err = run_cli(capsys, base(bert, run, "--max-steps", "6"))
    assert_one_line_error(code, out, err, "no space left on device", "checkpoint-4")
    assert [p.name for p in run.glob("checkpoint-*")] == ["checkpoint-2"] and not list(run.glob(".checkpoint-*"))
    assert json.loads((run / "checkpoint-2" / "trainer_state.json").read_text())["global_step"] == 2
    monkeypatch.setattr(trainer_module, "atomic_write_json", real)
    code, out, err = run_cli(capsys, base(bert, run, "--max-steps", "6", "--resume"))  # space freed: resumes
    assert code == 0 and f"resumed from {run / 'checkpoint-2'}" in err, err


# --- evaluations never mix --------------------------------------------------------------------------------------


def test_evaluation_output_with_other_settings_is_refused_unless_overwrite(finished, tmp_path, capsys):
    ev = ["evaluate", "--demo", "--classifier", str(finished), "--max-test-instances", "2", "--max-length", "64",
          "--mixed-precision", "no", "--output", str(tmp_path / "E")]
    assert run_cli(capsys, ev)[0] == 0
    assert run_cli(capsys, ev)[0] == 0  # the same evaluation again: fine
    changed = [*ev[:5], "3", *ev[6:]]
    expect_refused(capsys, changed, tmp_path / "E", "--output", "other settings", "--overwrite")
    assert run_cli(capsys, [*changed, "--overwrite"])[0] == 0
    assert json.loads((tmp_path / "E" / "metrics.json").read_text())["data"]["max_test_instances"] == 3
