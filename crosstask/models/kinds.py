"""What a saved model directory holds (classifier, generator, reranker, backbone), detected from its
files, and the checks of a model given by path or hub id."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from crosstask.core.errors import CrosstaskError, DataFormatError, ValidationError
from crosstask.core.io import atomic_write_json, read_json
from crosstask.models.backbone import _DEFAULT_ALIASES, load_tokenizer
from crosstask.models.card import write_model_card
from crosstask.models.classifier import ENCODER_DIR, EncoderClassifier
from crosstask.models.generator import load_generator

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _looks_like_path(value: str) -> bool:
    return (value.startswith(("/", "./", "../", "~")) or value in (".", "..") or "\\" in value
            or value.count("/") >= 2 or value.endswith("/"))


def model_kind(path: Path) -> str | None:
    """What a saved model directory holds: classifier, generator, reranker, backbone (a plain
    encoder checkpoint); None when it holds no model."""
    if (path / "reranker.json").is_file():
        return "reranker"
    if (path / "crosstask_classifier.json").is_file():
        return "classifier"
    if not (path / "config.json").is_file():
        return None
    config = read_json(path / "config.json")
    if not isinstance(config, dict):
        raise DataFormatError(path / "config.json", "<root>", "expected a JSON object")
    if any(str(a).endswith("ForSequenceClassification") for a in config.get("architectures") or []):
        return "reranker"
    if config.get("is_encoder_decoder") or config.get("model_type") == "encoder-decoder":
        return "generator"
    return "backbone"


def check_model_dir(flag: str, value: str | Path, allowed: tuple[str, ...]) -> tuple[Path, str]:
    """A saved model (the directory, or a training run's best/ or final/) whose kind is in `allowed`."""
    path = Path(value).expanduser()
    if not path.exists():
        raise ValidationError(flag, f"{path} does not exist")
    if not path.is_dir():
        raise ValidationError(flag, f"{path} is not a directory")
    for candidate in (path, path / "best", path / "final"):
        kind = model_kind(candidate) if candidate.is_dir() else None
        if kind is None:
            continue
        if kind not in allowed:
            raise ValidationError(flag, f"{candidate} holds a {kind}, not a {' or '.join(allowed)}")
        return candidate, kind
    raise ValidationError(flag, f"{path}: no saved model there (expected a model directory or a training run "
                                "with best/ or final/)")


def check_backbone(flag: str, value: str) -> None:
    """--model / --encoder: a hub id, a default alias, or an existing local backbone directory."""
    if value.lower() in _DEFAULT_ALIASES:
        return
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValidationError(flag, f"{path} is not a model directory")
        kind = model_kind(path)
        if kind is None:
            raise ValidationError(flag, f"{path} holds no model (no config.json)")
        if kind in ("classifier", "reranker"):
            hint = f" (its encoder is {path / 'encoder'})" if kind == "classifier" else ""
            raise ValidationError(flag, f"{path} holds a crosstask {kind}, not a backbone{hint}")
        return
    if _looks_like_path(value):
        raise ValidationError(flag, f"local model path {value} does not exist")
    if not _HUB_ID.match(value):
        raise ValidationError(flag, f"{value!r} is neither an existing local path nor a hub id like 'org/name'")




def model_dir(path: str | Path) -> Path:
    """A saved model: the directory itself, or a training run's best/ (else final/) export."""
    path = Path(path)
    for candidate in (path, path / "best", path / "final"):
        if (candidate / "config.json").exists() or (candidate / "crosstask_classifier.json").exists():
            return candidate
    raise CrosstaskError(f"{path}: no saved model there (expected a model directory or a run with best/ or final/)")


def detect_kind(path: str | Path) -> tuple[Path, str]:
    """(model directory, "classifier" | "generator") of a saved model or training run: the kind is read from
    the saved files, never passed by the caller."""
    found = model_dir(path)
    kind = model_kind(found)
    if kind not in ("classifier", "generator"):
        raise CrosstaskError(f"{found} holds a {kind or 'no model'}, not a classifier or generator")
    return found, kind


def upstream_run_config(upstream_dir: str | Path) -> dict | None:
    """The run_config.json of `crosstask recross upstream` for `upstream_dir` (the run, or its best/ or final/
    model), or None when there is none (e.g. a bare model directory)."""
    found = [p / "run_config.json" for p in (Path(upstream_dir), Path(upstream_dir).parent)
             if (p / "run_config.json").is_file()]
    return read_json(found[0]) if found else None


def trained_on_option_texts(upstream_dir: str | Path) -> bool:
    """Whether a classifier (a saved model or a training run) was trained on "index: option text" candidates
    (`--expand-options`), so that rank classification must score the same candidates: read from the saved model's
    crosstask_inference.json; for models saved before it recorded this, from the training run's run_config.json."""
    settings = load_inference_settings(model_dir(upstream_dir))
    if "expand_options" in settings:
        return bool(settings["expand_options"])
    run_config = upstream_run_config(upstream_dir) or {}
    return bool(((run_config.get("config") or {}).get("pairs") or {}).get("expand_options"))


INFERENCE_FILE = "crosstask_inference.json"


def save_inference_settings(directory: str | Path, prompt, max_length: int, max_new_tokens: int | None = None,
                            **info) -> dict:
    """The prompt settings and lengths a saved model was trained with, so `from_pretrained` restores them, and
    what its model card says (`info`: kind, architecture, base_model, label_mode, training, results); writes
    crosstask_inference.json and the model card README.md."""
    settings = {"prompt": asdict(prompt), "max_length": max_length, "max_new_tokens": max_new_tokens,
                **{k: v for k, v in info.items() if v is not None}}
    atomic_write_json(Path(directory) / INFERENCE_FILE, settings)
    write_model_card(directory, settings)
    return settings


def update_inference_settings(directory: str | Path, **info) -> dict:
    """Merge `info` into a saved model's settings (dicts such as `training` are merged key by key) and rewrite
    its model card."""
    path = Path(directory) / INFERENCE_FILE
    settings = read_json(path) if path.is_file() else {}
    for key, value in info.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}
        elif value is not None:
            settings[key] = value
    atomic_write_json(path, settings)
    write_model_card(directory, settings)
    return settings


def load_inference_settings(directory: str | Path) -> dict:
    """{"prompt": dict, "max_length": int, "max_new_tokens": int | None} of a saved model; for models saved
    before these were written, read from the training run's run_config.json; {} when unknown."""
    directory = Path(directory)
    if (directory / INFERENCE_FILE).is_file():
        return read_json(directory / INFERENCE_FILE)
    config_file = directory.parent / "run_config.json"
    config = read_json(config_file).get("config", {}) if config_file.is_file() else {}
    model = config.get("model", {}) if isinstance(config, dict) else {}
    found = {"prompt": config.get("prompt"), "max_length": config.get("max_length") or model.get("max_source_length"),
             "max_new_tokens": model.get("max_target_length")}
    return {k: v for k, v in found.items() if v is not None}


def load_model(path: str | Path, kind: str | None = None):
    """(model, tokenizer) of a saved classifier or generator (a model directory or a training run), in eval
    mode; the kind is read from the saved files (`kind`, when given, must match)."""
    found, detected = detect_kind(path)
    if kind is not None and kind != detected:
        raise CrosstaskError(f"{found} holds a {detected}, not a {kind}")
    if detected == "classifier":
        return EncoderClassifier.from_pretrained(found).eval(), load_tokenizer(found / ENCODER_DIR)
    return load_generator(found)
