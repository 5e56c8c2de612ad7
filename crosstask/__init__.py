"""crosstask: make models generalise to tasks they were never trained on.

The public API is loaded on first use (importing crosstask stays cheap: no torch until a name is used):

    crosstask.load_superni, crosstask.load_upstream_pool     data
    crosstask.Classifier, crosstask.Generator                models: from_pretrained / from_backbone, score,
                                                             predict, fit
    crosstask.TrainingArguments, crosstask.TrainResult       training settings and result
    crosstask.evaluate                                       metrics of a model on typed tasks
    crosstask.recross.run_round                              one ReCross round in memory
"""

from __future__ import annotations

import importlib

from crosstask.core.provenance import __version__

_EXPORTS = {
    "load_superni": "crosstask.data.benchmark",
    "load_upstream_pool": "crosstask.data.t0",
    "Classifier": "crosstask.api.models",
    "Generator": "crosstask.api.models",
    "load": "crosstask.api.models",
    "fit": "crosstask.api.models",
    "evaluate": "crosstask.api.evaluate",
    "TrainingArguments": "crosstask.training.trainer",
    "TrainResult": "crosstask.training.trainer",
    "PromptConfig": "crosstask.data.prompts",
}
__all__ = ["__version__", "recross", *_EXPORTS]


def __getattr__(name: str):
    if name == "recross":
        return importlib.import_module("crosstask.recross")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crosstask' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
