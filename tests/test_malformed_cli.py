"""Bad command lines: every flag's range, every choice, every path and a model directory's kind are
checked before any data or model loads and before anything is written — exit code 2, one line naming
the flag, no traceback, files that existed before unchanged (issue 15, point 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fault_helpers import expect_refused, run_cli, snapshot

TRAIN = ["train", "classifier", "--demo", "--output", "{out}"]
EVAL = ["evaluate", "--demo", "--output", "{out}"]
RUN = ["recross", "run", "--data", "{tmp}", "--upstream", "{cls}", "--output", "{out}"]

# (case id, argv with placeholders, text the one-line error must contain)
CASES = [
    ("train-batch-size-0", [*TRAIN, "--batch-size", "0"], "--batch-size"),
    ("train-grad-accum-0", [*TRAIN, "--grad-accum", "0"], "--grad-accum"),
    ("train-lr-nan", [*TRAIN, "--lr", "nan"], "--lr"),
    ("train-lr-inf", [*TRAIN, "--lr", "inf"], "--lr"),
    ("train-lr-zero", [*TRAIN, "--lr", "0"], "--lr"),
    ("train-lr-negative", [*TRAIN, "--lr", "-0.001"], "--lr"),
    ("train-lr-not-a-number", [*TRAIN, "--lr", "fast"], "--lr"),
    ("train-head-lr-nan", [*TRAIN, "--head-lr", "nan"], "--head-lr"),
    ("train-epochs-negative", [*TRAIN, "--epochs", "-1"], "--epochs"),
    ("train-epochs-zero", [*TRAIN, "--epochs", "0"], "--epochs"),
    ("train-max-steps-zero", [*TRAIN, "--max-steps", "0"], "--max-steps"),
    ("train-max-steps-negative", [*TRAIN, "--max-steps", "-5"], "--max-steps"),
    ("train-negatives-negative", [*TRAIN, "--negatives", "-1"], "--negatives"),
    ("train-dropout-above-1", [*TRAIN, "--dropout", "1.5"], "--dropout"),
    ("train-dropout-1", [*TRAIN, "--dropout", "1"], "--dropout"),
    ("train-scheduler-bogus", [*TRAIN, "--scheduler", "bogus"], "--scheduler"),
    ("train-scheduler-needs-metric", [*TRAIN, "--scheduler", "reduce_lr_on_plateau"], "--scheduler"),
    ("train-warmup-ratio-above-1", [*TRAIN, "--warmup-ratio", "1.5"], "--warmup-ratio"),
    ("train-weight-decay-negative", [*TRAIN, "--weight-decay", "-0.1"], "--weight-decay"),
    ("train-max-length-0", [*TRAIN, "--max-length", "0"], "--max-length"),
    ("train-max-test-instances-0", [*TRAIN, "--max-test-instances", "0"], "--max-test-instances"),
    ("train-max-train-instances-0", [*TRAIN, "--max-train-instances", "0"], "--max-train-instances"),
    ("train-save-every-negative", [*TRAIN, "--save-every", "-2"], "--save-every"),
    ("train-seed-negative", [*TRAIN, "--seed", "-1"], "--seed"),
    ("train-gen-negatives-bogus", [*TRAIN, "--gen-negatives", "many"], "--gen-negatives"),
    ("train-model-missing-local-path", [*TRAIN, "--model", "./no-such-model"], "does not exist"),
    ("train-model-missing-nested-path", [*TRAIN, "--model", "runs/missing/model"], "does not exist"),
    ("train-model-is-a-classifier", [*TRAIN, "--model", "{cls}"], "--model"),
    ("train-output-is-a-file", ["train", "classifier", "--demo", "--output", "{file}"], "--output"),
    ("train-resume-and-overwrite", [*TRAIN, "--resume", "--overwrite"], "--resume/--overwrite"),
    ("train-output-holds-a-run", ["train", "generator", "--demo", "--output", "{run}"], "--overwrite"),
    ("train-unknown-kind", ["train", "reranker", "--demo", "--output", "{out}"], "kind"),
    ("evaluate-classifier-as-generator", [*EVAL, "--generator", "{run}"], "--generator"),
    ("evaluate-generator-as-classifier", [*EVAL, "--classifier", "{gen}"], "--classifier"),
    ("evaluate-reranker-as-classifier", [*EVAL, "--classifier", "{rr}"], "--classifier"),
    ("evaluate-classifier-missing", [*EVAL, "--classifier", "{tmp}/nothing-here"], "does not exist"),
    ("evaluate-nothing-to-evaluate", EVAL, "--classifier/--generator"),
    ("evaluate-n-best-0", [*EVAL, "--classifier", "{cls}", "--n-best", "0"], "--n-best"),
    ("evaluate-batch-size-0", [*EVAL, "--classifier", "{cls}", "--batch-size", "0"], "--batch-size"),
    ("baselines-max-instances-0", ["baselines", "--demo", "--max-instances", "0"], "--max-instances"),
    ("baselines-unknown-baseline", ["baselines", "--demo", "--baseline", "oracle"], "--baseline"),
    ("baselines-json-is-a-directory", ["baselines", "--demo", "--json", "{tmp}"], "--json"),
    ("recross-run-upstream-is-a-reranker", [*RUN[:5], "{rr}", *RUN[6:]], "--upstream"),
    ("recross-run-reranker-is-a-classifier", [*RUN, "--reranker", "{cls}"], "--reranker"),
    ("recross-run-queries-0", [*RUN, "--queries", "0"], "--queries"),
    ("recross-run-adapt-lr-nan", [*RUN, "--adapt-lr", "nan"], "--adapt-lr"),
    ("recross-upstream-lr-inf", ["recross", "upstream", "--kind", "classifier", "--data", "{tmp}", "--output", "{out}",
                                "--lr", "inf"], "--lr"),
    ("recross-train-reranker-missing-file", ["recross", "train-reranker", "--data-file", "{tmp}/rows.jsonl",
                                             "--output", "{out}"], "--data-file"),
    ("demo-train-instances-0", ["demo", "--train-instances", "0", "--output", "{out}"], "--train-instances"),
    ("report-out-is-a-file", ["report", "--eval", "a={file}", "--out", "{file}"], "--out"),
]


def _fill(argv: list[str], tmp_path: Path, models: dict[str, Path]) -> list[str]:
    names = {"out": tmp_path / "out", "tmp": tmp_path, "file": tmp_path / "a-file.txt", "cls": models["classifier"],
             "gen": models["generator"], "rr": models["reranker"], "run": models["cls_run"]}
    return [arg.format(**{k: str(v) for k, v in names.items()}) for arg in argv]


@pytest.mark.parametrize("argv, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_command_line_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, saved_models, argv, needle):
    (tmp_path / "a-file.txt").write_text("keep me\n")
    models_before = snapshot(saved_models["cls_run"].parent)
    expect_refused(capsys, _fill(argv, tmp_path, saved_models), tmp_path, needle)
    assert not (tmp_path / "out").exists()
    assert snapshot(saved_models["cls_run"].parent) == models_before


def test_cases_are_many_and_distinct():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


def test_max_steps_help_says_zero_is_an_error(capsys):
    code, out, _ = run_cli(capsys, ["train", "--help"])
    assert code == 0 and "0 is an error" in " ".join(out.split())


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_is_a_clear_message(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        line = expect_refused(capsys, ["train", "classifier", "--demo", "--output", locked / "run"], tmp_path,
                              "--output", "not writable")
        assert "Errno" not in line and "PermissionError" not in line
    finally:
        locked.chmod(0o700)


def test_os_error_during_work_is_described_without_errno(tmp_path, capsys, monkeypatch):
    """An OSError that escapes a command (here: reading the data directory) prints plain words."""
    import errno

    from crosstask.data import location

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "data"))

    monkeypatch.setattr(location, "resolve_data_root", denied)
    code, out, err = run_cli(capsys, ["data", "summary", "--data", tmp_path / "data"])
    assert code == 2 and err.strip() == f"crosstask: error: {tmp_path / 'data'}: permission denied"


def test_valid_model_kinds_pass_validation(saved_models):
    from crosstask.models.kinds import check_model_dir, model_kind

    assert model_kind(saved_models["classifier"]) == "classifier"
    assert model_kind(saved_models["generator"]) == "generator"
    assert model_kind(saved_models["reranker"]) == "reranker"
    assert model_kind(saved_models["bert"]) == "backbone"
    assert check_model_dir("--classifier", saved_models["cls_run"], ("classifier",)) == (
        saved_models["cls_run"] / "best", "classifier")


def test_unwritable_json_output_is_a_clear_message_even_for_root(tmp_path, capsys):
    """/sys refuses new files for every user: the write fails, the message has no errno number."""
    target = Path("/sys/crosstask-forbidden.json")
    try:
        target.write_text("{}")
    except OSError:
        pass
    else:  # pragma: no cover - a writable /sys
        target.unlink()
        pytest.skip("/sys is writable here")
    code, out, err = run_cli(capsys, ["baselines", "--demo", "--json", target])
    assert code == 2 and "Traceback" not in err
    assert err.strip().startswith(f"crosstask: error: cannot write {target}: ") and "Errno" not in err
