"""Shared checks of the bad-input / fault tests (test_malformed_*.py): a command fails with exit code 2,
one line on stderr naming the field, no traceback, and every file that existed before is unchanged."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from crosstask.cli import main


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `root` (directories by their presence)."""
    found = {}
    for path in sorted(Path(root).rglob("*")):
        if "__pycache__" in path.parts:
            continue
        rel = str(path.relative_to(root))
        found[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
    return found


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    """`crosstask ARGV` in-process: (exit code, stdout, stderr); argparse exits are caught."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, out: str, err: str, *needles: str) -> str:
    """Exit code 2, no traceback, exactly one non-warning line on stderr that names every needle."""
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    shown = [line.split("\r")[-1] for line in err.splitlines()]  # what a terminal shows of each line
    lines = [line for line in shown if line.strip() and "warning:" not in line and not re.search(r"\d+%\|", line)]
    assert len(lines) == 1, err
    assert ": error:" in lines[0], lines[0]
    assert "[Errno" not in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def expect_refused(capsys, argv: list[str], watched: Path, *needles: str) -> str:
    """Run ARGV, expect a one-line error naming `needles`, and nothing under `watched` changed."""
    before = snapshot(watched)
    code, out, err = run_cli(capsys, argv)
    line = assert_one_line_error(code, out, err, *needles)
    assert snapshot(watched) == before
    return line


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory) -> dict[str, Path]:
    """A saved (untrained) tiny classifier, a tiny T5 generator, a reranker-shaped directory and a
    classifier training run, built without training (seconds)."""
    from tiny_models import tiny_bert, tiny_t5

    from crosstask.models.backbone import load_tokenizer
    from crosstask.models.classifier import ClassifierConfig, EncoderClassifier, load_encoder

    root = tmp_path_factory.mktemp("saved-models")
    bert = tiny_bert(root / "bert")
    classifier = EncoderClassifier(load_encoder(bert), ClassifierConfig(bert))
    classifier.save_pretrained(root / "classifier", load_tokenizer(bert))
    run = root / "cls-run"
    classifier.save_pretrained(run / "best", load_tokenizer(bert))
    write_json(run / "run_config.json", {"kind": "classifier"})
    reranker = write_json(root / "reranker" / "config.json", {"architectures": ["BertForSequenceClassification"],
                                                             "model_type": "bert"}).parent
    return {"bert": Path(bert), "classifier": root / "classifier", "generator": Path(tiny_t5(root / "t5")),
            "reranker": reranker, "cls_run": run}
