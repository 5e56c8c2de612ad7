"""The fair generator (rank classification by sequence log-likelihood) on ReCross target test records:
one source per decoder pass (the pre-batching path, batch_size=1) vs sources batched by length
(batch_size=16), timed in one run on the same records, with the agreement of their choices.

Usage: .venv/bin/python benchmarks/perf_fair.py [--upstream runs/bench/recross_r2_generator/upstream]
       [--targets anli_r3,hellaswag,super_glue-cb] [--per-target 100]
"""

from __future__ import annotations

import argparse
import time

from perf_common import save_section

from crosstask.core.precision import autocast, resolve_precision

PRECISION = "auto"  # bf16 autocast where the CPU has it natively (AMX / AVX-512-BF16), else fp32


def timed(model, tokenizer, tasks, encoder, prompt, batch_size: int) -> tuple[float, list]:
    from crosstask.evaluation.generator import predict_fair

    with autocast(PRECISION, "cpu"):
        predict_fair(model, tokenizer, tasks[:1], encoder, prompt, batch_size=batch_size)  # warm-up
        start = time.perf_counter()
        predictions = predict_fair(model, tokenizer, tasks, encoder, prompt, batch_size=batch_size)
    return time.perf_counter() - start, predictions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/recross")
    parser.add_argument("--upstream", default="default", help="a saved generator (default: the packaged UniLM)")
    parser.add_argument("--targets", default="anli_r3,hellaswag,super_glue-cb")
    parser.add_argument("--per-target", type=int, default=100, help="test records per target")
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    from crosstask.data.prompts import T0_PROMPT, PromptEncoder
    from crosstask.data.t0 import load_target
    from crosstask.data.t0_tasks import option_sets
    from crosstask.evaluation.targets import unlabeled_tasks
    from crosstask.models.generator import load_generator

    model, tokenizer = load_generator(args.upstream)
    model.eval()
    encoder = PromptEncoder(tokenizer, args.max_length)
    tasks = []
    for name in args.targets.split(","):
        target = load_target(args.data, name)
        tasks += [t for t in unlabeled_tasks(target.test[:args.per_target], option_sets(target.query))[0] if t.labels]
    records = sum(len(t.task.instances) for t in tasks)
    options = sum(len(t.labels) * len(t.task.instances) for t in tasks)
    one_seconds, one_preds = timed(model, tokenizer, tasks, encoder, T0_PROMPT, 1)
    batched_seconds, batched_preds = timed(model, tokenizer, tasks, encoder, T0_PROMPT, args.batch_size)
    agree = sum(a.prediction == b.prediction for a, b in zip(one_preds, batched_preds)) / len(one_preds)
    worst = max(abs(x - y) for a, b in zip(one_preds, batched_preds) for x, y in zip(a.scores, b.scores))
    result = {"targets": args.targets, "records": records, "options": options, "upstream": args.upstream,
              "one_source": {"seconds": one_seconds, "records_per_s": records / one_seconds},
              "batched": {"seconds": batched_seconds, "records_per_s": records / batched_seconds,
                          "batch_size": args.batch_size},
              "speedup": one_seconds / batched_seconds, "prediction_agreement": agree,
              "max_abs_score_difference": worst, "max_length": args.max_length,
              "precision": resolve_precision(PRECISION, "cpu")}
    save_section("fair_generator", result, {"fair_generator_speedup": result["speedup"]})
    print(f"{records} records, {options} (record, option) pairs, precision {result['precision']}")
    print(f"one source per pass: {records / one_seconds:.1f} records/s")
    print(f"batched ({args.batch_size}):        {records / batched_seconds:.1f} records/s")
    print(f"speedup {result['speedup']:.2f}×, same choice on {100 * agree:.1f} %, "
          f"largest score difference {worst:.4f}")


if __name__ == "__main__":
    main()
