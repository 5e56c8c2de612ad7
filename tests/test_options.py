"""Options a T0 prompt lists by index ("- A: ...", "Ending 2: ...", "B -> ...", "Choice 1: ...") and the
rank classifier that scores them as "index: text" (`expand_options`)."""

import pytest
from tiny_models import tiny_bert

from crosstask.data.options import expand_listed_options, listed_option
from crosstask.data.prompts import PromptEncoder
from crosstask.data.records import T0Record
from crosstask.evaluation.targets import RANK_CLASSIFIER, predict_target

ARC = ("Here's a problem to solve: Which object rolls farthest?\n\nAmong the 4 following options, which is the correct"
       " answer?\n\n- A: Put the objects in groups.\n \n- B: Change the height of the ramp.\n \n- C: Choose "
       "different objects.\n \n- D: Record the details.")
HELLASWAG = "A boy is running. the boy...\nHow does it end?\n\nEnding 1: runs into a car.\n\nEnding 2: gets in a mat."
PIQA = "Sentence: dresser\n\nChoice 1: replace drawer \n\nChoice 2: finish, woodgrain\n\nWhat is the index?\n\nAnswer:"
OBQA = "When birds migrate south they\n\nA -> are called to\n\nB -> are asked to\n\nIs the right answer A or B ?"
HINT = "How does this sentence end?\nHe\n\n(a)  plays.\n\n(b)  sings.\n\nHint: the topic is music"


@pytest.mark.parametrize("text, label, option", [
    (ARC, "A", "Put the objects in groups."), (ARC, "D", "Record the details."),
    (HELLASWAG, "Ending 2", "gets in a mat."), (PIQA, "2", "finish, woodgrain"), (OBQA, "B", "are asked to"),
    (HINT, "b", "sings."),
])
def test_listed_option_reads_each_listing_style(text, label, option):
    assert listed_option(text, label) == option


def test_listed_option_needs_a_listing_line():
    assert listed_option(OBQA, "C") is None  # "A or B ?" mentions labels without listing them
    assert listed_option("Is it true? Yes or No?", "Yes") is None
    assert listed_option("No. of cars: 3. Is it true? Yes or No?", "No") == "of cars: 3. Is it true? Yes or No?"


def test_expansion_keeps_the_listed_labels_and_scores_their_texts():
    assert expand_listed_options(ARC, ["A", "B"]) == (("A", "B"), ("A: Put the objects in groups.",
                                                                   "B: Change the height of the ramp."))
    # a template's option set mixing index styles (ARC: A-D and 1-4): the input's own listing decides
    assert expand_listed_options(OBQA, ["1", "A", "2", "B"]) == (("A", "B"), ("A: are called to", "B: are asked to"))
    # one label listed by accident ("No. of cars") is no listing: nothing changes
    assert expand_listed_options("No. of cars: 3. Is it true? Yes or No?", ["Yes", "No"]) == (("Yes", "No"),) * 2
    assert expand_listed_options(ARC, ["A"]) == (("A",), ("A",))  # one option: nothing to tell apart
    same = "Pick one.\n- A: yes\n- B: yes"
    assert expand_listed_options(same, ["A", "B"]) == (("A", "B"),) * 2  # identical texts tell nothing apart


def test_rank_classifier_scores_the_expanded_options_and_predicts_the_index(tmp_path, monkeypatch):
    from crosstask.evaluation import classifier as evaluation
    from crosstask.models.backbone import load_tokenizer
    from crosstask.models.classifier import ClassifierConfig, EncoderClassifier, load_encoder

    bert = tiny_bert(tmp_path / "bert")
    model = EncoderClassifier(load_encoder(bert), ClassifierConfig(model=bert, dropout=0.0)).eval()
    encoder = PromptEncoder(load_tokenizer(bert), 128)
    records = [T0Record(ARC, ("D",), "arc", "validation", "letters", f"#{i}", "arc") for i in range(2)]
    options = {("arc", "letters"): ("A", "1", "B", "C", "D")}
    seen = []
    real = evaluation.pair_segments
    monkeypatch.setattr(evaluation, "pair_segments", lambda t, text, c, p: seen.append(c) or real(t, text, c, p))

    plain = predict_target(records, options, classifier=model, classifier_encoder=encoder)
    assert seen == ["A", "1", "B", "C", "D"] * 2
    seen.clear()
    expanded = predict_target(records, options, classifier=model, classifier_encoder=encoder, expand_options=True)
    assert seen[:2] == ["A: Put the objects in groups.", "B: Change the height of the ramp."] and len(seen) == 8
    for prediction in expanded.predictions[RANK_CLASSIFIER]:
        assert prediction.candidates == ("A", "B", "C", "D") and prediction.prediction in prediction.candidates
        assert len(prediction.scores) == 4
    assert [p.scores for p in plain.predictions[RANK_CLASSIFIER]] != \
        [p.scores for p in expanded.predictions[RANK_CLASSIFIER]]
