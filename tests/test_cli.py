"""The `crosstask` CLI, run in-process through `crosstask.cli.main` (and once as a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crosstask.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]


def _write(path: Path, content) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _task(category: str, positives: list[str], instances: list[tuple[str, list[str]]]) -> dict:
    return {
        "Definition": [f"A {category} task."],
        "Categories": [category],
        "Positive Examples": [{"input": f"example {k}", "output": out} for k, out in enumerate(positives)],
        "Negative Examples": [{"input": "negative", "output": "nonsense"}],
        "Instances": [{"id": f"{category[:4]}-{k}", "input": text, "output": outs}
                      for k, (text, outs) in enumerate(instances)],
    }


# Task A: positives Yes. / No / yes / no -> yes 2, no 2: a tie, won by "Yes." (its label occurs first).
TASK_A = _task("Textual Entailment", ["Yes.", "No", "yes", "no"], [
    ("Premise: it rains. Hypothesis: it is wet.", ["yes"]),      # mfpl 1, copy 0
    ("no", ["No"]),                                               # mfpl 0, copy 1 ("no" == "No")
    ("Premise: a cat. Hypothesis: an animal.", ["YES!"]),        # mfpl 1 ("Yes." == "YES!"), copy 0
])
# Task B: positives neutral / Entailment / entailment -> "Entailment" (2) beats "neutral" (1, but first).
TASK_B = _task("Textual Entailment", ["neutral", "Entailment", "entailment"], [
    ("P: x. H: x.", ["entailment"]),                            # mfpl 1, copy 0
    ("P: x. H: z.", ["neutral"]),                               # mfpl 0, copy 0
    ("P: x. H: not x.", ["contradiction", "Entailment."]),      # mfpl 1 (max over refs), copy 0
    ("neutral", ["neutral"]),                                   # mfpl 0, copy 1
])
# GEN task: Title Generation is never CLS.
TASK_G = _task("Title Generation", ["Some Title"], [
    ("A Short Title", ["a short title"]),                       # mfpl 0, copy 1
    ("A long text about many things.", ["Many Things"]),        # mfpl 0, copy 0
])
# A train task (CLS category, two labels) so that the train split has something present.
TASK_T = _task("Sentiment Analysis", ["positive", "negative"], [("good", ["positive"]), ("bad", ["negative"])])


def build_superni(root: Path, tasks: dict[str, dict | str], train: list[str], test: list[str]) -> Path:
    for name, content in tasks.items():
        _write(root / "tasks" / f"{name}.json", content)
    _write(root / "splits" / "default" / "train_tasks.txt", "".join(f"{n}\n" for n in train))
    _write(root / "splits" / "default" / "test_tasks.txt", "".join(f"{n}\n" for n in test))
    return root


@pytest.fixture
def good_dir(tmp_path) -> Path:
    return build_superni(
        tmp_path / "superni",
        {"task001_entail_a": TASK_A, "task002_entail_b": TASK_B, "task003_title": TASK_G, "task100_sent": TASK_T},
        train=["task100_sent", "task101_gone", "task102_gone"],
        test=["task001_entail_a", "task002_entail_b", "task003_title", "task004_gone"],
    )


# name of the malformed file, its content, the field the error must name
BAD_TASKS = {
    "invalid-json": ('{"Definition": ["x"], "Instances": [', "<file>"),
    "empty-file": ("", "<file>"),
    "missing-definition": ({k: v for k, v in TASK_A.items() if k != "Definition"}, "Definition"),
    "output-str": ({**TASK_A, "Instances": [TASK_A["Instances"][0], {**TASK_A["Instances"][1], "output": "No"}]},
                   "Instances[1].output"),
    "top-level-list": ([TASK_A], "<root>"),
}


def build_bad(tmp_path: Path, content) -> tuple[Path, Path]:
    root = build_superni(
        tmp_path / "superni",
        {"task001_entail_a": TASK_A, "task050_broken": content, "task100_sent": TASK_T},
        train=["task100_sent"],
        test=["task001_entail_a", "task050_broken"],
    )
    return root, root / "tasks" / "task050_broken.json"


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- malformed data: exit 2, one-line message, no traceback -------------------------------------------------


@pytest.mark.parametrize("command", [["data", "summary"], ["baselines"]], ids=["data-summary", "baselines"])
@pytest.mark.parametrize("case", list(BAD_TASKS))
def test_malformed_task_exits_2_with_one_line(tmp_path, capsys, command, case):
    content, field = BAD_TASKS[case]
    root, bad_file = build_bad(tmp_path, content)
    code, out, err = _run(capsys, [*command, "--data", str(root)])
    assert code == 2
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("crosstask: error:")
    assert bad_file.name in lines[0]
    assert f"'{field}'" in lines[0]


def test_malformed_json_output_is_not_written(tmp_path, capsys):
    root, _ = build_bad(tmp_path, "{")
    target = tmp_path / "out" / "report.json"
    code, _, _ = _run(capsys, ["baselines", "--data", str(root), "--json", str(target)])
    assert code == 2
    assert not target.exists()


@pytest.mark.parametrize("command", [["data", "summary"], ["baselines"]], ids=["data-summary", "baselines"])
def test_nonexistent_data_dir_exits_2(tmp_path, capsys, command):
    missing = tmp_path / "no" / "such" / "dir"
    code, out, err = _run(capsys, [*command, "--data", str(missing)])
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("crosstask: error:")
    assert str(missing) in lines[0]
    assert "does not exist" in lines[0]
    assert out == ""


def test_data_dir_without_splits_exits_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, ["baselines", "--data", str(tmp_path / "empty")])
    assert code == 2
    assert "Traceback" not in err
    assert "split" in err and len(err.strip().splitlines()) == 1


def test_subprocess_malformed_exits_2_without_traceback(tmp_path):
    root, bad_file = build_bad(tmp_path, BAD_TASKS["output-str"][0])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "crosstask", "baselines", "--data", str(root)],
                          capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert bad_file.name in proc.stderr
    assert "'Instances[1].output'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# --- --help ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, expected", [
    (["--help"], ["usage: crosstask", "data", "baselines"]),
    (["data", "--help"], ["usage: crosstask data", "summary"]),
    (["data", "summary", "--help"], ["usage: crosstask data summary", "--data", "--format", "--json", "--label-mode"]),
    (["baselines", "--help"], ["usage: crosstask baselines", "--data", "--split", "--tasks", "--baseline", "--json"]),
], ids=["top", "data", "data-summary", "baselines"])
def test_help(capsys, argv, expected):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out


def test_missing_command_is_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


# --- baselines on a known directory: exact EM ----------------------------------------------------------


def _baselines_json(capsys, root: Path, *extra: str) -> dict:
    code, out, err = _run(capsys, ["baselines", "--data", str(root), "--format", "json", *extra])
    assert code == 0, err
    return json.loads(out)


def test_baselines_exact_em_on_cls(good_dir, capsys):
    report = _baselines_json(capsys, good_dir)
    assert report["n_tasks"] == 2
    assert report["split"] == "test" and report["tasks"] == "cls"
    assert report["missing_tasks"] == ["task004_gone"]
    assert report["label_space_mode"] == "instances" and report["seed"] == 42
    results = report["results"]
    assert set(results) == {"random_label", "most_frequent_positive_label", "first_demo_output", "copy_input"}

    mfpl = results["most_frequent_positive_label"]
    # A: Yes. -> yes, No, YES! = 2/3; B: Entailment -> entailment, neutral, [contradiction, Entailment.], neutral = 2/4
    assert mfpl["overall"]["n"] == 7
    assert mfpl["per_task"]["task001_entail_a"]["exact_match"] == pytest.approx(round(100 * 2 / 3, 4))
    assert mfpl["per_task"]["task002_entail_b"]["exact_match"] == pytest.approx(50.0)
    assert mfpl["per_task"]["task001_entail_a"]["n"] == 3 and mfpl["per_task"]["task002_entail_b"]["n"] == 4
    assert mfpl["overall"]["exact_match"] == pytest.approx(round(100 * 4 / 7, 4))
    assert mfpl["per_category"]["Textual Entailment"]["exact_match"] == pytest.approx(round(100 * 4 / 7, 4))
    assert set(mfpl["per_category"]) == {"Textual Entailment"}

    copy = results["copy_input"]
    # A: only "no" vs ["No"]; B: only "neutral" vs ["neutral"]
    assert copy["per_task"]["task001_entail_a"]["exact_match"] == pytest.approx(round(100 / 3, 4))
    assert copy["per_task"]["task002_entail_b"]["exact_match"] == pytest.approx(25.0)
    assert copy["overall"]["exact_match"] == pytest.approx(round(100 * 2 / 7, 4))

    first = results["first_demo_output"]
    # A: "Yes." (same as mfpl: 2/3); B: "neutral" -> 2/4
    assert first["per_task"]["task001_entail_a"]["exact_match"] == pytest.approx(round(100 * 2 / 3, 4))
    assert first["per_task"]["task002_entail_b"]["exact_match"] == pytest.approx(50.0)
    assert first["overall"]["exact_match"] == pytest.approx(round(100 * 4 / 7, 4))

    for result in results.values():
        assert set(result["per_task"]) == {"task001_entail_a", "task002_entail_b"}
        assert 0.0 <= result["overall"]["exact_match"] <= 100.0
        assert 0.0 <= result["overall"]["rougeL"] <= 100.0


def test_baselines_tie_goes_to_first_label(tmp_path, capsys):
    """A single task isolates the tie rule: no/Yes/yes/No. -> tie no:2 yes:2, "no" occurs first."""
    task = _task("Textual Entailment", ["no", "Yes", "yes", "No."], [
        ("q1", ["No"]), ("q2", ["no."]), ("q3", ["yes"]),
    ])
    root = build_superni(tmp_path / "s", {"task001_tie": task}, train=[], test=["task001_tie"])
    report = _baselines_json(capsys, root, "--baseline", "most_frequent_positive_label")
    assert list(report["results"]) == ["most_frequent_positive_label"]
    assert report["results"]["most_frequent_positive_label"]["overall"]["exact_match"] == pytest.approx(
        round(100 * 2 / 3, 4))


def test_baselines_gen_and_all(good_dir, capsys):
    gen = _baselines_json(capsys, good_dir, "--tasks", "gen", "--baseline", "copy_input",
                          "--baseline", "most_frequent_positive_label")
    assert gen["n_tasks"] == 1
    assert gen["results"]["copy_input"]["overall"]["exact_match"] == pytest.approx(50.0)
    assert gen["results"]["copy_input"]["overall"]["n"] == 2
    assert set(gen["results"]["copy_input"]["per_category"]) == {"Title Generation"}
    assert gen["results"]["most_frequent_positive_label"]["overall"]["exact_match"] == 0.0

    everything = _baselines_json(capsys, good_dir, "--tasks", "all", "--baseline", "copy_input")
    assert everything["n_tasks"] == 3
    copy = everything["results"]["copy_input"]
    assert copy["overall"]["n"] == 9
    assert copy["overall"]["exact_match"] == pytest.approx(round(100 * 3 / 9, 4))
    assert set(copy["per_category"]) == {"Textual Entailment", "Title Generation"}


def test_baselines_max_instances_takes_first_n(good_dir, capsys):
    report = _baselines_json(capsys, good_dir, "--max-instances", "2", "--baseline", "most_frequent_positive_label")
    mfpl = report["results"]["most_frequent_positive_label"]
    # A: first two (yes, No) -> 1/2; B: first two (entailment, neutral) -> 1/2
    assert mfpl["overall"]["n"] == 4
    assert mfpl["overall"]["exact_match"] == pytest.approx(50.0)


def test_baselines_random_label_is_seeded(good_dir, capsys):
    a = _baselines_json(capsys, good_dir, "--baseline", "random_label", "--seed", "3")
    b = _baselines_json(capsys, good_dir, "--baseline", "random_label", "--seed", "3")
    assert a["results"] == b["results"]
    assert a["seed"] == 3


def test_baselines_markdown(good_dir, capsys):
    code, out, err = _run(capsys, ["baselines", "--data", str(good_dir)])
    assert code == 0, err
    assert "2 CLS test tasks" in out
    assert "1 tasks missing on disk" in out
    assert "| most_frequent_positive_label |" in out
    assert "EM Textual Entailment" in out


def test_baselines_json_file_matches_stdout(good_dir, tmp_path, capsys):
    target = tmp_path / "out" / "baselines.json"
    code, out, err = _run(capsys, ["baselines", "--data", str(good_dir), "--format", "json", "--json", str(target)])
    assert code == 0, err
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(out)
    # with markdown on stdout the file still holds the JSON report
    target2 = tmp_path / "out" / "baselines-md.json"
    code, out_md, _ = _run(capsys, ["baselines", "--data", str(good_dir), "--json", str(target2)])
    assert code == 0
    assert json.loads(target2.read_text(encoding="utf-8")) == json.loads(out)
    assert "|" in out_md


# --- data summary ---------------------------------------------------------------------------------------


def test_data_summary_counts(good_dir, capsys):
    code, out, err = _run(capsys, ["data", "summary", "--data", str(good_dir), "--format", "json"])
    assert code == 0, err
    summary = json.loads(out)
    assert summary["kind"] == "superni"
    assert summary["label_space_mode"] == "instances"
    test = summary["splits"]["test"]
    assert (test["requested"], test["present"], test["missing"]) == (4, 3, ["task004_gone"])
    assert (test["cls"], test["gen"]) == (2, 1)
    assert test["cls_by_category"] == {"Textual Entailment": 2}
    assert test["label_space_sizes"] == {
        "task001_entail_a": {"type": "CLS", "labels": 2},   # yes, no
        "task002_entail_b": {"type": "CLS", "labels": 3},   # entailment, neutral, contradiction
        "task003_title": {"type": "GEN", "labels": 2},
    }
    assert test["cls_label_space"] == {"min": 2, "median": 2.5, "max": 3}
    train = summary["splits"]["train"]
    assert (train["requested"], train["present"], train["missing"]) == (3, 1, ["task101_gone", "task102_gone"])
    assert (train["cls"], train["gen"]) == (1, 0)


def test_data_summary_examples_mode(good_dir, capsys):
    code, out, _ = _run(capsys, ["data", "summary", "--data", str(good_dir), "--format", "json",
                                 "--label-mode", "examples"])
    assert code == 0
    sizes = json.loads(out)["splits"]["test"]["label_space_sizes"]
    # A: Yes./No/yes/no + negative "nonsense" -> 3; B: neutral/Entailment/entailment + nonsense -> 3
    assert sizes["task001_entail_a"] == {"type": "CLS", "labels": 3}
    assert sizes["task002_entail_b"] == {"type": "CLS", "labels": 3}


def test_data_summary_markdown(good_dir, capsys):
    code, out, err = _run(capsys, ["data", "summary", "--data", str(good_dir)])
    assert code == 0, err
    assert "| split |" in out
    assert "test: 3 of 4 tasks present; 1 missing: task004_gone" in out
    assert "train: 1 of 3 tasks present; 2 missing: task101_gone, task102_gone" in out
    assert "Textual Entailment 2" in out


def test_data_summary_json_file_matches_stdout(good_dir, tmp_path, capsys):
    target = tmp_path / "summary.json"
    code, out, err = _run(capsys, ["data", "summary", "--data", str(good_dir), "--format", "json",
                                   "--json", str(target)])
    assert code == 0, err
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(out)


def test_data_root_holding_superni(good_dir, capsys):
    """--data may be a root with a superni/ folder inside."""
    code, out, err = _run(capsys, ["data", "summary", "--data", str(good_dir.parent), "--format", "json"])
    assert code == 0, err
    assert json.loads(out)["path"] == str(good_dir)
