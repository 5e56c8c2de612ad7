"""Two CPU processes (torchrun, DDP over gloo) give the same training and evaluation as one process
with the same global batch."""

import json
import os
import subprocess
import sys

import pytest
from tiny_models import tiny_bert

COMMON = ["--demo", "--max-test-instances", "3", "--seed", "7", "--mixed-precision", "no"]  # fp32: exact comparisons
TRAIN = ["--max-train-instances", "4", "--dev-tasks", "2", "--max-dev-instances", "3", "--batch-size", "8",
         "--max-steps", "4", "--lr", "1e-3", "--dropout", "0", "--negatives", "1", "--max-length", "96"]


def _crosstask(args, nproc, cwd):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_port",
                str(29500 + nproc + os.getpid() % 1000), "-m", "crosstask"] if nproc > 1 else [sys.executable, "-m",
                                                                                               "crosstask"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(launcher + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    model = tiny_bert(tmp_path / "tiny")  # no dropout anywhere: runs are deterministic
    results = {}
    for nproc in (1, 2):
        run = tmp_path / f"run{nproc}"
        _crosstask(["train", "classifier", "--model", model, "--output", str(run), *COMMON, *TRAIN], nproc, tmp_path)
        _crosstask(["evaluate", "--classifier", str(run), "--output", str(run / "eval"), "--tasks", "cls",
                    "--max-length", "96", *COMMON], nproc, tmp_path)
        results[nproc] = {
            "train": json.loads((run / "train_summary.json").read_text()),
            "metrics": json.loads((run / "eval" / "metrics.json").read_text())["metrics"],
            "predictions": [json.loads(l) for l in (run / "eval" / "predictions-cls-classifier.jsonl").open()],
        }
    one, two = results[1], results[2]
    assert (one["train"]["processes"], two["train"]["processes"]) == (1, 2)
    assert two["train"]["steps"] == one["train"]["steps"] == 4
    losses = lambda r: [e["loss"] for e in r["train"]["log"] if "loss" in e]
    assert losses(two) == pytest.approx(losses(one), rel=1e-4)
    assert two["train"]["best_dev"] == one["train"]["best_dev"]
    assert len(two["predictions"]) == len(one["predictions"])
    assert [p["id"] for p in two["predictions"]] == [p["id"] for p in one["predictions"]]
    for a, b in zip(one["predictions"], two["predictions"]):
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-4)
    assert two["metrics"]["cls/classifier"]["overall"] == pytest.approx(one["metrics"]["cls/classifier"]["overall"])
