"""ReCross statistics by hand: paired bootstrap CI of the gain, rank baselines, example keys, the
held-out pseudo-target split of an upstream task, and the count of targets each method moves."""

import numpy as np
import pytest

from crosstask.data.records import T0Record
from crosstask.data.t0 import split_pseudo_target
from crosstask.evaluation.stats import example_key, paired_bootstrap_ci, rank_baselines
from crosstask.reporting.recross import metric_table, targets_moved


def rec(template, index, *outputs, dataset="ds", split="validation"):
    return T0Record(f"input {template} {index}", tuple(outputs), dataset, split, template, f"#{index}", "toy")


def test_identical_arrays_give_a_zero_interval():
    scores = np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=float)
    assert paired_bootstrap_ci([scores], [scores]) == (0.0, 0.0)
    assert paired_bootstrap_ci([np.vstack([scores] * 5)], [scores]) == (0.0, 0.0)  # 5 identical rounds


def test_constant_difference_gives_a_point_interval():
    assert paired_bootstrap_ci([np.ones(20)], [np.zeros(20)]) == (100.0, 100.0)
    assert paired_bootstrap_ci([np.zeros(7)], [np.ones(7)], scale=1.0) == (-1.0, -1.0)
    # two targets: +1 everywhere on one, 0 on the other -> mean gain 50 in every replicate
    assert paired_bootstrap_ci([np.ones(5), np.zeros(9)], [np.zeros(5), np.zeros(9)]) == (50.0, 50.0)


def test_examples_are_resampled_together():
    # rounds averaged per record: method [1, .5, 1, .5] vs zero-shot [0, 0, 1, 1] -> differences
    # [1, .5, 0, -.5]; examples a (records 0, 1: 1.5 over 2), b (0 over 1), c (-.5 over 1). A replicate
    # of only c (-50) or only a (+75) has probability 1/27 > 2.5 %, so the interval is [-50, 75].
    method = np.array([[1, 0, 1, 1], [1, 1, 1, 0]], dtype=float)
    zero = np.array([0, 0, 1, 1], dtype=float)
    assert paired_bootstrap_ci([method], [zero], [["a", "a", "b", "c"]], n_boot=5000) == (-50.0, 75.0)
    ungrouped = paired_bootstrap_ci([method], [zero], n_boot=5000)
    assert ungrouped != (-50.0, 75.0) and -50.0 <= ungrouped[0] < ungrouped[1] <= 100.0


def test_bootstrap_is_seeded_and_checks_pairing():
    rng = np.random.default_rng(3)
    method, zero = rng.integers(0, 2, (3, 40)).astype(float), rng.integers(0, 2, 40).astype(float)
    first = paired_bootstrap_ci([method], [zero], seed=5)
    assert paired_bootstrap_ci([method], [zero], seed=5) == first
    low, high = first
    gain = 100 * (method.mean(0) - zero).mean()
    assert low <= gain <= high
    with pytest.raises(ValueError, match="not paired"):
        paired_bootstrap_ci([np.ones(3)], [np.ones(4)])
    with pytest.raises(ValueError, match="same, non-zero"):
        paired_bootstrap_ci([], [])


def test_example_key():
    assert example_key("super_glue|validation|GPT-3 style|#12") == "super_glue|validation|#12"
    assert example_key("ds|train|a|b template|#3") == "ds|train|#3"  # '|' inside the template


def test_rank_baselines_by_hand():
    options = {("ds", "yn"): ("Yes", "No"), ("ds", "abc"): ("A", "B", "C")}
    records = [rec("yn", 0, "yes"), rec("yn", 1, "No"), rec("yn", 2, "No."), rec("yn", 3, "no"),
               rec("abc", 0, "B"), rec("abc", 1, "C"), rec("abc", 2, "A", "B"),
               rec("free", 0, "Paris")]  # no option set: not a rank record
    found = rank_baselines(records, options)
    # majority: yn answers "No" (gold of 3 of 4), abc answers "B" (gold of 2 of 3) -> 5 / 7
    assert found["majority"] == pytest.approx(100 * 5 / 7, abs=1e-4)
    # uniform: yn 4 × 1/2, abc 1/3 + 1/3 + 2/3 -> (2 + 4/3) / 7
    assert found["uniform"] == pytest.approx(100 * (2 + 4 / 3) / 7, abs=1e-4)
    assert found["rank_records"] == 7 and found["majority_options"] == {"ds|yn": "No", "ds|abc": "B"}
    assert rank_baselines([rec("free", 0, "x")], options) == {"majority": None, "uniform": None,
                                                                "rank_records": 0, "majority_options": {}}


def test_pseudo_target_split_keeps_examples_apart():
    records = [rec(t, i, "yes" if i % 2 else "no", split="train") for i in range(30) for t in ("t1", "t2", "t3")]
    target = split_pseudo_target(records, "toy", n_test=10, n_query=20, seed=1)
    assert target.name == "toy" and len(target.test) == 10 and len(target.query) == 20
    test_examples = {r.index for r in target.test}
    assert not test_examples & {r.index for r in target.query}
    assert split_pseudo_target(records, "toy", 10, 20, seed=1) == target
    assert split_pseudo_target(records, "toy", 10, 20, seed=2).test != target.test
    order = {r.uid: n for n, r in enumerate(records)}
    assert [order[r.uid] for r in target.test] == sorted(order[r.uid] for r in target.test)  # file order


def test_small_pseudo_target_is_split_in_half():
    records = [rec("t1", i, "yes", split="train") for i in range(40)]
    target = split_pseudo_target(records, "toy", seed=0)  # 40 < 1000 + 1000 records
    assert len(target.test) == len(target.query) == 20
    assert {r.uid for r in target.test}.isdisjoint({r.uid for r in target.query})


def test_targets_moved_counts_intervals_that_exclude_zero_and_the_table_prints_them():
    assert targets_moved([[0.5, 3.0], [-2.0, 1.0], [-4.0, -0.1], [0.0, 2.0]]) == {"targets_up": 1, "targets_down": 1}
    assert targets_moved([[0.5, 3.0], None]) == {"targets_up": None, "targets_down": None}
    method = {"mean": 47.0, "std": None, "gain": 2.0, "ci95": [0.4, 3.6], "targets_up": 1, "targets_down": 0,
              "targets": {"a": {"mean": 54.0, "std": 0.0}, "b": {"mean": 40.0, "std": 0.0}}}
    stats = {"metric": "rank/classifier/accuracy", "zero_shot": {"a": 50.0, "b": 40.0}, "zero_shot_mean": 45.0,
             "methods": {"random": method}}
    table = metric_table(stats)
    assert "| targets up / down (own 95 % CI excludes 0) |  | 1 / 0 |" in table
    assert "targets up / down" not in metric_table({**stats, "methods": {"random": {**method, "targets_up": None}}})


def test_resampling_rounds_too_widens_the_interval_by_the_round_variance():
    # round A: +1 on every record, round B: 0 -> per record 0.5 whatever examples are drawn; with rounds drawn
    # too, a replicate is AA (100), AB (50) or BB (0), each end with probability 1/4
    method, zero = [np.vstack([np.ones(6), np.zeros(6)])], [np.zeros(6)]
    assert paired_bootstrap_ci(method, zero) == (50.0, 50.0)
    assert paired_bootstrap_ci(method, zero, resample_rounds=True) == (0.0, 100.0)
    one_round = [np.array([1.0, 0.0, 1.0, 1.0])], [np.zeros(4)]
    assert paired_bootstrap_ci(*one_round, resample_rounds=True) == paired_bootstrap_ci(*one_round)
