"""The README's "Python API" snippets run as written, so they cannot rot: each is extracted from README.md and
executed in a temporary working directory, with a tiny model in place of the packaged one (the substitutions
below, each of which must still match the README) and `runs/demo/classifier` a tiny trained classifier."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tiny_models import tiny_bert

README = Path(__file__).resolve().parents[1] / "README.md"


def python_api_snippets() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_has_three_short_python_api_snippets():
    snippets = python_api_snippets()
    assert len(snippets) == 3
    assert all(len(s.strip().splitlines()) <= 10 for s in snippets), [len(s.splitlines()) for s in snippets]


def _substitute(code: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in code, f"README snippet no longer contains {old!r}: update tests/test_readme.py"
        code = code.replace(old, new)
    return code


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> tuple[Path, str]:
    """A working directory holding runs/demo/classifier (a tiny classifier trained for 2 steps), and the tiny
    backbone that stands in for the packaged one."""
    import crosstask

    root = tmp_path_factory.mktemp("readme")
    backbone = tiny_bert(root / "tiny-bert")
    data = crosstask.load_superni(demo=True, max_train_instances=4)
    clf = crosstask.Classifier.from_backbone(backbone)
    clf.fit(data.train, crosstask.TrainingArguments(str(root / "train"), max_steps=2, progress=False))
    clf.save_pretrained(root / "runs" / "demo" / "classifier")
    return root, backbone


SMALL_DEMO = "demo=True, max_train_instances=4, max_test_instances=20"


@pytest.mark.parametrize("index", [0, 1, 2], ids=["score", "train", "recross-round"])
def test_readme_python_api_snippet_runs(index, workdir, monkeypatch):
    root, backbone = workdir
    monkeypatch.chdir(root)
    code = python_api_snippets()[index]
    if index == 1:
        code = _substitute(code, {'"default"': repr(backbone), "epochs=1": "max_steps=2, progress=False",
                                  "demo=True": SMALL_DEMO})
    elif index == 2:
        code = _substitute(code, {"demo=True": SMALL_DEMO})
    namespace: dict = {}
    exec(compile(code, f"README.md Python API snippet {index + 1}", "exec"), namespace)
    if index == 0:
        assert (root / "runs" / "demo" / "classifier" / "README.md").is_file()
    if index == 1:
        saved = root / "runs" / "api-classifier" / "model"
        assert (saved / "README.md").is_file() and (saved / "crosstask_inference.json").is_file()
        assert "EM on" in (saved / "README.md").read_text()
    if index == 2:
        out = namespace["out"]
        assert out.metrics is not None and len(out.retrieved.items) == min(64, len(namespace["pool"]))
