"""Pictures that tell the truth (issue 14.7): the seed's T5 lines only over the seed's own data, the legend outside
the bars, bars labelled with run and system, and a GEN-side (ROUGE-L) plot."""

from __future__ import annotations

import json

import pytest

from crosstask.reporting.plots import (
    SEED_T5_EM,
    em_figure,
    gen_figure,
    measured_like_seed,
    plot_em,
    plot_gen,
)


def _overall(em, rouge=None):
    return {"overall": {"exact_match": em, "rougeL": em if rouge is None else rouge, "n": 10}, "per_task": {},
            "per_category": {}}


def _report(tmp_path, name, demo=True, n_cls=12, gen=True, data_hash="h1", mode="instances", missing=()):
    metrics = {"cls/classifier": _overall(41.0), "cls/classifier+calibrated": _overall(43.0),
               "cls/generator": _overall(30.0), "cls/fair_generator": _overall(35.0),
               "cls/baseline:random_label": _overall(33.0), "cls/baseline:copy_input": _overall(0.0)}
    if gen:
        metrics |= {"gen/generator_beam": _overall(5.0, 21.5), "gen/generator_reranked": _overall(6.0, 24.25),
                    "all/combined": _overall(20.0, 30.0)}
    report = {"data": {"data": None if demo else "../shared/data", "demo": demo}, "data_hash": data_hash,
              "label_space_mode": mode, "n_cls_tasks": n_cls, "n_gen_tasks": 7 if gen else 0,
              "missing_test_tasks": list(missing), "options": {"n_best": 4}, "metrics": metrics}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(report))
    return path


def _labels(ax):
    return [line.get_label() for line in ax.get_lines()]


def _legend_outside(fig, ax) -> bool:
    fig.canvas.draw()
    return ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1


def test_demo_em_has_no_seed_lines_and_bars_name_run_and_system(tmp_path):
    fig = em_figure({"demo": _report(tmp_path, "demo")})
    ax = fig.axes[0]
    assert not [label for label in _labels(ax) if "seed" in label]  # T5 on real SuperNI: not this data
    assert _labels(ax) == ["baseline random_label 33.0"]  # copy_input left out
    assert [t.get_text() for t in ax.get_xticklabels()] == ["demo: classifier", "demo: classifier, calibrated",
                                                            "demo: generator", "demo: fair generator"]
    assert [round(p.get_height(), 2) for p in ax.patches] == [41.0, 43.0, 30.0, 35.0]
    assert [t.get_text() for t in ax.texts] == ["41.0", "43.0", "30.0", "35.0"]  # value labels on the bars
    assert "synthetic demo benchmark" in ax.get_title() and "demo" in ax.get_title()
    assert _legend_outside(fig, ax)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["classifier", "classifier, calibrated", "generator", "fair generator",
                      "baseline random_label 33.0"]


def test_seed_lines_only_over_the_seeds_data(tmp_path):
    real = _report(tmp_path, "real", demo=False, n_cls=64)
    assert measured_like_seed(json.loads(real.read_text()))
    ax = em_figure({"superni": real}).axes[0]
    seed = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines() if "seed" in line.get_label()}
    assert sorted(seed.values()) == [SEED_T5_EM["T5-base"]["gen w/o GEN"], SEED_T5_EM["T5-base"]["cls w/o GEN"]]
    assert all("real SuperNI" in label for label in seed)
    for other in (_report(tmp_path, "sub", demo=False, n_cls=20),  # a subset of the tasks
                  _report(tmp_path, "ex", demo=False, n_cls=64, mode="examples"),  # other label spaces
                  _report(tmp_path, "miss", demo=False, n_cls=64, missing=["task1"])):
        assert not measured_like_seed(json.loads(other.read_text()))
        assert not [label for label in _labels(em_figure({"x": other}).axes[0]) if "seed" in label]
    # mixed with the demo: no seed lines; the explicit argument wins either way
    assert not [x for x in _labels(em_figure({"superni": real, "demo": _report(tmp_path, "d")}).axes[0])
                if "seed" in x]
    assert not [x for x in _labels(em_figure({"superni": real}, seed_reference=False).axes[0]) if "seed" in x]
    assert len([x for x in _labels(em_figure({"d": _report(tmp_path, "d")}, seed_reference=True).axes[0])
                if "seed" in x]) == 2


def test_baseline_lines_only_when_every_run_has_the_same_data(tmp_path):
    same = em_figure({"a": _report(tmp_path, "a"), "b": _report(tmp_path, "b")}).axes[0]
    assert _labels(same) == ["baseline random_label 33.0"]
    ticks = [t.get_text() for t in same.get_xticklabels()]
    assert ticks[0] == "a: classifier" and ticks[4] == "b: classifier"
    other = em_figure({"a": _report(tmp_path, "a"), "b": _report(tmp_path, "b", data_hash="h2")}).axes[0]
    assert _labels(other) == []


def test_gen_plot_rouge_per_system_with_reranked_nbest(tmp_path):
    fig = gen_figure({"demo": _report(tmp_path, "demo")})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["demo: generator (beam top-1)",
                                                            "demo: classifier-reranked 4-best"]
    assert [round(p.get_height(), 2) for p in ax.patches] == [21.5, 24.25]
    assert ax.get_ylabel() == "ROUGE-L on the unseen GEN test tasks"
    assert "ROUGE-L" in ax.get_title() and "synthetic demo benchmark" in ax.get_title()
    assert _legend_outside(fig, ax)
    assert gen_figure({"cls-only": _report(tmp_path, "c", gen=False)}) is None
    assert plot_gen({"cls-only": _report(tmp_path, "c", gen=False)}, tmp_path / "rouge.png") is None
    assert not (tmp_path / "rouge.png").exists()


def test_plots_are_written_as_png(tmp_path):
    report = {"demo": _report(tmp_path, "demo")}
    for out in (plot_em(report, tmp_path / "em.png"), plot_gen(report, tmp_path / "rouge.png")):
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("demo", [True, False])
def test_describe_data_in_titles(tmp_path, demo):
    title = em_figure({"run": _report(tmp_path, "r", demo=demo)}).axes[0].get_title()
    assert ("synthetic demo benchmark" in title) is demo
    assert ("SuperNI data ../shared/data" in title) is (not demo)


def test_demo_command_writes_em_rouge_and_loss_plots(tmp_path, monkeypatch, capsys):
    """`crosstask demo` (its training and evaluation replaced by a finished run) draws em.png without the seed's
    lines, rouge.png, and each run's loss curve."""
    from crosstask.cli import main
    from crosstask.cli import superni as cli_superni
    from crosstask.experiments.demo import DemoResult

    out = tmp_path / "demo"
    (out / "eval").mkdir(parents=True)
    _report(out / "eval", "metrics")
    for kind in ("classifier", "generator"):
        (out / kind).mkdir()
        (out / kind / "trainer_state.json").write_text(json.dumps({"log": [{"step": 1, "loss": 0.7, "lr": 1e-4},
                                                                           {"step": 2, "loss": 0.5, "lr": 0.0}]}))
        (out / kind / "train_summary.json").write_text(json.dumps({"steps": 2}))
    report = json.loads((out / "eval" / "metrics.json").read_text())
    monkeypatch.setattr(cli_superni, "run_demo", lambda config: DemoResult({}, evaluation=report,
                                                                          eval_dir=out / "eval"))
    monkeypatch.setattr(cli_superni, "render_superni", lambda summary: "summary")
    assert main(["demo", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in ("em.png", "rouge.png", "classifier/loss.png", "generator/loss.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG" and str(out / name) in printed
    assert json.loads((out / "generator" / "train_summary.json").read_text())["loss_curve"] == "loss.png"
