from crosstask.data.records import Example, Instance, Task, TaskType
from crosstask.data.tasktype import LabelSpaceMode, TaskTypeRule, dedupe_labels, label_space, type_task


def make_task(category, outputs, example_outputs=("yes",)):
    instances = tuple(Instance(f"i{i}", f"input {i}", (o,)) for i, o in enumerate(outputs))
    examples = tuple(Example(f"ex {i}", o) for i, o in enumerate(example_outputs))
    return Task("task_x", "Say yes or no.", (category,), examples, (Example("neg", "maybe"),), instances)


def test_dedupe_by_normalised_form_keeps_first_surface_form():
    assert dedupe_labels(["Yes.", "yes", "No", "no!", " YES "]) == ("Yes.", "No")


def test_label_space_modes():
    task = make_task("Textual Entailment", ["Yes", "No", "yes."], example_outputs=("yes", "Yes"))
    assert label_space(task, "instances") == ("Yes", "No")
    # examples mode reads positive then negative examples only: no instance label
    assert label_space(task, LabelSpaceMode.EXAMPLES) == ("yes", "maybe")


def test_rule_classification_category_size_limit():
    rule = TaskTypeRule(max_labels=3)
    assert rule.classify("Textual Entailment", 3) is TaskType.CLS
    assert rule.classify("Textual Entailment", 4) is TaskType.GEN
    assert rule.classify("Sentiment Analysis", 2) is TaskType.CLS


def test_rule_open_and_generation_categories():
    rule = TaskTypeRule()
    assert rule.classify("Question Answering", 4) is TaskType.CLS  # multiple choice
    assert rule.classify("Question Answering", 11) is TaskType.GEN  # free-form answers
    assert rule.classify("Title Generation", 2) is TaskType.GEN
    assert rule.classify("Something New", 2) is TaskType.GEN


def test_type_task_records_mode():
    typed = type_task(make_task("Word Analogy", [f"w{i}" for i in range(101)]), "instances")
    assert typed.task_type is TaskType.GEN and len(typed.labels) == 101 and typed.mode is LabelSpaceMode.INSTANCES
