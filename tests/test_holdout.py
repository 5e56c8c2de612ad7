"""Leave-categories-out evaluation: held-out training categories are never trained on and become the test tasks,
through the data config, the CLI (train / evaluate / baselines) and the baselines report."""

from __future__ import annotations

import pytest

from crosstask.cli import main
from crosstask.core.errors import ValidationError
from crosstask.data.benchmark import DataConfig, load_superni_data
from crosstask.experiments.baselines import BaselinesConfig, baselines_report

HELD = ("Text Categorization", "Sentiment Analysis")


def test_held_out_categories_replace_the_test_tasks_and_leave_training():
    plain = load_superni_data(DataConfig(demo=True, dev_tasks=2))
    data = load_superni_data(DataConfig(demo=True, dev_tasks=2, max_test_instances=3, holdout_categories=HELD))
    held = sorted(t.name for t in plain.train + plain.dev if t.task.category in HELD)
    assert len(held) == 3 and sorted(t.name for t in data.test) == held
    assert all(len(t.task.instances) == 3 for t in data.test)  # the first max_test_instances
    assert not [t for t in data.train + data.dev if t.task.category in HELD]
    assert len(data.train) + len(data.dev) == len(plain.train) + len(plain.dev) - 3


def test_unknown_category_is_one_error_naming_the_flag_and_the_known_ones():
    with pytest.raises(ValidationError, match="--holdout-categories: no training task has the category "
                                              "'Sentiment'; known: .*Sentiment Analysis"):
        load_superni_data(DataConfig(demo=True, holdout_categories=("Sentiment",)))


def test_baselines_report_on_the_held_out_tasks():
    data = DataConfig(demo=True, max_test_instances=3, holdout_categories=HELD)
    report = baselines_report(data, BaselinesConfig())
    assert report["n_tasks"] == 3 and {r["overall"]["n"] for r in report["results"].values()} == {9}
    assert set(report["results"]["random_label"]["per_category"]) == set(HELD)


def test_cli_parses_the_list_and_refuses_an_empty_one(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["baselines", "--demo", "--holdout-categories", " , "])
    assert exit_.value.code == 2 and "--holdout-categories" in capsys.readouterr().err
    main(["baselines", "--demo", "--max-instances", "2", "--holdout-categories", "Sentiment Analysis, Text Matching"])
    out = capsys.readouterr().out
    assert "on 2 CLS test tasks" in out and "EM Sentiment Analysis" in out and "EM Text Matching" in out


def test_config_file_takes_the_categories_as_a_list_or_a_string(tmp_path, capsys):
    for value in ('["Sentiment Analysis", "Text Matching"]', '"Sentiment Analysis,Text Matching"'):
        config = tmp_path / "config.yaml"
        config.write_text(f"demo: true\nmax-instances: 2\nholdout-categories: {value}\n")
        main(["baselines", "--config", str(config)])
        assert "on 2 CLS test tasks" in capsys.readouterr().out
