"""Names of the generator architectures a saved config records, importable without transformers' model code."""

from __future__ import annotations

ARCH_KEY = "crosstask_generator_arch"  # config.json key naming a saved generator's architecture
UNILM = "unilm"
MODEL_TYPES = ("bert",)  # backbones whose Transformer the unilm generator can hold (BertModel)
