"""The one default seed. Config dataclasses take their `seed` default from here; function parameters take
theirs from a dataclass field (`seed: int = TrainingArguments.seed`) or from here where no dataclass of their
layer has one, so a seed default is never written twice."""

DEFAULT_SEED = 42
