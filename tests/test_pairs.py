from crosstask.data.records import Instance, Task
from crosstask.data.tasktype import type_task
from crosstask.training.pairs import PairConfig, build_pairs, pair_counts


def task(name, category, outputs):
    instances = tuple(Instance(f"{name}-{i}", f"in {i}", tuple(o)) for i, o in enumerate(outputs))
    return type_task(Task(name, "Do it.", (category,), (), (), instances))


CLS = task("cls", "Textual Entailment", [["Yes."], ["no"], ["maybe"], ["yes"]])  # labels: Yes., no, maybe
GEN = task("gen", "Title Generation", [["alpha beta"], ["gamma"], ["delta epsilon"], ["zeta"]])


def test_all_negatives_and_normalised_positives():
    pairs = build_pairs([CLS])
    assert [(p.instance_id, p.candidate, p.label) for p in pairs[:3]] == [
        ("cls-0", "Yes.", 1), ("cls-0", "no", 0), ("cls-0", "maybe", 0)]
    # "yes" (instance 3) matches the label "Yes." by normalised form: one positive, not a new label
    assert [(p.candidate, p.label) for p in pairs if p.instance_id == "cls-3"] == [("Yes.", 1), ("no", 0), ("maybe",
                                                                                                            0)]
    assert pair_counts(pairs) == {"pairs": 12, "positive": 4, "negative": 8}


def test_k_sampled_negatives():
    pairs = build_pairs([CLS], PairConfig(negatives=1))
    assert pair_counts(pairs) == {"pairs": 8, "positive": 4, "negative": 4}


def test_gen_tasks_only_with_mix_gen():
    assert all(p.task == "cls" for p in build_pairs([CLS, GEN]))


def test_gen_negatives_match_cls_ratio():
    pairs = build_pairs([CLS, GEN], PairConfig(mix_gen=True))
    gen = [p for p in pairs if p.task == "gen"]
    # CLS has 2 negatives per positive -> each GEN instance gets its gold + 2 other instances' outputs
    assert pair_counts(gen) == {"pairs": 12, "positive": 4, "negative": 8}
    for p in gen:
        if p.label == 0:
            assert p.candidate != GEN.task.instances[int(p.instance_id[-1])].outputs[0]


def test_seed_positives_only_variant():
    gen = [p for p in build_pairs([CLS, GEN], PairConfig(mix_gen=True, gen_negatives="none")) if p.task == "gen"]
    assert pair_counts(gen) == {"pairs": 4, "positive": 4, "negative": 0}


def _listed(name, rows):
    instances = tuple(Instance(f"{name}-{i}", text, (gold,)) for i, (text, gold) in enumerate(rows))
    return type_task(Task(name, "Pick one.", ("Question Answering",), (), (), instances))


def test_expanded_options_pair_each_listed_index_with_its_text():
    arc = _listed("arc", [("Q1?\n- A: red\n- B: blue\n- C: green", "B"), ("Q2?\n- A: up\n- B: down\n- C: left", "A"),
                          ("Q3 lists nothing", "C")])
    pairs = build_pairs([arc], PairConfig(expand_options=True))
    assert [(p.instance_id, p.candidate, p.label) for p in pairs] == [
        ("arc-0", "B: blue", 1), ("arc-0", "A: red", 0), ("arc-0", "C: green", 0),
        ("arc-1", "A: up", 1), ("arc-1", "B: down", 0), ("arc-1", "C: left", 0),
        ("arc-2", "C", 1), ("arc-2", "B", 0), ("arc-2", "A", 0)]  # nothing listed: the bare labels
    assert [p.candidate for p in build_pairs([arc])][:3] == ["B", "A", "C"]  # off by default
