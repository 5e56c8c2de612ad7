"""Classifier evaluation on the SuperNI CLS test tasks: shared-context scoring vs the seed's
full-attention per-pair scoring, timed in one run on the same instances (instances/s ratio), and
the EM of each model on all 65 × 100 instances (each trained its own way with the same budget by
benchmarks/superni.sh and benchmarks/superni_shared.sh; EM read from their evaluation runs).

Usage: .venv/bin/python benchmarks/perf_eval.py [--runs runs/bench/superni_fixed] [--per-task 20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from perf_common import save_section

from crosstask.core.precision import autocast, resolve_precision

PRECISION = "auto"  # bf16 autocast where the CPU has it natively (AMX / AVX-512-BF16), else fp32


def timed_predictions(model_path: Path, tasks, max_length: int, batch_size: int) -> tuple[float, list]:
    from crosstask.data.prompts import PromptConfig, PromptEncoder
    from crosstask.evaluation.classifier import predict_candidates
    from crosstask.experiments.superni import model_dir
    from crosstask.models.backbone import load_tokenizer
    from crosstask.models.classifier import EncoderClassifier

    path = model_dir(model_path)
    model = EncoderClassifier.from_pretrained(path).eval()
    encoder = PromptEncoder(load_tokenizer(path / "encoder"), max_length)
    with autocast(PRECISION, "cpu"):
        predict_candidates(model, tasks[:2], encoder, PromptConfig(), batch_size=batch_size)  # warm-up
        start = time.perf_counter()
        predictions = predict_candidates(model, tasks, encoder, PromptConfig(), batch_size=batch_size)
    return time.perf_counter() - start, predictions


def full_em(run: Path) -> float:
    from crosstask.core.io import read_json

    return read_json(run / "eval" / "metrics.json")["metrics"]["cls/classifier"]["overall"]["exact_match"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/superni")
    parser.add_argument("--runs", default="runs/bench/superni_fixed")
    parser.add_argument("--per-pair", default="cls_nogen_s42")
    parser.add_argument("--shared", default="clsshared_nogen_s42")
    parser.add_argument("--per-task", type=int, default=20, help="test instances per CLS task in the timing")
    parser.add_argument("--max-length", type=int, default=160)
    args = parser.parse_args()

    from crosstask.data.benchmark import DataConfig, load_superni_data

    data = load_superni_data(DataConfig(data=args.data, max_train_instances=0, max_test_instances=args.per_task))
    tasks = [t for t in data.test if t.is_cls]
    instances = sum(len(t.task.instances) for t in tasks)
    candidates = sum(len(t.labels) * len(t.task.instances) for t in tasks)
    runs = Path(args.runs)
    pair_seconds, pair_preds = timed_predictions(runs / args.per_pair, tasks, args.max_length, 64)
    shared_seconds, shared_preds = timed_predictions(runs / args.shared, tasks, args.max_length, 64)
    agree = sum(a.prediction == b.prediction for a, b in zip(pair_preds, shared_preds)) / len(pair_preds)
    em_pair, em_shared = full_em(runs / args.per_pair), full_em(runs / args.shared)
    result = {"tasks": len(tasks), "instances": instances, "candidates": candidates,
              "per_pair": {"seconds": pair_seconds, "instances_per_s": instances / pair_seconds, "em": em_pair,
                           "run": str(runs / args.per_pair)},
              "shared_context": {"seconds": shared_seconds, "instances_per_s": instances / shared_seconds,
                                 "em": em_shared, "run": str(runs / args.shared)},
              "speedup": pair_seconds / shared_seconds, "em_delta": em_shared - em_pair,
              "prediction_agreement": agree, "max_length": args.max_length, "precision": resolve_precision(PRECISION,
                                                                                                           "cpu")}
    save_section("eval", result, {"eval_speedup": result["speedup"], "eval_em_delta": result["em_delta"]})
    print(f"{len(tasks)} CLS tasks, {instances} instances, {candidates} candidates")
    print(f"per-pair full attention: {instances / pair_seconds:.1f} instances/s, EM {em_pair:.2f} (65 × 100)")
    print(f"shared context:          {instances / shared_seconds:.1f} instances/s, EM {em_shared:.2f} (65 × 100)")
    print(f"speedup {result['speedup']:.2f}×, EM delta {result['em_delta']:+.2f}")


if __name__ == "__main__":
    main()
