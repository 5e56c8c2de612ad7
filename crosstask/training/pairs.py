"""Classifier training pairs: (instance, candidate) → correct?, from CLS tasks and optionally GEN tasks.

CLS tasks: every label of the task's label space is a candidate; labels whose normalised form equals
a gold output are positives, the others negatives (all of them, as the seed, or k sampled per positive).
GEN tasks ("w/ GEN"): the gold output is the positive; negatives are gold outputs of other instances
of the same task, as many per positive as the CLS pairs have on average (`gen_negatives="matched"`), so
mixing GEN tasks in does not change the class balance. `gen_negatives="none"` is the seed's
positives-only variant.
`expand_options`: an input that lists its CLS candidates by index ("- A: ...", "Ending 2: ...") has those as
its candidates, each as "index: option text" (`data.options`), as the rank classifier scores them with
`expand_options`; a model trained on bare indices cannot tell "A" from "B" apart from the input.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from crosstask.core.defaults import DEFAULT_SEED
from crosstask.data.options import expand_listed_options
from crosstask.data.records import Instance
from crosstask.data.tasktype import TypedTask
from crosstask.data.text import normalize_answer


@dataclass(frozen=True)
class PairConfig:
    negatives: int | None = None  # None: every other label (the seed); k: k sampled per positive
    mix_gen: bool = False
    gen_negatives: str = "matched"  # "matched" | "none" (seed: positives only) | an int as str, e.g. "3"
    seed: int = DEFAULT_SEED
    expand_options: bool = False  # CLS candidates an input lists by index become "index: option text"

    def __post_init__(self):
        if self.gen_negatives not in ("matched", "none") and not self.gen_negatives.isdigit():
            raise ValueError(f"gen_negatives must be 'matched', 'none' or an integer, got {self.gen_negatives!r}")


@dataclass(frozen=True)
class Pair:
    task: str
    instance_id: str
    candidate: str
    label: int


def cls_pairs(task: TypedTask, instance: Instance, negatives: int | None, rng: random.Random,
              expand_options: bool = False) -> list[Pair]:
    gold = {normalize_answer(o) for o in instance.outputs}
    labels, texts = (expand_listed_options(instance.input, task.labels) if expand_options
                     else (task.labels, task.labels))
    is_gold = [normalize_answer(label) in gold for label in labels]
    positives = [text for text, good in zip(texts, is_gold) if good] or [instance.outputs[0]]
    others = [text for text, good in zip(texts, is_gold) if not good]
    if negatives is not None:
        others = rng.sample(others, min(len(others), negatives * len(positives)))
    return [Pair(task.name, instance.id, c, 1) for c in positives] + [Pair(task.name, instance.id, c,
                                                                           0) for c in others]


def gen_pairs(task: TypedTask, instance: Instance, k: int, rng: random.Random) -> list[Pair]:
    gold = {normalize_answer(o) for o in instance.outputs}
    pool = {normalize_answer(o): o for other in task.task.instances if other.id != instance.id
            for o in other.outputs[:1]}
    candidates = [text for key, text in pool.items() if key not in gold]
    negatives = rng.sample(candidates, min(k, len(candidates)))
    return [Pair(task.name, instance.id, instance.outputs[0], 1)] + [Pair(task.name, instance.id, c,
                                                                          0) for c in negatives]


def build_pairs(tasks: Sequence[TypedTask], config: PairConfig = PairConfig()) -> list[Pair]:
    """All training pairs, CLS tasks first; GEN tasks only with `mix_gen`."""
    rng = random.Random(config.seed)
    pairs = [p for t in tasks if t.is_cls for i in t.task.instances
             for p in cls_pairs(t, i, config.negatives, rng, config.expand_options)]
    if not config.mix_gen:
        return pairs
    if config.gen_negatives == "none":
        k = 0
    elif config.gen_negatives == "matched":
        positives = sum(p.label for p in pairs)
        k = max(1, round((len(pairs) - positives) / positives)) if positives else 1
    else:
        k = int(config.gen_negatives)
    return pairs + [p for t in tasks if not t.is_cls for i in t.task.instances for p in gen_pairs(t, i, k, rng)]


def pair_counts(pairs: Sequence[Pair]) -> dict[str, int]:
    positives = sum(p.label for p in pairs)
    return {"pairs": len(pairs), "positive": positives, "negative": len(pairs) - positives}
