import pytest

from crosstask.data.prompts import (
    PromptConfig, candidate_segments, classifier_context_segments, encode_segments, fit_lengths,
    generator_segments, render,
)
from crosstask.data.records import Example
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
