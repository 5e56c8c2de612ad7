"""`crosstask recross ...` end to end on a tiny synthetic ReCross directory with a tiny BERT classifier:
upstream training sees upstream tasks only, the run is resumable, the report's numbers match the summary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_models import tiny_bert

from crosstask.cli import main
from crosstask.core.io import read_json
from crosstask.data.t0 import load_records
from crosstask.data.t0 import load_upstream_pool as capped_pool
from crosstask.data.t0_tasks import t0_typed_tasks
from crosstask.experiments import recross_round as recross
from crosstask.experiments.recross import METHODS
from crosstask.models.kinds import trained_on_option_texts
from crosstask.training import adapt as adapt_module
from crosstask.training.pairs import PairConfig, build_pairs, pair_counts

REPO_ROOT = Path(__file__).resolve().parents[1]
ADJ = ["good", "bad", "great", "awful", "fine", "poor"]
TOPICS = ["sports", "politics", "science", "business"]
UPSTREAM = ["sentiment", "topic", "qa"]
METRIC = "rank/classifier/accuracy"


def _write(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _rec(text: str, output: str, dataset: str, split: str, template: str, i: int) -> list:
    return [text, [output], f"{dataset}|{split}|{template}|#{i}"]


def _upstream(task: str) -> list[list]:
    out = []
    for i in range(40):
        if task == "sentiment" and i % 2:
            out.append(_rec(f"Review {i}: the movie was {ADJ[i % 6]}. Is it positive?", "yes" if i % 4 == 1 else "no",
                            task, "train", "positive yes no", i))
        elif task == "sentiment":
            out.append(_rec(f"Review {i}: a {ADJ[i % 6]} film. Great or terrible?", "great" if i % 4 else "terrible",
                            task, "train", "great or terrible", i))
        elif task == "topic":
            out.append(_rec(f"Article {i} about {TOPICS[i % 4]} news. Which topic?", TOPICS[i % 4], task, "train",
                            "which topic", i))
        else:  # open answers (GEN); "tgt_a" reuses this shape as leak bait
            out.append(_rec(f"Question: what is the capital city of country {i}?", f"city {i}", task, "train",
                            "capital", i))
    return out


def _target(name: str, split: str, n: int) -> list[list]:
    if name == "tgt_a":
        yes_no = [_rec(f"Statement {i}: the film is {ADJ[i % 6]}. Is the review positive?", "yes" if i % 2 else "no",
                       name, split, "is positive", i) for i in range(n)]
        return yes_no + [_rec(f"Question: which city is the capital of land {i}?", f"town {i}", name, split, "name",
                              n + i) for i in range(n)]
    labels = ["entailment", "neutral", "contradiction"]
    return [_rec(f"Premise: the cat {i} sleeps. Hypothesis: an animal rests. Entailment, neutral or contradiction?",
                 labels[i % 3], name, split, "entail", i) for i in range(n)]


def make_recross_dir(root: Path) -> Path:
    """3 upstream tasks × 40 records; 'tgt_a' is listed in T0 AND has an upstream file (leak bait);
    'missing_task' has no file; 2 targets with test-1000 / validation-1000."""
    _write(root / "split.json", {"T0": [*UPSTREAM, "tgt_a", "missing_task"], "evaluation": ["tgt_a", "tgt_b"]})
    for task in [*UPSTREAM, "tgt_a"]:
        _write(root / "upstream" / f"{task}.json", _upstream(task))
    for name in ("tgt_a", "tgt_b"):
        _write(root / "targets" / name / "test-1000.json", _target(name, "validation", 6))
        _write(root / "targets" / name / "validation-1000.json", _target(name, "train", 12))
    return root


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("recross-cli")
    data = make_recross_dir(root / "recross")
    bert = tiny_bert(root / "bert")
    upstream = root / "upstream"
    assert main(["recross", "upstream", "--kind", "classifier", "--data", str(root), "--output", str(upstream),
                 "--model", bert, "--max-per-task", "40", "--max-steps", "3", "--batch-size", "8", "--lr", "1e-3",
                 "--max-length", "64"]) == 0
    return {"root": root, "data": data, "bert": bert, "upstream": upstream, "runs": root / "runs"}


def test_upstream_expand_options_is_recorded(env, tmp_path):
    out = tmp_path / "expanded"
    assert main(["recross", "upstream", "--kind", "classifier", "--data", str(env["root"]), "--output", str(out),
                 "--model", env["bert"], "--max-per-task", "8", "--max-steps", "1", "--batch-size", "8",
                 "--max-length", "64", "--siamese", "--expand-options"]) == 0
    assert read_json(out / "run_config.json")["config"]["pairs"]["expand_options"] is True
    assert read_json(env["upstream"] / "run_config.json")["config"]["pairs"]["expand_options"] is False
    assert trained_on_option_texts(out / "final") and not trained_on_option_texts(env["upstream"])
    saved = read_json(out / "final" / "crosstask_inference.json")  # the saved model carries it, without its run
    assert saved["expand_options"] is True and "expand_options" not in read_json(
        env["upstream"] / "final" / "crosstask_inference.json")
    bare = tmp_path / "bare"
    shutil.copytree(out / "final", bare)
    assert trained_on_option_texts(bare) and '"index: option text"' in (bare / "README.md").read_text()
    runs = tmp_path / "runs"  # scored as it was trained, without repeating the flag
    assert main(["recross", "run", "--data", str(env["data"]), "--target", "tgt_b", "--retriever", "random",
                 "--rounds", "0", "--n", "8", "--queries", "3", "--upstream", str(out), "--output", str(runs),
                 "--max-length", "64"]) == 0
    assert read_json(runs / "summary.json")["settings"]["expand_options"] is True


def _run_args(env, *extra: str) -> list[str]:
    return ["recross", "run", "--data", str(env["data"]), "--target", "all", "--retriever", "random,bm25",
            "--rounds", "2", "--n", "16", "--queries", "4", "--upstream", str(env["upstream"]),
            "--output", str(env["runs"]), "--adapt-max-steps", "2", "--max-length", "64", *extra]


def test_upstream_trains_on_upstream_tasks_only(env):
    summary = read_json(env["upstream"] / "train_summary.json")
    assert summary["upstream_tasks"] == UPSTREAM and summary["missing_tasks"] == ["missing_task"]
    assert {"tgt_a", "tgt_b"} <= set(summary["excluded_tasks"])
    assert summary["records_per_task"] == {t: 40 for t in UPSTREAM} and summary["n_records"] == 120
    assert {name.split("|")[0] for name in summary["typed_tasks"]} == set(UPSTREAM)
    assert summary["typed_tasks"]["qa|capital"] == "GEN" and summary["typed_tasks"]["topic|which topic"] == "CLS"
    upstream = [r for t in UPSTREAM for r in load_records(env["data"] / "upstream" / f"{t}.json", t)]
    expected = pair_counts(build_pairs(t0_typed_tasks(upstream), PairConfig(mix_gen=True, seed=42)))
    leaky = load_records(env["data"] / "upstream" / "tgt_a.json", "tgt_a")
    assert summary["pairs"] == expected != pair_counts(build_pairs(t0_typed_tasks(upstream + leaky),
                                                                   PairConfig(mix_gen=True, seed=42)))
    assert summary["seed"] == 42 and len(summary["data_hash"]) == 16 and summary["command"].startswith("crosstask")
    assert read_json(env["upstream"] / "run_config.json")["data_hash"] == summary["data_hash"]
    assert (env["upstream"] / "final" / "encoder").is_dir()


def test_capped_pool_is_a_seeded_sample_without_targets(env):
    a, b = capped_pool(env["data"], 5, seed=1), capped_pool(env["data"], 5, seed=2)
    assert a.tasks == UPSTREAM and [r.task for r in a.records] == [t for t in UPSTREAM for _ in range(5)]
    assert a.records == capped_pool(env["data"], 5, seed=1).records and a.records != b.records
    assert len(capped_pool(env["data"]).records) == 120


def test_run_writes_rounds_and_summary_and_resumes(env, monkeypatch):
    calls = []
    original = recross.evaluate_model
    monkeypatch.setattr(recross, "evaluate_model", lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    assert main(_run_args(env)) == 0
    runs = env["runs"]
    for target in ("tgt_a", "tgt_b"):
        for method in ("random", "bm25"):
            for r in range(2):
                assert (runs / target / method / f"round-{r}" / "metrics.json").is_file()
                retrieved = read_json(runs / target / method / f"round-{r}" / "retrieved.json")
                assert len(retrieved["items"]) == 16 and retrieved["method"] == method
                assert all(item["uid"].split("|")[0] in UPSTREAM for item in retrieved["items"])
    model_dir = Path(read_json(runs / "summary.json")["model_dir"])
    assert sum(Path(c) == model_dir for c in calls) == 2  # zero-shot: once per target, not per method
    assert len(calls) == 2 + 2 * 2 * 2
    summary = read_json(runs / "summary.json")
    assert sorted(summary["targets"]) == ["tgt_a", "tgt_b"] and summary["methods"] == ["random", "bm25"]
    assert summary["upstream_tasks"] == UPSTREAM and summary["pool_size"] == 120
    assert summary["model_kind"] == "classifier"
    entry = summary["targets"]["tgt_a"]["methods"]["bm25"]
    assert entry["command"] == summary["command"] and "--retriever random,bm25" in entry["command"]
    values = [r[METRIC] for r in entry["rounds"]]
    assert entry["summary"][METRIC] == {"mean": pytest.approx(np.mean(values)), "std": pytest.approx(np.std(values)),
                                        "n": 2}
    assert set(summary["retrieved_tasks"]["random"]["tgt_b"]) <= set(UPSTREAM)
    assert summary["settings"]["aggregation"] == "fused" and summary["pseudo_targets"] == []
    assert summary["softem_normalization"] == "recross" and summary["settings"]["adapt"]["prompt"]["input_head"] == 32
    tgt_b = summary["targets"]["tgt_b"]  # 6 NLI records, labels cycle entailment / neutral / contradiction
    assert tgt_b["baselines"]["majority"] == pytest.approx(100 / 3, abs=1e-3)
    assert tgt_b["baselines"]["uniform"] == pytest.approx(100 / 3, abs=1e-3)
    assert tgt_b["examples"] == 6 and tgt_b["counts"]["test"] == 6 and tgt_b["counts"]["inputs_cut"] == 0
    interval = summary["ci95"][METRIC]["bm25"]
    assert interval["n_targets"] == 2 and set(interval["targets"]) == {"tgt_a", "tgt_b"}
    low, high = interval["mean_gain"]
    assert interval["mean_gain_rounds"][0] <= interval["mean_gain_rounds"][1]  # each target's rounds resampled too
    gain = np.mean([summary["targets"][t]["methods"]["bm25"]["summary"][METRIC]["mean"]
                    - summary["targets"][t]["zero_shot"][METRIC] for t in ("tgt_a", "tgt_b")])
    assert low <= gain + 1e-9 and gain - 1e-9 <= high

    monkeypatch.setattr(adapt_module, "adapt", lambda *a, **k: pytest.fail("recomputed an adaptation"))
    monkeypatch.setattr(recross, "evaluate_model", lambda *a, **k: pytest.fail("re-evaluated"))
    assert main(_run_args(env)) == 0
    again = read_json(runs / "summary.json")
    assert again["targets"] == summary["targets"] and again["data_hash"] == summary["data_hash"]
    assert main(_run_args(env, "--n", "8")) == 2  # other settings in the same run root: refused


def test_report_table_heatmap_and_gains(env, capsys):
    if not (env["runs"] / "summary.json").exists():
        assert main(_run_args(env)) == 0
    summary = read_json(env["runs"] / "summary.json")
    out = env["root"] / "report"
    assert main(["recross", "report", "--runs", str(env["runs"]), "--out", str(out)]) == 0
    table = (out / "recross.md").read_text(encoding="utf-8")
    assert "| target | majority | uniform | zero-shot | random | bm25 | sbert | dense | dense+rerank |" in table
    assert "Metric: rank classification: the classifier's most probable option" in table
    assert "| gain 95 % CI (paired bootstrap) |" in table and "| target | test records | examples |" in table
    assert "| gain 95 % CI, rounds resampled too |" in table
    assert "Table 1" in table and "| mean | 40.38 |" in table and "**mean**" in table
    assert f"Command: `{summary['command']}`" in table
    assert (out / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = read_json(out / "recross.json")
    assert report["metric"] == METRIC and report["paper_metric"] is None
    assert report["softem_normalization"] == "recross" and report["rounds"] == 2
    assert report["run_commands"] == {"random": summary["command"], "bm25": summary["command"]}
    assert report["test_records"] == {"tgt_a": 12, "tgt_b": 6}
    majority = np.mean([summary["targets"][t]["baselines"]["majority"] for t in ("tgt_a", "tgt_b")])
    assert report["majority_baseline_mean"] == pytest.approx(majority)
    assert report["methods"]["bm25"]["ci95"] == summary["ci95"][METRIC]["bm25"]["mean_gain"]
    assert report["methods"]["bm25"]["ci95_rounds"] == summary["ci95"][METRIC]["bm25"]["mean_gain_rounds"]
    low, high = report["methods"]["random"]["ci95"]
    assert f"| gain 95 % CI (paired bootstrap) |  |  |  | [{low:.2f}, {high:.2f}] |" in table
    zero = np.mean([summary["targets"][t]["zero_shot"][METRIC] for t in ("tgt_a", "tgt_b")])
    assert report["zero_shot_mean"] == pytest.approx(zero)
    for method in METHODS:
        assert {"mean", "gain"} <= set(report["methods"][method]) and report[method] == report["methods"][method]
        if method in ("random", "bm25"):
            mean = np.mean([summary["targets"][t]["methods"][method]["summary"][METRIC]["mean"]
                            for t in ("tgt_a", "tgt_b")])
            assert report["methods"][method]["mean"] == pytest.approx(mean)
            assert report["methods"][method]["gain"] == pytest.approx(mean - zero)
            assert f"{mean:.2f} ±" in table
        else:
            assert report["methods"][method]["mean"] is None and report["methods"][method]["gain"] is None
    assert "wrote" in capsys.readouterr().out
    notes = env["root"] / "notes.md"
    notes.write_text("## Setup\n\nbudget text\n", encoding="utf-8")
    assert main(["recross", "report", "--runs", str(env["runs"]), "--out", str(out), "--notes", str(notes)]) == 0
    assert (out / "recross.md").read_text(encoding="utf-8").endswith("## Setup\n\nbudget text\n")
    assert main(["recross", "report", "--runs", str(env["runs"]), "--out", str(out), "--notes", "nope.md"]) == 2


def _as_generator_run(summary: dict, offset: float) -> dict:
    """The summary as if from a generator upstream whose SoftEM is the classifier's accuracy + offset."""
    text = json.dumps(summary).replace(f'"{METRIC}"', '"generation/soft_exact_match"')
    generator = json.loads(text)
    generator["model_kind"] = "generator"
    for entry in generator["targets"].values():
        entry["zero_shot"]["generation/soft_exact_match"] += offset
    return generator


def test_report_two_run_roots_one_page(env):
    if not (env["runs"] / "summary.json").exists():
        assert main(_run_args(env)) == 0
    summary = read_json(env["runs"] / "summary.json")
    generator_file = env["root"] / "generator_summary.json"
    generator_file.write_text(json.dumps(_as_generator_run(summary, 5.0)), encoding="utf-8")
    out = env["root"] / "report_two"
    assert main(["recross", "report", "--runs", str(env["runs"]), str(generator_file), "--out", str(out)]) == 0
    table = (out / "recross.md").read_text(encoding="utf-8")
    assert "## classifier upstream" in table and "## generator upstream" in table
    assert f"### {METRIC}" in table and "### generation/soft_exact_match" in table
    assert table.count("Table 1") == 1
    assert (out / "heatmap.png").is_file() and (out / "heatmap_generator.png").is_file()
    report = read_json(out / "recross.json")
    zero = np.mean([summary["targets"][t]["zero_shot"][METRIC] for t in ("tgt_a", "tgt_b")])
    assert report["metric"] == METRIC and report["zero_shot_mean"] == pytest.approx(zero)
    assert [u["model_kind"] for u in report["upstreams"]] == ["classifier", "generator"]
    paper = report["paper_metric"]
    assert paper["metric"] == "generation/soft_exact_match" and paper["model_kind"] == "generator"
    assert paper["zero_shot_mean"] == pytest.approx(zero + 5.0)
    assert paper["methods"]["random"]["gain"] == pytest.approx(report["methods"]["random"]["gain"] - 5.0)
    assert report["heatmaps"] == [str(out / "heatmap.png"), str(out / "heatmap_generator.png")]
    kept = [u["summary_file"] for u in report["upstreams"]]
    assert kept == [str(out / "recross_summary_classifier.json"), str(out / "recross_summary_generator.json")]
    rebuilt = env["root"] / "report_rebuilt"
    assert main(["recross", "report", "--runs", *kept, "--out", str(rebuilt)]) == 0
    again = read_json(rebuilt / "recross.json")
    assert again["paper_metric"] == paper and again["methods"] == report["methods"]
    assert (rebuilt / "recross.md").read_text(encoding="utf-8") == table


def test_report_under_another_name_sits_beside_the_default(env, tmp_path):
    if not (env["runs"] / "summary.json").exists():
        assert main(_run_args(env)) == 0
    out = tmp_path / "results"
    generator_file = tmp_path / "generator_summary.json"
    generator_file.write_text(json.dumps(_as_generator_run(read_json(env["runs"] / "summary.json"), 5.0)),
                              encoding="utf-8")
    assert main(["recross", "report", "--runs", str(generator_file), "--out", str(out)]) == 0
    report = ["recross", "report", "--runs", str(env["runs"]), "--out", str(out), "--name"]
    assert main([*report, "recross_classifier"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "heatmap.png", "recross.json", "recross.md", "recross_classifier.json", "recross_classifier.md",
        "recross_classifier_heatmap.png", "recross_classifier_summary_classifier.json",
        "recross_summary_generator.json"]
    assert read_json(out / "recross.json")["metric"] == "generation/soft_exact_match"
    classifier = read_json(out / "recross_classifier.json")
    assert classifier["metric"] == METRIC and classifier["heatmap"] == str(out / "recross_classifier_heatmap.png")
    assert main([*report, "../up"]) == 2


def test_report_labels_runs_made_before_the_paper_metric(env, tmp_path):
    if not (env["runs"] / "summary.json").exists():
        assert main(_run_args(env)) == 0
    summary = _as_generator_run(read_json(env["runs"] / "summary.json"), 0.0)
    assert summary.pop("softem_normalization") == "recross"
    assert summary["settings"]["adapt"].pop("prompt")["input_head"] == 32
    old = tmp_path / "old_summary.json"
    old.write_text(json.dumps(summary), encoding="utf-8")
    assert main(["recross", "report", "--runs", str(old), "--out", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report" / "recross.md").read_text(encoding="utf-8")
    assert "Metric: SoftEM, OLD crosstask definition (not the paper's)" in table
    assert "OLD run: cut keeping the beginning" in table
    report = read_json(tmp_path / "report" / "recross.json")
    assert report["softem_normalization"] == "superni" and report["metric_definition"].startswith("SoftEM, OLD")


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["recross", "report", "--runs", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert main(["recross", "run", "--data", str(make_recross_dir(tmp_path / "ok")), "--target", "nope",
                 "--upstream", str(tmp_path), "--output", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # the upstream directory holds no model: validated (issue 15) before the target is looked up
    assert len(err) == 2 and "no such file" in err[0] and "--upstream" in err[1] and "no saved model" in err[1]


def test_malformed_target_file_exit_code_2(tmp_path):
    data = make_recross_dir(tmp_path / "recross")
    bad = _write(data / "targets" / "tgt_b" / "test-1000.json", [["only an input", ["x"]]])
    # classifier-shaped: passes the flag checks, never loads
    _write(tmp_path / "none" / "crosstask_classifier.json", {})
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "crosstask", "recross", "run", "--data", str(data),
                           "--target", "all", "--retriever", "bm25", "--upstream", str(tmp_path / "none"),
                           "--output", str(tmp_path / "runs")], capture_output=True, text=True, env=env,
                          cwd=REPO_ROOT, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_distant_supervision_reranker_and_dense_rerank_run(env, tmp_path):
    ds, reranker, runs = tmp_path / "ds.jsonl", tmp_path / "reranker", tmp_path / "runs"
    assert main(["recross", "distant-supervision", "--data", str(env["data"]), "--upstream", str(env["upstream"]),
                 "--output", str(ds), "--pseudo-targets", "sentiment", "--query-size", "2", "--group-size", "4",
                 "--n-groups", "2", "--heldout-size", "4", "--adapt-max-steps", "1", "--max-length", "64"]) == 0
    rows = [json.loads(line) for line in ds.read_text().splitlines()]
    assert len(rows) == 16 and {r["label"] for r in rows} == {0, 1}
    assert all(r["pseudo_target"] == "sentiment" and not r["candidate_uid"].startswith("sentiment") for r in rows)
    assert main(["recross", "train-reranker", "--data-file", str(ds), "--output", str(reranker), "--model",
                 env["bert"],
                 "--batch-size", "8", "--max-length", "64"]) == 0
    assert main(["recross", "run", "--data", str(env["data"]), "--target", "tgt_b", "--retriever",
                 "dense,dense_rerank",
                 "--reranker", str(reranker), "--rounds", "1", "--n", "8", "--queries", "3", "--upstream",
                 str(env["upstream"]), "--output", str(runs), "--adapt-max-steps", "1", "--max-length", "64"]) == 0
    retrieved = read_json(runs / "tgt_b" / "dense_rerank" / "round-0" / "retrieved.json")
    assert retrieved["method"] == "dense+rerank" and retrieved["reranked_from"] == 16 and len(retrieved["items"]) == 8
    assert len(list((runs / "index-cache").iterdir())) == 1  # one dense index shared by both methods
    other = tmp_path / "other-runs"  # another run root reuses the content-keyed index through --index-cache
    assert main(["recross", "run", "--data", str(env["data"]), "--target", "tgt_b", "--retriever", "dense",
                 "--rounds", "1", "--n", "8", "--queries", "3", "--upstream", str(env["upstream"]), "--output",
                 str(other), "--index-cache", str(runs / "index-cache"), "--adapt-max-steps", "1",
                 "--max-length", "64"]) == 0
    assert not (other / "index-cache").exists() and len(list((runs / "index-cache").iterdir())) == 1
    report = main(["recross", "report", "--runs", str(runs), "--out", str(tmp_path / "report")])
    assert report == 0 and read_json(tmp_path / "report" / "recross.json")["dense_rerank"]["n_targets"] == 1


def test_concat_aggregation_ceiling_and_all_test_records(env, tmp_path):
    runs = tmp_path / "runs"
    assert main(["recross", "run", "--data", str(env["data"]), "--target", "tgt_b", "--retriever", "bm25",
                 "--aggregation", "concat", "--ceiling", "8", "--rounds", "1", "--n", "10", "--queries", "3",
                 "--upstream", str(env["upstream"]), "--output", str(runs), "--adapt-max-steps", "1",
                 "--max-length", "64", "--test-records", "1000"]) == 0
    summary = read_json(runs / "summary.json")
    assert summary["methods"] == ["bm25", "ceiling"] and summary["settings"]["aggregation"] == "concat"
    assert summary["settings"]["ceiling"] == 8 and summary["settings"]["max_test"] == 1000
    assert summary["targets"]["tgt_b"]["counts"]["test"] == 6  # every test record there is (≤ 1,000)
    assert read_json(runs / "tgt_b" / "bm25" / "config.json")["aggregation"] == "concat"
    retrieved = read_json(runs / "tgt_b" / "bm25" / "round-0" / "retrieved.json")
    assert retrieved["fusion"] == "concat" and len(retrieved["items"]) == 10 and retrieved["depth"] == 4  # ⌈10/3⌉
    assert [item["hits"][0][0] for item in retrieved["items"]] == [0] * 4 + [1] * 4 + [2] * 2
    ceiling = read_json(runs / "tgt_b" / "ceiling" / "round-0" / "retrieved.json")
    validation = {r.uid for r in load_records(env["data"] / "targets" / "tgt_b" / "validation-1000.json", "tgt_b")}
    assert ceiling["method"] == "ceiling" and len(ceiling["items"]) == 8
    assert {item["uid"] for item in ceiling["items"]} <= validation  # labelled target records, not the pool
    assert read_json(runs / "tgt_b" / "ceiling" / "config.json")["n"] == 8
    assert "ceiling" not in summary["retrieved_tasks"]
    assert main(["recross", "report", "--runs", str(runs), "--out", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report" / "recross.md").read_text(encoding="utf-8")
    assert "| ceiling (8 labelled) |" in table and "aggregation concat (per-query top ⌈N/|Q|⌉" in table
    report = read_json(tmp_path / "report" / "recross.json")
    assert report["ceiling"]["n_targets"] == 1 and len(report["ceiling"]["ci95"]) == 2
    assert main(["recross", "run", "--data", str(env["data"]), "--target", "tgt_b", "--retriever", "ceiling",
                 "--upstream", str(env["upstream"]), "--output", str(tmp_path / "none")]) == 2  # no --ceiling K


def test_pseudo_target_needs_an_upstream_that_held_it_out(env, tmp_path):
    held = tmp_path / "upstream_held"
    assert main(["recross", "upstream", "--kind", "classifier", "--data", str(env["data"]), "--output", str(held),
                 "--model", env["bert"], "--max-per-task", "40", "--max-steps", "2", "--batch-size", "8",
                 "--max-length", "64", "--exclude-tasks", "topic"]) == 0
    config = read_json(held / "run_config.json")
    assert config["held_out_tasks"] == ["topic"] and config["upstream_tasks"] == ["sentiment", "qa"]
    args = ["recross", "run", "--data", str(env["data"]), "--target", "topic", "--retriever", "random", "--rounds",
            "1",
            "--n", "8", "--queries", "2", "--output", str(tmp_path / "runs"), "--adapt-max-steps", "1",
            "--max-length", "64"]
    assert main([*args, "--upstream", str(env["upstream"])]) == 2  # trained on topic: refused
    assert main([*args, "--upstream", str(env["upstream"] / "final")]) == 2  # its model directory too
    assert main([*args, "--upstream", str(held)]) == 0
    summary = read_json(tmp_path / "runs" / "summary.json")
    assert summary["pseudo_targets"] == ["topic"] and summary["upstream_tasks"] == ["sentiment", "qa"]
    retrieved = read_json(tmp_path / "runs" / "topic" / "random" / "round-0" / "retrieved.json")
    assert len(retrieved["items"]) == 8 and not any(it["uid"].startswith("topic|") for it in retrieved["items"])
    entry = summary["targets"]["topic"]  # 40 records split in half: 20 test, 20 queries
    assert entry["counts"]["test"] == 20 and "rank/classifier/accuracy" in entry["zero_shot"]
    assert main(["recross", "upstream", "--kind", "classifier", "--data", str(env["data"]), "--output",
                 str(tmp_path / "bad"), "--exclude-tasks", "nope"]) == 2
