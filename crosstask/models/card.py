"""Model cards: the README.md written beside every saved classifier and generator (base model, training data and
its hash, the command, EM when known, intended use and limits), and the note that keeps a classifier's
`encoder/` from being mistaken for the model."""

from __future__ import annotations

from pathlib import Path

from crosstask.core.io import atomic_write_text
from crosstask.models.backbone import _DEFAULT_ALIASES

PACKAGED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

ENCODER_NOTE = """# Not a model on its own

This folder holds only the **encoder** of a crosstask classifier: the weights that turn a prompt into token
vectors. The classifier also pools those vectors and applies the linear head saved one level up
(`classifier_head.safetensors`, `crosstask_classifier.json`). Loading this folder with transformers'
`AutoModelForSequenceClassification` or a sentence-transformers `CrossEncoder` gives a *freshly initialised*
head whose scores mean nothing (about 0.5 for every pair).

Load the classifier from the folder above:

```python
import crosstask
clf = crosstask.Classifier.from_pretrained("<the folder above>")
clf.score("Is the review positive?", "Great film.", ["positive", "negative"])
```

or convert it into a standard sentence-transformers CrossEncoder with
`crosstask export <the folder above> --format cross-encoder --output DIR`.
"""

_USE = {
    "classifier": ("Scores each candidate answer of an instruction-following task: P(correct) of the pair (task "
                   "definition, input, candidate), with crosstask's prompt encoding. Meant for classification "
                   "tasks with a known label space (the best-scoring label is the prediction) and for reranking a "
                   "generator's N-best outputs."),
    "generator": ("Generates the answer of an instruction-following task from its definition (and demonstrations) "
                  "and input, with crosstask's prompt encoding; also ranks a label space by log-likelihood."),
}
_LOADER = {"classifier": "Classifier.from_pretrained", "generator": "Generator.from_pretrained"}
_LIMITS = ("Trained for cross-task generalisation research: scores on tasks unlike its training tasks are "
           "uncertain, and a classifier can only choose among the candidates it is given. Inputs must be encoded "
           "with crosstask's prompt format (the settings in `crosstask_inference.json`); the label-space mode "
           "`instances` reads every instance's label (it leaks a test task's label set), `examples` only the "
           "demonstrations. Not evaluated for safety, bias or any use outside research.")


def hub_base_model(name: str | None) -> str | None:
    """The base model as a hub id for the card's metadata (the packaged default → its hub id); None for a
    local path."""
    if not name:
        return None
    if str(name).lower() in _DEFAULT_ALIASES:
        return PACKAGED_MODEL
    text = str(name)
    if Path(text).expanduser().exists() or text.startswith((".", "/", "~")) or text.count("/") != 1:
        return None
    return text


def _bullets(items: dict) -> str:
    return "\n".join(f"- **{key}**: {value}" for key, value in items.items() if value not in (None, "", [], {}))


def render_model_card(settings: dict) -> str:
    """The README.md of a saved model from its `crosstask_inference.json` settings."""
    kind = settings.get("kind") or "model"
    base = settings.get("base_model")
    hub_base = hub_base_model(base)
    training = settings.get("training") or {}
    results = settings.get("results") or {}
    front = ["---", "library_name: crosstask", "tags:", "- crosstask", f"- {kind}",
             "- super-natural-instructions" if training.get("benchmark", "superni") == "superni" else "- recross"]
    if hub_base:
        front.append(f"base_model: {hub_base}")
    front.append(f"pipeline_tag: {'text-classification' if kind == 'classifier' else 'text2text-generation'}")
    front.append("---")
    prompt = settings.get("prompt") or {}
    lines = [*front, "", f"# crosstask {kind}", "",
             f"A crosstask {kind} fine-tuned from `{base or 'unknown'}`"
             + (f" ({hub_base})" if hub_base and hub_base != base else "") + ".", "",
             "## Usage", "", "```python", "import crosstask",
             f"model = crosstask.{_LOADER.get(kind, 'load')}(\"<this folder or hub id>\")",
             "model.score(\"Is the review positive or negative?\", \"Great film.\", [\"positive\", \"negative\"])",
             "```", "",
             "## Model", "",
             _bullets({"kind": kind, "base model": f"`{base}`" if base else None,
                       "base model revision": settings.get("base_model_revision"),
                       "architecture": ", ".join(f"{k}={v}" for k, v in (settings.get("architecture") or {}).items()),
                       "max length": settings.get("max_length"), "max new tokens": settings.get("max_new_tokens"),
                       "prompt": ", ".join(f"{k}={v}" for k, v in prompt.items()),
                       "label-space mode": settings.get("label_mode"),
                       "candidates": "options an input lists by index are scored as \"index: option text\""
                       if settings.get("expand_options") else None}), "",
             "## Training", ""]
    if training:
        lines.append(_bullets({"data": f"`{training['data']}`" if training.get("data") else None,
                               "data hash": f"`{training['data_hash']}`" if training.get("data_hash") else None,
                               "training tasks": training.get("train_tasks"),
                               "steps": training.get("steps"),
                               "dev EM (held-out training tasks)": training.get("best_dev"),
                               "command": f"`{training['command']}`" if training.get("command") else None,
                               "crosstask git commit": training.get("git_commit")}))
    else:
        lines.append("Not recorded.")
    lines += ["", "## Evaluation", ""]
    if results:
        lines.append(_bullets({name: value for name, value in results.items()}))
    else:
        lines.append("No benchmark score recorded with this model; `crosstask evaluate` or `crosstask.evaluate` "
                     "measures EM on the unseen SuperNI test tasks.")
    lines += ["", "## Intended use", "", _USE.get(kind, ""), "", "## Limits", "", _LIMITS, ""]
    return "\n".join(lines)


def write_model_card(directory: str | Path, settings: dict) -> Path:
    path = Path(directory) / "README.md"
    atomic_write_text(path, render_model_card(settings))
    return path


def write_encoder_note(encoder_dir: str | Path) -> None:
    """README.md in a classifier's encoder/: it is not the model (issue: a CrossEncoder pointed there silently
    gets a fresh head)."""
    atomic_write_text(Path(encoder_dir) / "README.md", ENCODER_NOTE)
