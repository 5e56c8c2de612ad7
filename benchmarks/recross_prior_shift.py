"""Does adaptation teach the upstream the target, or only move its label prior? From a ReCross table's saved
rank-classification predictions (`recross run` output: TABLE/<target>/zero-shot and TABLE/<target>/<method>/round-k),
per method, the mean over targets (rounds averaged) of:

- accuracy and its gain over zero-shot, as in the table;
- the prior-free accuracy: each template's candidate scores mean-centred over its test inputs
  (`crosstask.evaluation.calibration.calibrate`, label-free), so a shift that lifts one option for every input
  cancels out; its gain over the prior-free zero-shot is what adaptation changed *between inputs*;
- changed: the share of records whose predicted option differs from zero-shot's;
- top option: the share of records predicted as their template's most frequent prediction (100 = one answer for
  every input of a template).

If the raw gains move while the prior-free gains stay near 0, adaptation moved the label prior only.
--protocol rank/generator reads a generator upstream's rank classification (option log-likelihoods, centred as
they are; the classifier's P(correct) is centred as a logit).

Usage: .venv/bin/python benchmarks/recross_prior_shift.py [--table runs/bench/recross_r2_expand/table] [--rounds K]
       [--protocol rank/generator]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from crosstask.evaluation.calibration import calibrate
from crosstask.evaluation.classifier import CandidatePrediction
from crosstask.evaluation.targets import RANK_CLASSIFIER, RANK_GENERATOR, protocol_scores

METHODS = ("random", "bm25", "sbert", "dense", "dense_rerank", "ceiling")


def load_predictions(path: Path, protocol: str = RANK_CLASSIFIER) -> list[CandidatePrediction]:
    rows = json.loads(path.read_text()).get(protocol, [])
    return [CandidatePrediction(r["id"], r["task"], "", r["prediction"], tuple(r["references"]),
                                tuple(r["candidates"]), tuple(r["scores"])) for r in rows]


def accuracy(predictions: list[CandidatePrediction]) -> float:
    return 100 * float(np.mean([protocol_scores(RANK_CLASSIFIER, p.prediction, p.references)["accuracy"]
                                for p in predictions]))


def top_option_share(predictions: list[CandidatePrediction]) -> float:
    by_template: dict[str, Counter] = defaultdict(Counter)
    for p in predictions:
        by_template[p.task][p.prediction] += 1
    return 100 * sum(c.most_common(1)[0][1] for c in by_template.values()) / len(predictions)


def measures(predictions: list[CandidatePrediction], zero_shot: list[CandidatePrediction],
             probabilities: bool = True) -> dict[str, float]:
    before = {p.id: p.prediction for p in zero_shot}
    return {"accuracy": accuracy(predictions), "prior_free": accuracy(calibrate(predictions, probabilities)),
            "changed": 100 * float(np.mean([p.prediction != before[p.id] for p in predictions])),
            "top_option": top_option_share(predictions)}


def table_measures(table: Path, max_rounds: int | None = None,
                   protocol: str = RANK_CLASSIFIER) -> dict[str, dict[str, dict[str, float]]]:
    """method -> target -> measures (the first `max_rounds` rounds averaged); "zero-shot" included."""
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    probabilities = protocol == RANK_CLASSIFIER
    for target_dir in sorted(p for p in table.iterdir() if (p / "zero-shot" / "predictions.json").is_file()):
        zero = load_predictions(target_dir / "zero-shot" / "predictions.json", protocol)
        if not zero:
            continue
        out["zero-shot"][target_dir.name] = measures(zero, zero, probabilities)
        for method in METHODS:
            rounds = sorted((target_dir / method).glob("round-*/predictions.json"),
                            key=lambda p: int(p.parent.name.split("-")[1]))[:max_rounds]
            if rounds:
                per_round = [measures(load_predictions(r, protocol), zero, probabilities) for r in rounds]
                out[method][target_dir.name] = {k: float(np.mean([m[k] for m in per_round])) for k in per_round[0]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="runs/bench/recross_r2_expand/table")
    parser.add_argument("--rounds", type=int, default=None, help="the first K rounds only (default: all found)")
    parser.add_argument("--protocol", default=RANK_CLASSIFIER, choices=(RANK_CLASSIFIER, RANK_GENERATOR))
    args = parser.parse_args()
    found = table_measures(Path(args.table), args.rounds, args.protocol)
    zero = found["zero-shot"]
    print(f"Rank classification, mean over the {len(zero)} targets with rank-scored records (rounds averaged).\n")
    print("| method | accuracy | gain | prior-free accuracy | prior-free gain | changed vs. zero-shot (%) "
          "| top option (%) |")
    print("|---|---|---|---|---|---|---|")
    for method in ("zero-shot", *METHODS):
        cells = found.get(method)
        if not cells:
            continue
        mean = {k: float(np.mean([c[k] for c in cells.values()])) for k in next(iter(cells.values()))}
        gain = np.mean([cells[t]["accuracy"] - zero[t]["accuracy"] for t in cells])
        free_gain = np.mean([cells[t]["prior_free"] - zero[t]["prior_free"] for t in cells])
        print(f"| {method} | {mean['accuracy']:.2f} | {gain:+.2f} | {mean['prior_free']:.2f} | {free_gain:+.2f} "
              f"| {mean['changed']:.1f} | {mean['top_option']:.1f} |")


if __name__ == "__main__":
    main()
