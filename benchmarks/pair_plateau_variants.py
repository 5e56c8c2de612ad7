"""The two controls of docs/results/recross_r2.md beside benchmarks/pair_plateau.py, on the same rotten_tomatoes
split (800 train records, 100 held-out):

  listwise POOLING LR EPOCHS  the pair classifier trained with a softmax over each instance's options
                              (8 instances per step) instead of per-pair binary cross-entropy
  probe                       frozen all-MiniLM-L6-v2 mean-pooled input embeddings + logistic regression
                              (SetFit's recipe): is the information in the backbone?
  interaction LR EPOCHS       the fix proposed there: input and candidate pooled SEPARATELY by the (trained)
                              encoder, a linear head on [u, v, u*v, |u-v|] (SBERT's classification objective),
                              per-pair binary cross-entropy as the pair classifier
"""

from __future__ import annotations

import random
import sys

import numpy as np
import torch
import torch.nn.functional as F
from pair_plateau import DATA

from crosstask.data.prompts import PromptConfig, PromptEncoder, pair_segments
from crosstask.data.t0 import load_records
from crosstask.data.t0_tasks import t0_typed_tasks
from crosstask.models.backbone import load_tokenizer
from crosstask.models.classifier import ClassifierConfig, EncoderClassifier, load_encoder

POSITIVE = {"positive", "good", "great"}


def split():
    records = load_records(DATA)
    random.Random(0).shuffle(records)
    return records, records[:800], records[4000:4100]


def train_steps(module: torch.nn.Module, optimizer, train: list, epochs: int, loss_of, clip: float | None = None
                ) -> list[float]:
    """Epochs of 8-record steps over `train` (reshuffled per epoch, seeded); the loss of each step."""
    losses = []
    for epoch in range(epochs):
        random.Random(epoch).shuffle(train)
        module.train()
        for start in range(0, len(train), 8):
            loss = loss_of(train[start:start + 8])
            optimizer.zero_grad()
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
            optimizer.step()
            losses.append(loss.item())
    module.eval()
    return losses


def listwise(pooling: str, lr: float, epochs: int) -> None:
    torch.manual_seed(0)
    records, train, test = split()
    tasks = {t.name: t for t in t0_typed_tasks(records[:3000])}
    tokenizer, prompt = load_tokenizer("default"), PromptConfig()
    encoder = PromptEncoder(tokenizer, 128)
    model = EncoderClassifier(load_encoder("default"), ClassifierConfig("default", pooling=pooling))
    optimizer = torch.optim.AdamW(model.parameter_groups(lr, 1e-3))

    def scores(rows):
        features, gold = [], []
        for r in rows:
            task = tasks[f"{r.task}|{r.template}"]
            gold.append(next(i for i, c in enumerate(task.labels) if c.lower() in {o.lower() for o in r.outputs}))
            features += [encoder.encode(pair_segments(task, r.input, c, prompt)) for c in task.labels]
        width = max(len(f) for f in features)
        ids = torch.tensor([f + [tokenizer.pad_token_id] * (width - len(f)) for f in features])
        logits = model(ids, (ids != tokenizer.pad_token_id).long())
        return (logits[:, 1] - logits[:, 0]).view(len(rows), -1), torch.tensor(gold)

    losses = train_steps(model, optimizer, train, epochs, lambda rows: F.cross_entropy(*scores(rows)), clip=1.0)
    with torch.no_grad():
        accuracy = {name: (lambda s, g: (s.argmax(1) == g).float().mean().item())(*scores(rows))
                    for name, rows in (("train", train[:100]), ("test", test))}
    print({"loss_first10": round(sum(losses[:10]) / 10, 3), "loss_last10": round(sum(losses[-10:]) / 10, 3),
           **accuracy})


def probe() -> None:
    _, train, test = split()
    tokenizer, encoder = load_tokenizer("default"), load_encoder("default").eval()

    def embed(texts):
        out = []
        with torch.no_grad():
            for start in range(0, len(texts), 64):
                batch = tokenizer(texts[start:start + 64], padding=True, truncation=True, max_length=128,
                                  return_tensors="pt")
                hidden, mask = encoder(**batch).last_hidden_state, batch["attention_mask"].unsqueeze(-1).float()
                out.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
        return torch.tensor(np.concatenate(out))

    def labels(rows):
        return torch.tensor([float(any(o.lower() in POSITIVE for o in r.outputs)) for r in rows])

    x_train, y_train = embed([r.input for r in train]), labels(train)
    weight, bias = torch.zeros(x_train.shape[1], requires_grad=True), torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=200)

    def closure():
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x_train @ weight + bias, y_train) + 1e-3 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    y_test = labels(test)
    predicted = ((embed([r.input for r in test]) @ weight + bias) > 0).float()
    print({"test_accuracy": (predicted == y_test).float().mean().item(), "positive_share": y_test.mean().item()})


def interaction(lr: float, epochs: int) -> None:
    torch.manual_seed(0)
    records, train, test = split()
    options: dict[str, list[str]] = {}
    for r in records[:3000]:
        options.setdefault(r.template, [])
        options[r.template] += [o for o in r.outputs if o not in options[r.template]]
    tokenizer, encoder = load_tokenizer("default"), load_encoder("default")
    head = torch.nn.Linear(4 * encoder.config.hidden_size, 1)
    optimizer = torch.optim.AdamW([{"params": encoder.parameters(), "lr": lr},
                                   {"params": head.parameters(), "lr": 1e-3}])

    def pooled(texts):
        batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        hidden, mask = encoder(**batch).last_hidden_state, batch["attention_mask"].unsqueeze(-1).float()
        return (hidden * mask).sum(1) / mask.sum(1)

    def logits(rows):
        pairs = [(r.input, c, float(c in r.outputs)) for r in rows for c in options[r.template]]
        u, v = pooled([p[0] for p in pairs]), pooled([p[1] for p in pairs])
        return head(torch.cat([u, v, u * v, (u - v).abs()], -1)).squeeze(-1), torch.tensor([p[2] for p in pairs])

    losses = train_steps(encoder, optimizer, train, epochs,
                         lambda rows: F.binary_cross_entropy_with_logits(*logits(rows)))

    def accuracy(rows) -> float:
        with torch.no_grad():
            right = 0
            for r in rows:
                scores, _ = logits([r])
                right += options[r.template][int(scores.argmax())] in r.outputs
        return right / len(rows)

    print({"loss_first10": round(sum(losses[:10]) / 10, 3), "loss_last10": round(sum(losses[-10:]) / 10, 3),
           "train": accuracy(train[:100]), "test": accuracy(test)})


if __name__ == "__main__":
    if sys.argv[1:2] == ["probe"]:
        probe()
    elif sys.argv[1:2] == ["interaction"]:
        interaction(float(sys.argv[2]), int(sys.argv[3]))
    else:
        listwise(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
