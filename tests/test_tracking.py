"""--report-to (issue 14.5): accelerate trackers log loss and learning rate every step; a run's loss curve."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from tiny_models import tiny_bert

from crosstask.cli import main
from crosstask.core.errors import ValidationError
from crosstask.data.benchmark import DataConfig
from crosstask.experiments import superni as pipeline
from crosstask.models.classifier import ClassifierConfig
from crosstask.reporting.plots import loss_curve_report, loss_figure
from crosstask.training.classifier import ClassifierTrainingConfig
from crosstask.training.pairs import PairConfig
from crosstask.training.trainer import Trainer, TrainingArguments

HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None
HAS_WANDB = importlib.util.find_spec("wandb") is not None
DATA = DataConfig(demo=True, max_train_instances=4, max_test_instances=3, dev_tasks=2, max_dev_instances=3)


def _scalars(directory):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found = {}
    for events in directory.rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            found.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return found


def _toy_trainer(tmp_path, **kwargs):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    features = [{"input_ids": [i % 3 + 1], "x": [float(i), 1.0, -1.0], "y": float(i % 2)} for i in range(12)]

    def collate(rows):
        return {"x": torch.tensor([r["x"] for r in rows]), "y": torch.tensor([r["y"] for r in rows])}

    def loss_fn(m, batch):
        return torch.nn.functional.mse_loss(m(batch["x"]).squeeze(-1), batch["y"])

    args = TrainingArguments(str(tmp_path / "run"), batch_size=4, epochs=2, lr=1e-2, progress=False,
                             mixed_precision="no", log_every=2, **kwargs)
    return Trainer(model, features, collate, loss_fn, args, lambda m, d: d.mkdir(parents=True, exist_ok=True))


@pytest.mark.skipif(not HAS_TENSORBOARD, reason="tensorboard not installed (extra 'track')")
def test_tensorboard_logs_loss_and_lr_every_step(tmp_path):
    trainer = _toy_trainer(tmp_path, report_to="tensorboard")
    state = trainer.train()
    assert state.global_step == 6
    scalars = _scalars(tmp_path / "run" / "tensorboard")
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3, 4, 5, 6]  # every step, not every log_every
    assert [s for s, _ in scalars["train/learning_rate"]] == [1, 2, 3, 4, 5, 6]
    assert all(v > 0 for _, v in scalars["train/loss"])
    assert scalars["train/learning_rate"][-1][1] == pytest.approx(0.0)  # linear decay reaches 0 at the last step
    # the averaged log of trainer_state.json is what the loss curve is drawn from
    logged = json.loads((tmp_path / "run" / "trainer_state.json").read_text())["log"]
    assert [e["step"] for e in logged if "loss" in e] == [2, 4, 6]


def test_no_tracker_by_default(tmp_path):
    trainer = _toy_trainer(tmp_path)
    assert trainer.args.report_to == "none" and not trainer.accelerator.log_with
    trainer.train()
    assert not list((tmp_path / "run").rglob("events.out.tfevents.*"))


def test_unknown_or_missing_tracker_is_refused():
    with pytest.raises(ValidationError, match="unknown tracker 'mlflow'"):
        TrainingArguments("x", report_to="mlflow")
    if not HAS_WANDB:
        with pytest.raises(ValidationError, match=r"wandb is not installed \(pip install wandb\)"):
            TrainingArguments("x", report_to="wandb")


@pytest.mark.skipif(HAS_WANDB, reason="wandb is installed")
@pytest.mark.parametrize("argv", [["train", "classifier", "--demo"], ["recross", "upstream", "--kind", "classifier"]])
def test_cli_report_to_wandb_without_wandb_is_one_line_before_any_work(tmp_path, capsys, argv):
    out = tmp_path / "run"
    code = main([*argv, "--output", str(out), "--report-to", "wandb"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "wandb is not installed" in err and "--report-to" in err
    assert not out.exists()


def test_loss_figure_draws_loss_lr_and_dev_marks():
    state = {"log": [{"step": 2, "loss": 0.9, "lr": 1e-3}, {"step": 4, "loss": 0.5, "lr": 5e-4},
                     {"step": 4, "dev": {"exact_match": 40.0}}, {"step": 6, "loss": 0.3, "lr": 0.0}]}
    fig = loss_figure(state, "run: training loss")
    ax, right = fig.axes
    loss = [line for line in ax.get_lines() if line.get_label() == "training loss"][0]
    assert list(loss.get_xdata()) == [2, 4, 6] and list(loss.get_ydata()) == [0.9, 0.5, 0.3]
    assert list(right.get_lines()[0].get_ydata()) == [1e-3, 5e-4, 0.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training loss", "learning rate",
                                                                  "dev evaluation"]
    assert ax.get_title() == "run: training loss"


@pytest.mark.skipif(not HAS_TENSORBOARD, reason="tensorboard not installed (extra 'track')")
def test_cli_train_with_tensorboard_writes_events_and_loss_curve(tmp_path, capsys):
    bert = tiny_bert(tmp_path / "bert")
    out = tmp_path / "run"
    code = main(["train", "classifier", "--demo", "--model", str(bert), "--output", str(out), "--max-steps", "3",
                 "--batch-size", "8", "--negatives", "1", "--max-train-instances", "4", "--dev-tasks", "1",
                 "--max-dev-instances", "2", "--report-to", "tensorboard"])
    assert code == 0, capsys.readouterr().err
    assert "loss curve" in capsys.readouterr().out
    assert [s for s, _ in _scalars(out / "tensorboard")["train/loss"]] == [1, 2, 3]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["loss_curve"] == "loss.png" and (out / "loss.png").stat().st_size > 1000
    assert summary["training"]["report_to"] == "tensorboard"


def test_loss_curve_report_without_logged_loss_writes_nothing(tmp_path):
    assert loss_curve_report(tmp_path) is None
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log": [{"step": 1, "dev": {"exact_match": 1.0}}]}))
    assert loss_curve_report(tmp_path) is None and not (tmp_path / "loss.png").exists()


def test_pipeline_train_resumes_with_another_tracker(tmp_path):
    """report_to is not a training setting: a run resumed with another tracker is the same run."""
    bert = tiny_bert(tmp_path / "bert")
    config = ClassifierTrainingConfig(ClassifierConfig(str(bert)), PairConfig(negatives=1))
    args = TrainingArguments(str(tmp_path / "run"), batch_size=8, max_steps=2, progress=False, save_every=1)
    pipeline.train("classifier", DATA, config, args)
    resumed = TrainingArguments(str(tmp_path / "run"), batch_size=8, max_steps=2, progress=False, save_every=1,
                                resume=True, report_to="tensorboard" if HAS_TENSORBOARD else "none")
    assert pipeline.train("classifier", DATA, config, resumed)["steps"] == 2
