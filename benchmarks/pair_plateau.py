"""Can the encoder-classifier learn a balanced binary task? Fine-tunes the packaged all-MiniLM-L6-v2 as a pair
classifier on TRAIN rotten_tomatoes T0 records (one negative option per positive) and prints the training loss
(first / mean of the last 5 logged) and rank accuracy on 100 training and 100 held-out records.

Usage: .venv/bin/python benchmarks/pair_plateau.py POOLING LR EPOCHS [--train 800] [--head-lr 1e-3] [--siamese]
(e.g. `mean 5e-5 3`: the ReCross round-2 diagnostic in docs/results/recross_r2.md; `--siamese`: the siamese
classifier architecture, the fix it proposes)
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

import crosstask
from crosstask.data.t0 import load_records
from crosstask.data.t0_tasks import t0_typed_tasks

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "recross" / "upstream" / "rotten_tomatoes.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pooling", choices=["mean", "first"])
    parser.add_argument("lr", type=float)
    parser.add_argument("epochs", type=int)
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--siamese", action="store_true")
    args = parser.parse_args()
    records = load_records(args.data)
    random.Random(0).shuffle(records)
    train, test = records[:args.train], records[4000:4100]
    options: dict[str, set[str]] = {}
    for record in records[:3000]:
        options.setdefault(record.template, set()).update(record.outputs)

    def accuracy(model, rows) -> float:
        right = 0
        for r in rows:
            labels = sorted(options[r.template])
            scores = model.score("", r.input, labels)
            right += labels[max(range(len(labels)), key=scores.__getitem__)] in r.outputs
        return right / len(rows)

    classifier = crosstask.Classifier.from_backbone("default", max_length=128, pooling=args.pooling,
                                                       siamese=args.siamese)
    with tempfile.TemporaryDirectory() as out:
        result = classifier.fit(t0_typed_tasks(train), crosstask.TrainingArguments(
            out, epochs=args.epochs, batch_size=16, lr=args.lr, head_lr=args.head_lr, warmup_ratio=0.06,
            progress=False, overwrite=True))
        losses = [x["loss"] for x in json.loads((Path(out) / "trainer_state.json").read_text())["log"]]
    print(json.dumps({"siamese": args.siamese, "pooling": args.pooling, "lr": args.lr, "head_lr": args.head_lr,
                      "epochs": args.epochs,
                      "steps": result.steps, "loss_first": round(losses[0], 3),
                      "loss_last5": round(sum(losses[-5:]) / 5, 3),
                      "train_accuracy": accuracy(classifier, train[:100]),
                      "test_accuracy": accuracy(classifier, test)}))


if __name__ == "__main__":
    main()
