import json
import math

import pytest

from crosstask.evaluation.calibration import calibrate
from crosstask.evaluation.classifier import CandidatePrediction
from crosstask.evaluation.tables import markdown_table, results_markdown
from crosstask.reporting.plots import em_bars, plot_em, plot_pair_counts


def pred(i, scores, task="t"):
    return CandidatePrediction(f"i{i}", task, "Textual Entailment", "a", ("b",), ("a", "b"), scores)


def test_calibration_removes_label_prior():
    # raw P(correct): both instances prefer "a"; mean-centred logits flip the second to "b"
    out = calibrate([pred(1, (0.9, 0.5)), pred(2, (0.8, 0.7))])
    assert [p.prediction for p in out] == ["a", "b"]
    logit = lambda p: math.log(p / (1 - p))
    assert out[0].scores[0] == pytest.approx(logit(0.9) - (logit(0.9) + logit(0.8)) / 2)


def test_calibration_is_per_task_and_keeps_scoreless_predictions():
    other = CandidatePrediction("g", "gen", "Title Generation", "x", ("x",), ("x",), ())
    out = calibrate([pred(1, (0.9, 0.5)), pred(2, (0.6, 0.5), task="u"), other])
    assert out[1].prediction == "a"  # task u alone: centring one instance makes every score 0 -> first wins
    assert out[2] is other


def _metrics(tmp_path, name, cls_em, gen_em):
    overall = lambda em: {"overall": {"exact_match": em, "rougeL": em, "n": 10}, "per_task": {},
                          "per_category": {"Textual Entailment": {"exact_match": em, "rougeL": em, "n": 10}}}
    report = {"data": {"data": "x", "demo": False}, "data_hash": "abc", "label_space_mode": "instances",
              "n_cls_tasks": 1, "n_gen_tasks": 0, "missing_test_tasks": [],
              "metrics": {"cls/classifier": overall(cls_em), "cls/generator": overall(gen_em),
                          "cls/baseline:random_label": overall(33.0), "cls/baseline:copy_input": overall(0.0)}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(report))
    return path, report


def test_em_plot_and_bars(tmp_path):
    a, report = _metrics(tmp_path, "a", 41.0, 30.0)
    b, _ = _metrics(tmp_path, "b", 42.5, 31.0)
    bars, baselines = em_bars({"w/o GEN": a, "w/ GEN": b})
    assert bars == [("w/o GEN", "cls/classifier", 41.0), ("w/o GEN", "cls/generator", 30.0),
                    ("w/ GEN", "cls/classifier", 42.5), ("w/ GEN", "cls/generator", 31.0)]
    assert baselines == {"random_label": 33.0}  # copy_input is left out of the reference lines
    out = plot_em({"w/o GEN": a, "w/ GEN": b}, tmp_path / "plots" / "em.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = results_markdown(report)
    assert "### CLS test tasks" in text and "| classifier | 41.00 | 41.00 | 10 | 41.00 |" in text


def test_pair_count_plot(tmp_path):
    summary = tmp_path / "train_summary.json"
    summary.write_text(json.dumps({"pairs": {"pairs": 30, "positive": 10, "negative": 20}}))
    assert plot_pair_counts({"cls": summary}, tmp_path / "pairs.png").stat().st_size > 1000


def test_markdown_table_formats_floats():
    assert markdown_table(["a", "b"], [["x", 1.23456], ["y", 2]]) == "| a | b |\n|---|---|\n| x | 1.23 |\n| y | 2 |"


def test_report_command(tmp_path, capsys):
    from crosstask.cli import main
    path, _ = _metrics(tmp_path, "a", 41.0, 30.0)
    assert main(["report", "--eval", f"cls w/o GEN={path}", "--out", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "em.png").exists()
    assert main(["report", "--eval", str(path), "--out", str(tmp_path / "plots")]) == 2
    assert "expected NAME=PATH" in capsys.readouterr().err
    assert main(["report", "--eval", "x=/no/such.json", "--out", str(tmp_path / "plots")]) == 2


def test_headline_metrics_of_a_generator_run_softem_then_em_then_rank():
    from crosstask.reporting.recross import headline_metrics

    zero = {"generation/exact_match": 1.0, "generation/soft_exact_match": 2.0, "rank/generator/accuracy": 3.0,
            "rank/generator/other": 4.0}
    methods = {"random": {"summary": {"rank/classifier/accuracy": {}}}}
    summary = {"targets": {"t": {"zero_shot": zero, "methods": methods}}}
    assert headline_metrics(summary) == ["generation/soft_exact_match", "generation/exact_match",
                                         "rank/classifier/accuracy", "rank/generator/accuracy"]


def test_merged_recross_run_root_names_each_methods_command():
    from crosstask.reporting.recross import _command_lines, method_commands

    first = "crosstask recross run --retriever random,sbert --rounds 5"
    later = "crosstask recross run --retriever bm25"
    targets = {t: {"methods": {"random": {"command": first}, "sbert": {"command": first}, "bm25": {"command": later}}}
               for t in ("a", "b")}
    summary = {"command": later, "methods": ["random", "bm25", "sbert"], "targets": targets}
    assert method_commands(summary) == {"random": first, "bm25": later, "sbert": first}
    assert _command_lines(summary)[2:] == [f"- random, sbert: `{first}`", f"- bm25: `{later}`"]
    old = {"command": first, "methods": ["random"], "targets": {"a": {"methods": {"random": {}}}}}  # before commands
    assert method_commands(old) == {"random": first} and _command_lines(old) == [f"Command: `{first}`"]
