"""Classifier training throughput (tokens/s) and MFU against the fp32 matmul peak measured in the
same run. The default recipe of benchmarks/superni.sh (MiniLM, max length 160, batch 16, bf16
autocast, 2 sampled negatives), run through the real `Trainer` for --steps optimizer steps.

FLOPs per trained token: 6 × (matmul parameters: encoder linears + head) + 12 × layers × hidden × T
(attention scores and values, forward + backward), T = the batch's padded length. MFU counts padded
tokens (the work done) and also reports real-token throughput.

Usage: .venv/bin/python benchmarks/perf_train.py [--data ../shared/data/superni] [--steps 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from perf_common import matmul_peak_flops, save_section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/superni")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=160)
    parser.add_argument("--mixed-precision", default="auto", choices=["auto", "no", "bf16"])
    args = parser.parse_args()

    from crosstask.data.benchmark import DataConfig, load_superni_data
    from crosstask.data.prompts import PromptConfig, PromptEncoder
    from crosstask.models.backbone import load_tokenizer
    from crosstask.models.classifier import ClassifierConfig, EncoderClassifier
    from crosstask.training.classifier import classifier_loss, encode_pairs, pad_collate
    from crosstask.training.pairs import PairConfig, build_pairs
    from crosstask.training.trainer import Trainer, TrainingArguments

    data = load_superni_data(DataConfig(data=args.data, max_train_instances=6, max_train_labels=10, dev_tasks=0))
    tokenizer = load_tokenizer("default")
    model = EncoderClassifier.from_backbone(ClassifierConfig("default"))
    features = encode_pairs(build_pairs(data.train, PairConfig(negatives=2)), data.train,
                            PromptEncoder(tokenizer, args.max_length), PromptConfig())
    cfg = model.encoder.config
    matmul_params = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    seen = []  # (padded tokens, real tokens, padded length) per batch, in order

    def counting_collate(batch):
        out = pad_collate(batch, tokenizer.pad_token_id)
        seen.append((out["input_ids"].numel(), int(out["attention_mask"].sum()), out["input_ids"].shape[1]))
        return out

    stamps = []

    def loss_fn(m, batch):
        stamps.append(time.perf_counter())
        return classifier_loss(m, batch)

    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(output_dir=out, batch_size=args.batch_size, lr=5e-5, max_steps=args.steps,
                                  mixed_precision=args.mixed_precision, progress=False, save_every=10 ** 9,
                                  keep_checkpoints=1)
        trainer = Trainer(model, features, counting_collate, loss_fn, targs, lambda m, d: None,
                          model.parameter_groups(5e-5, 1e-3, 0.0))
        trainer.train()
    # steps warmup .. last-1: from the loss call of step `warmup` to the loss call of the last step
    # (checkpoint saving after the last step is left out)
    w, last = args.warmup_steps, len(stamps) - 1
    window = seen[w:last]
    seconds = stamps[last] - stamps[w]
    padded = sum(p for p, _, _ in window)
    real = sum(r for _, r, _ in window)
    flops = sum(p * (6 * matmul_params + 12 * cfg.num_hidden_layers * cfg.hidden_size * t) for p, _, t in window)
    achieved = flops / seconds
    fp32_peak = matmul_peak_flops(torch.float32)
    bf16_peak = matmul_peak_flops(torch.bfloat16)
    result = {"steps_timed": len(window), "seconds": seconds, "tokens_per_s": padded / seconds,
              "real_tokens_per_s": real / seconds, "padding_fraction": 1 - real / padded,
              "achieved_tflops": achieved / 1e12, "fp32_matmul_peak_tflops": fp32_peak / 1e12,
              "bf16_matmul_peak_tflops": bf16_peak / 1e12, "mfu_vs_fp32_peak": achieved / fp32_peak,
              "mfu_vs_bf16_peak": achieved / bf16_peak, "matmul_params": matmul_params,
              "batch_size": args.batch_size, "max_length": args.max_length, "mixed_precision": args.mixed_precision}
    save_section("train", result, {"train_mfu": result["mfu_vs_fp32_peak"],
                                   "train_tokens_per_s": result["tokens_per_s"]})
    print(f"training: {result['tokens_per_s']:.0f} tokens/s ({result['real_tokens_per_s']:.0f} real), "
          f"{result['achieved_tflops']:.3f} TFLOP/s; fp32 matmul peak {result['fp32_matmul_peak_tflops']:.3f}, "
          f"bf16 {result['bf16_matmul_peak_tflops']:.3f} TFLOP/s")
    print(f"MFU vs fp32 peak: {result['mfu_vs_fp32_peak']:.1%} (vs bf16 peak {result['mfu_vs_bf16_peak']:.1%})")


if __name__ == "__main__":
    main()
