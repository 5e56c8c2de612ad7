"""Prompt encodings: Tk-Instruct sources for the generator, (context, candidate) pairs for the classifier.

A prompt is a sequence of segments; some may be truncated (definition, input, demonstrations), the
others never are (the candidate, the question, "Output:"). `encode_segments` tokenises each segment
once, shrinks the truncatable ones longest-first until the whole fits `max_length`, then adds the
tokenizer's own special tokens. So an over-long input can never push the candidate out.

A cut segment keeps its beginning (SuperNI), or, with `keep_head=k` (`PromptConfig.input_head`, set
for T0 / ReCross prompts, whose question, options and "Answer:" come at the end of the input), its
first k tokens and its end: the middle of the passage is dropped (`cut_piece`).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from crosstask.data.records import Example

if TYPE_CHECKING:
    from crosstask.data.tasktype import TypedTask


@dataclass(frozen=True)
class Segment:
    text: str
    truncatable: bool = True
    keep_head: int | None = None  # None: a cut keeps the beginning; k: the first k tokens and the end


def _sentence(text: str) -> str:
    """Strip, and end with a full stop unless the text already ends with punctuation."""
    text = text.strip()
    return text if not text or text[-1] in string.punctuation else text + "."


def _examples_block(examples: Sequence[Example], kind: str, explanations: bool) -> list[Segment]:
    segments = []
    for number, example in enumerate(examples, start=1):
        text = f"{kind} Example {number} -\nInput: {_sentence(example.input)}\nOutput: {_sentence(example.output)}\n"
        if explanations and example.explanation:
            text += f"Explanation: {_sentence(example.explanation)}\n"
        segments.append(Segment(text + "\n"))
    return segments


@dataclass(frozen=True)
class PromptConfig:
    """Tk-Instruct encoding options: k positive / negative demonstrations, with explanations or not."""

    num_positive: int = 0
    num_negative: int = 0
    explanations: bool = False
    input_head: int | None = None  # None: a long input keeps its beginning; k: its first k tokens and its end
    label_options: bool = False  # generator: list a CLS task's label space before the instance ("Options: a, b")


# T0 / ReCross inputs end with the question, the options and "Answer:": a long one loses its middle.
T0_INPUT_HEAD = 32
T0_PROMPT = PromptConfig(input_head=T0_INPUT_HEAD)


def _definition(definition: str) -> list[Segment]:
    """The definition segment; none when the input already carries its instruction (T0 prompts)."""
    return [Segment(f"Definition: {_sentence(definition)}\n\n")] if definition.strip() else []


def generator_segments(definition: str, positive: Sequence[Example], negative: Sequence[Example],
                       text: str, config: PromptConfig = PromptConfig(), options: Sequence[str] = ()) -> list[Segment]:
    """Tk-Instruct source: definition, optional demonstrations, the options to answer with (if any), then the
    instance to complete."""
    segments = _definition(definition)
    segments += _examples_block(positive[: config.num_positive], "Positive", config.explanations)
    segments += _examples_block(negative[: config.num_negative], "Negative", config.explanations)
    if options:
        segments.append(Segment(f"Options: {', '.join(option.strip() for option in options)}\n\n"))
    segments += [Segment("Now complete the following example -\nInput: ", truncatable=False),
                 Segment(_sentence(text), keep_head=config.input_head), Segment("\nOutput: ", truncatable=False)]
    return segments


def classifier_context_segments(definition: str, positive: Sequence[Example], negative: Sequence[Example],
                                text: str, config: PromptConfig = PromptConfig()) -> list[Segment]:
    """The shared part of every (instance, candidate) pair: definition, demonstrations, input."""
    segments = _definition(definition)
    segments += _examples_block(positive[: config.num_positive], "Positive", config.explanations)
    segments += _examples_block(negative[: config.num_negative], "Negative", config.explanations)
    segments += [Segment("Input: ", truncatable=False), Segment(_sentence(text), keep_head=config.input_head)]
    return segments


def candidate_segments(candidate: str) -> list[Segment]:
    """The per-candidate tail; never truncated."""
    return [Segment(f"\nOutput: {_sentence(candidate)}\nIs this example correct?", truncatable=False)]


def candidate_alone_segments(candidate: str) -> list[Segment]:
    """The candidate side of a siamese classifier: the candidate text alone (a long one keeps its start)."""
    return [Segment(_sentence(candidate))]


def render(segments: Sequence[Segment]) -> str:
    return "".join(segment.text for segment in segments)


@lru_cache(maxsize=16)
def _special_tokens(tokenizer) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The ids the tokenizer puts before and after a single sequence (e.g. [CLS] .. [SEP], .. </s>)."""
    probe = "hello"
    bare = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start:start + len(bare)] == bare:
            return tuple(full[:start]), tuple(full[start + len(bare):])
    return (), ()


def fit_lengths(lengths: Sequence[int], truncatable: Sequence[bool], budget: int) -> list[int]:
    """New lengths for the segments so that their sum is ≤ budget, shrinking truncatable ones
    longest-first (the longest is cut down towards the next longest, then both together, ...)."""
    lengths = list(lengths)
    fixed = sum(n for n, can in zip(lengths, truncatable) if not can)
    room = budget - fixed
    if room < 0:
        raise ValueError(f"the fixed segments need {fixed} tokens, more than the {budget} available")
    cut = [i for i, can in enumerate(truncatable) if can]
    while sum(lengths[i] for i in cut) > room:
        longest = max(lengths[i] for i in cut)
        tied = [i for i in cut if lengths[i] == longest]
        second = max([lengths[i] for i in cut if lengths[i] < longest], default=0)
        excess = sum(lengths[i] for i in cut) - room
        step = min(longest - second, -(-excess // len(tied)))
        for i in tied:
            lengths[i] -= step
    return lengths


def cut_piece(ids: Sequence[int], n: int, keep_head: int | None = None) -> list[int]:
    """`ids` cut to `n` tokens: its first n (keep_head None), else its first min(keep_head, n // 2)
    tokens and its last n - that many (the middle is dropped)."""
    ids = list(ids)
    if n >= len(ids):
        return ids
    if n <= 0:
        return []
    if keep_head is None:
        return ids[:n]
    head = min(keep_head, n // 2)
    return ids[:head] + ids[len(ids) - (n - head):]


def encode_segments(tokenizer, segments: Sequence[Segment], max_length: int) -> list[int]:
    """Token ids of the segments with special tokens added, at most `max_length` long.

    Truncatable segments keep their beginning (or their head and end, see `cut_piece`). If even the
    fixed segments do not fit, the last fixed segment (the candidate tail) keeps its end and
    everything truncatable is dropped.
    """
    return PromptEncoder(tokenizer, max_length).encode(segments)

class PromptEncoder:
    """Encodes segment lists with one tokenizer, tokenising each distinct segment text only once
    (definitions, inputs and candidate tails repeat across pairs)."""

    def __init__(self, tokenizer, max_length: int):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.prefix, self.suffix = _special_tokens(tokenizer)
        self._cache: dict[str, list[int]] = {}

    def ids(self, text: str) -> list[int]:
        cached = self._cache.get(text)
        if cached is None:
            cached = self._cache[text] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return cached

    def encode(self, segments: Sequence[Segment]) -> list[int]:
        return _join(self.prefix, self.suffix, [self.ids(s.text) for s in segments],
                     [s.truncatable for s in segments], self.max_length, [s.keep_head for s in segments])

    def cuts(self, segments: Sequence[Segment]) -> bool:
        """Whether encoding the segments cuts any of them (they do not fit `max_length` whole)."""
        room = self.max_length - len(self.prefix) - len(self.suffix)
        return sum(len(self.ids(s.text)) for s in segments) > room


def _join(prefix, suffix, pieces: list[list[int]], truncatable: list[bool], max_length: int,
          heads: Sequence[int | None] | None = None) -> list[int]:
    budget = max_length - len(prefix) - len(suffix)
    heads = heads or [None] * len(pieces)
    try:
        lengths = fit_lengths([len(p) for p in pieces], truncatable, budget)
    except ValueError:
        body = [i for p, can in zip(pieces, truncatable) if not can for i in p]
        return [*prefix, *body[-budget:], *suffix]
    return [*prefix, *(i for piece, n, k in zip(pieces, lengths, heads) for i in cut_piece(piece, n, k)), *suffix]


def pair_segments(task: TypedTask, text: str, candidate: str, prompt: PromptConfig) -> list[Segment]:
    """The classifier pair of a SuperNI-style task: context (definition, demonstrations, input), then the candidate."""
    t = task.task
    return classifier_context_segments(t.definition, t.positive_examples, t.negative_examples, text, prompt) \
        + candidate_segments(candidate)


def generator_options(task: TypedTask, prompt: PromptConfig) -> tuple[str, ...]:
    """The labels a generator prompt lists (`label_options`): a CLS task's label space, the same candidates the
    classifier scores; none for a GEN task, whose "label space" is its answers."""
    return task.labels if prompt.label_options and task.is_cls else ()


def task_generator_segments(task: TypedTask, text: str, prompt: PromptConfig) -> list[Segment]:
    """The generator source of `text` under the task's definition, demonstrations and (`label_options`) labels."""
    t = task.task
    return generator_segments(t.definition, t.positive_examples, t.negative_examples, text, prompt,
                              generator_options(task, prompt))


def source_ids(task: TypedTask, text: str, encoder: PromptEncoder, prompt: PromptConfig) -> list[int]:
    """The generator's encoded source for `text` under the task's definition and demonstrations."""
    return encoder.encode(task_generator_segments(task, text, prompt))
