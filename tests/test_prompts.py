import pytest

from crosstask.cli import build_parser
from crosstask.cli.common import prompt_overrides
from crosstask.cli.options import from_args
from crosstask.data.prompts import (
    T0_INPUT_HEAD,
    T0_PROMPT,
    PromptConfig,
    PromptEncoder,
    candidate_segments,
    classifier_context_segments,
    cut_piece,
    encode_segments,
    fit_lengths,
    generator_options,
    generator_segments,
    render,
    source_ids,
)
from crosstask.data.records import Example, Instance, Task
from crosstask.data.tasktype import type_task
from crosstask.models.backbone import load_tokenizer

POS = (Example("I love it", "positive", "love is positive"), Example("bad", "negative"))
NEG = (Example("great", "negative", "great is not negative"),)


def test_generator_source_definition_only():
    source = render(generator_segments("Classify the sentiment", POS, NEG, "What a day"))
    assert source == ("Definition: Classify the sentiment.\n\n"
                      "Now complete the following example -\nInput: What a day.\nOutput: ")


def test_generator_source_with_demonstrations_and_explanations():
    config = PromptConfig(num_positive=1, num_negative=1, explanations=True)
    source = render(generator_segments("Classify.", POS, NEG, "ok?", config))
    assert source == ("Definition: Classify.\n\n"
                      "Positive Example 1 -\nInput: I love it.\nOutput: positive.\nExplanation: love is positive.\n\n"
                      "Negative Example 1 -\nInput: great.\nOutput: negative.\nExplanation: great is not negative.\n\n"
                      "Now complete the following example -\nInput: ok?\nOutput: ")


def test_classifier_pair_text():
    text = render(classifier_context_segments("Say yes or no", (), (), "Is it?") + candidate_segments("Yes"))
    assert text == "Definition: Say yes or no.\n\nInput: Is it?\nOutput: Yes.\nIs this example correct?"


def test_fit_lengths_longest_first():
    # budget 10, fixed 2: truncatable 10 and 4 must shrink to a total of 8 -> the long one is cut first
    assert fit_lengths([10, 2, 4], [True, False, True], 10) == [4, 2, 4]
    # both shrink together once they are equal
    assert fit_lengths([10, 2, 8], [True, False, True], 10) == [4, 2, 4]
    assert fit_lengths([3, 2], [True, False], 10) == [3, 2]
    with pytest.raises(ValueError):
        fit_lengths([3, 12], [True, False], 10)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("default")


def test_overlong_input_keeps_candidate(tokenizer):
    long_input = " ".join(["word"] * 2000)
    segments = classifier_context_segments("Decide if the review is positive", (), (), long_input) \
        + candidate_segments("Neutral-ish")
    ids = encode_segments(tokenizer, segments, max_length=64)
    assert len(ids) == 64
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    assert decoded.endswith("output : neutral - ish. is this example correct?")
    assert decoded.startswith("definition : decide if the review is positive.")


def test_short_pair_is_untouched(tokenizer):
    segments = classifier_context_segments("Say yes", (), (), "Is it?") + candidate_segments("yes")
    ids = encode_segments(tokenizer, segments, max_length=128)
    assert tokenizer.decode(ids, skip_special_tokens=True) == \
        "definition : say yes. input : is it? output : yes. is this example correct?"


def test_empty_definition_is_left_out():
    # T0 prompts carry their instruction in the input: no "Definition:" line then
    assert render(generator_segments("", (), (), "Is it raining?")) == \
        "Now complete the following example -\nInput: Is it raining?\nOutput: "
    assert render(classifier_context_segments(" ", (), (), "x") + candidate_segments("y")) == \
        "Input: x.\nOutput: y.\nIs this example correct?"


def test_cut_piece_keeps_head_and_end():
    ids = list(range(10))
    assert cut_piece(ids, 6) == [0, 1, 2, 3, 4, 5]             # SuperNI: the beginning
    assert cut_piece(ids, 6, keep_head=2) == [0, 1, 6, 7, 8, 9]  # first 2, last 4
    assert cut_piece(ids, 6, keep_head=5) == [0, 1, 2, 7, 8, 9]  # the head is at most half
    assert cut_piece(ids, 12, keep_head=2) == ids and cut_piece(ids, 0, keep_head=2) == []


T0_LONG = ("Answer the question depending on the context.\nContext: " + " ".join(["filler"] * 600)
           + ";\nQuestion: What fell to the Normans?;\nIf you can't find the answer, please respond \"unanswerable\"."
           "\nAnswer:")


def test_t0_prompt_keeps_the_question_of_a_long_passage(tokenizer):
    from crosstask.data.prompts import PromptEncoder

    encoder = PromptEncoder(tokenizer, 96)
    source = generator_segments("", (), (), T0_LONG, T0_PROMPT)
    assert encoder.cuts(source) and not encoder.cuts(generator_segments("", (), (), "Short?", T0_PROMPT))
    ids = encoder.encode(source)
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    assert len(ids) == 96 and T0_PROMPT.input_head == T0_INPUT_HEAD == 32
    assert decoded.startswith("now complete the following example - input : answer the question depending on")
    assert decoded.endswith("question : what fell to the normans? ; if you can ' t find the answer, please respond "
                            "\" unanswerable \". answer : output :")
    pair = classifier_context_segments("", (), (), T0_LONG, T0_PROMPT) + candidate_segments("unanswerable")
    decoded = tokenizer.decode(encoder.encode(pair), skip_special_tokens=True)
    assert "question : what fell to the normans?" in decoded and decoded.startswith("input : answer the question")
    assert decoded.endswith("output : unanswerable. is this example correct?")
    # the SuperNI default still keeps the beginning: the question is lost
    plain = tokenizer.decode(encoder.encode(generator_segments("", (), (), T0_LONG)), skip_special_tokens=True)
    assert "normans" not in plain and plain.endswith("filler output :")


def test_shared_context_scorer_cuts_the_middle_too(tokenizer):
    from crosstask.data.prompts import PromptEncoder
    from crosstask.models.shared_context import CandidateScorer, ScoringInstance

    scorer = CandidateScorer(None, PromptEncoder(tokenizer, 96))  # encode_instance needs no model
    context, tails = scorer.encode_instance(ScoringInstance(
        classifier_context_segments("", (), (), T0_LONG, T0_PROMPT), ("yes", "unanswerable")))
    decoded = tokenizer.decode(context)
    assert decoded.startswith("input : answer the question") and "what fell to the normans?" in decoded
    assert 2 + len(context) + max(len(t) for t in tails) <= 96


def _typed(category: str, outputs: tuple[str, ...]):
    instances = tuple(Instance(f"i{n}", f"input {n}", (o,)) for n, o in enumerate(outputs))
    return type_task(Task("t", "Answer.", (category,), (), (), instances))


def test_generator_source_lists_the_label_options_of_a_cls_task_only(tokenizer):
    cls_task = _typed("Textual Entailment", ("Entailment", "Neutral", "entailment", "Contradiction"))
    gen_task = _typed("Title Generation", ("Paris", "a cat"))
    listed = PromptConfig(label_options=True)
    assert generator_options(cls_task, listed) == ("Entailment", "Neutral", "Contradiction")
    assert generator_options(cls_task, PromptConfig()) == () and generator_options(gen_task, listed) == ()
    source = render(generator_segments("Answer.", (), (), "x", listed, generator_options(cls_task, listed)))
    assert source == ("Definition: Answer.\n\nOptions: Entailment, Neutral, Contradiction\n\n"
                      "Now complete the following example -\nInput: x.\nOutput: ")
    encoder = PromptEncoder(tokenizer, 64)
    with_options = tokenizer.decode(source_ids(cls_task, "x", encoder, listed))
    assert "options : entailment, neutral, contradiction" in with_options
    assert "options" not in tokenizer.decode(source_ids(gen_task, "x", encoder, listed))


def test_label_options_flag_reaches_the_prompt_config():
    parser = build_parser()
    train = parser.parse_args(["train", "generator", "--label-options", "--output", "x"])
    assert from_args(PromptConfig, train).label_options is True
    assert from_args(PromptConfig, parser.parse_args(["train", "generator", "--output", "x"])).label_options is False
    evaluate = parser.parse_args(["evaluate", "--generator", "g", "--no-label-options", "--output", "x"])
    assert prompt_overrides(evaluate) == {"label_options": False}
    assert prompt_overrides(parser.parse_args(["evaluate", "--generator", "g", "--output", "x"])) == {}
