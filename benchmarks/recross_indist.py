"""In-distribution check of a ReCross classifier upstream: rank accuracy on upstream tasks it WAS trained on
(a diagnostic only; the held-out guard of `crosstask recross run` refuses them as targets). Per task: 300
records (seeded shuffle of the task file; templates with ≤ 5 options), the option with the highest P(correct)
beside the template's most frequent first answer in the task file (majority).

--expand-options: options an input lists by index are scored as "index: option text" (`recross run
--expand-options`); on by itself for an upstream trained with `recross upstream --expand-options`.

Usage: .venv/bin/python benchmarks/recross_indist.py [--expand-options] UPSTREAM [TASK ...]
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

from crosstask.core.precision import autocast
from crosstask.data.prompts import PromptEncoder
from crosstask.data.t0 import load_records
from crosstask.evaluation.targets import RANK_CLASSIFIER, evaluate_target
from crosstask.models.kinds import load_inference_settings, load_model, model_dir, trained_on_option_texts

POOL = Path(__file__).resolve().parents[2] / "shared" / "data" / "recross" / "upstream"
TASKS = ["rotten_tomatoes", "amazon_polarity", "social_i_qa", "glue-qqp"]


def main() -> None:
    args = sys.argv[1:]
    expand = "--expand-options" in args
    args = [a for a in args if a != "--expand-options"]
    upstream, tasks = args[0], args[1:] or TASKS
    expand = expand or trained_on_option_texts(upstream)
    model, tokenizer = load_model(upstream, "classifier")
    encoder = PromptEncoder(tokenizer, load_inference_settings(model_dir(upstream)).get("max_length", 192))
    for task in tasks:
        records = load_records(POOL / f"{task}.json")
        options: dict[tuple[str, str], set[str]] = {}
        for record in records:
            options.setdefault((record.dataset, record.template), set()).update(record.outputs)
        majority = {key: Counter(o for r in records if (r.dataset, r.template) == key for o in r.outputs[:1])
                    .most_common(1)[0][0] for key in options}
        random.Random(1).shuffle(records)
        rows = [r for r in records if len(options[r.dataset, r.template]) <= 5][:300]
        with autocast("auto", "cpu"):  # the table's scoring path: T0 prompt, passage cut in the middle, batched
            result = evaluate_target(rows, {k: sorted(v) for k, v in options.items()}, name=task, classifier=model,
                                     classifier_encoder=encoder, expand_options=expand)
        print(json.dumps({"task": task, "accuracy": result.metrics[RANK_CLASSIFIER]["accuracy"], "majority":
                          round(100 * sum(majority[r.dataset, r.template] in r.outputs for r in rows) / len(rows), 2),
                          "n": len(rows)}), flush=True)


if __name__ == "__main__":
    main()
