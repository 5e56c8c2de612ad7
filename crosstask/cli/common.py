"""Flag groups several commands share; each default comes from the dataclass field the flag sets."""

from __future__ import annotations

import argparse

from crosstask.cli.options import option
from crosstask.core.precision import MIXED_PRECISIONS
from crosstask.data.benchmark import DataConfig
from crosstask.data.prompts import PromptConfig
from crosstask.models.generator import GENERATOR_ARCHS

PRECISION_HELP = ('"auto": bf16 autocast where bf16 is native (CUDA with bf16, CPUs with AMX / AVX-512-BF16), fp32 '
                  'otherwise; "no": fp32; an explicit bf16 on a CPU without it warns (~50x slower)')
ARCH_HELP = ("generator architecture (default: unilm for BERT backbones such as the packaged MiniLM — one shared "
             "pretrained Transformer; seq2seq for T5 / BART ids)")
LABEL_MODES = ["instances", "examples"]


def non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {number}")
    return number


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {number}")
    return number


def add_data_args(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    option(source, "--data", sets=(DataConfig, "data"),
           help="data: a SuperNI or ReCross folder, a root holding superni/, a JSONL / parquet file or a hub id "
                "(default: $CROSSTASK_DATA, else ../shared/data beside the repo)")
    option(source, "--demo", sets=(DataConfig, "demo"), help="use the packaged demo benchmark (generated offline)")
    option(parser, "--demo-seed", sets=(DataConfig, "demo_seed"), help="seed of the demo benchmark")


def add_prompt_args(parser: argparse.ArgumentParser, from_model: bool = False) -> None:
    """Prompt encoding (`from_model`: evaluate, where the saved model's own settings are the default) and the
    test-task selection."""
    option(parser, "--num-pos", type=non_negative, sets=(PromptConfig, "num_positive"), from_model=from_model,
           help="positive demonstrations in the prompt")
    option(parser, "--num-neg", type=non_negative, sets=(PromptConfig, "num_negative"), from_model=from_model,
           help="negative demonstrations in the prompt")
    if from_model:
        option(parser, "--explanations", action=argparse.BooleanOptionalAction, from_model=True,
               help="include demonstration explanations")
    else:
        option(parser, "--explanations", sets=(PromptConfig, "explanations"),
               help="include demonstration explanations")
    options_help = ("generator: list a CLS task's label space in its prompt ('Options: a, b, c'), the candidates "
                    "the classifier scores")
    if from_model:
        option(parser, "--label-options", action=argparse.BooleanOptionalAction, from_model=True, help=options_help)
    else:
        option(parser, "--label-options", sets=(PromptConfig, "label_options"), help=options_help)
    option(parser, "--label-mode", choices=LABEL_MODES, sets=(DataConfig, "label_mode"),
           help="test-task label spaces: all instances (seed; leaks test labels) or examples only")
    option(parser, "--max-test-instances", type=non_negative, sets=(DataConfig, "max_test_instances"),
           help="instances per test task: the first N")
    option(parser, "--all-languages", sets=(DataConfig, "english_only", True), help="keep non-English tasks")
    add_holdout_arg(parser)


def category_list(value: str) -> tuple[str, ...]:
    categories = tuple(dict.fromkeys(c.strip() for c in value.split(",") if c.strip()))
    if not categories:
        raise argparse.ArgumentTypeError("expected comma-separated SuperNI categories, e.g. 'Sentiment Analysis,"
                                         "Text Matching'")
    return categories


def add_holdout_arg(parser: argparse.ArgumentParser) -> None:
    option(parser, "--holdout-categories", type=category_list, sets=(DataConfig, "holdout_categories"),
           help="leave-categories-out: comma-separated training-task categories (e.g. 'Sentiment Analysis,Text "
                "Matching') whose tasks are never trained on and replace the test tasks (pass the same list to "
                "train, evaluate and baselines)")


def add_precision_arg(parser: argparse.ArgumentParser, *sets, help: str = PRECISION_HELP) -> None:
    option(parser, "--mixed-precision", choices=MIXED_PRECISIONS, sets=list(sets), help=help)


def add_report_to_arg(parser: argparse.ArgumentParser, *sets) -> None:
    option(parser, "--report-to", choices=["none", "tensorboard", "wandb"], sets=list(sets),
           help="track loss and learning rate every step: tensorboard (OUTPUT/tensorboard/) or wandb")


def add_generator_arch_arg(parser: argparse.ArgumentParser, *sets) -> None:
    option(parser, "--generator-arch", choices=list(GENERATOR_ARCHS), sets=list(sets), help=ARCH_HELP)


def prompt_overrides(args: argparse.Namespace) -> dict:
    """The prompt flags given on the command line (evaluate: each replaces the saved model's own setting)."""
    values = {"num_positive": args.num_pos, "num_negative": args.num_neg, "explanations": args.explanations,
              "label_options": args.label_options}
    return {k: v for k, v in values.items() if v is not None}
