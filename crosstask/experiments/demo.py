"""The demo recipe behind `crosstask demo` and `make demo`: the main job on the generated demo benchmark,
offline. Train an encoder-classifier and a generator on its training tasks with the packaged default model,
evaluate both on the unseen test tasks beside the heuristic baselines. A finished run is reused unless `fresh`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from crosstask.core.defaults import DEFAULT_SEED
from crosstask.data.benchmark import DataConfig
from crosstask.data.summary import summarize_superni
from crosstask.experiments import superni as pipeline
from crosstask.experiments.baselines import BaselinesConfig, baselines_report
from crosstask.models.classifier import ClassifierConfig
from crosstask.models.generator import GeneratorConfig
from crosstask.training.classifier import ClassifierTrainingConfig
from crosstask.training.generator import GeneratorTrainingConfig
from crosstask.training.pairs import PairConfig
from crosstask.training.trainer import TrainingArguments

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoConfig:
    output: str = "runs/demo"  # run directory: classifier/, generator/, eval/, em.png
    model: str = "default"  # backbone of both models (the packaged all-MiniLM-L6-v2)
    demo_seed: int = DataConfig.demo_seed  # seed of the generated benchmark
    seed: int = DEFAULT_SEED
    train_instances: int = 60  # per training task
    test_instances: int = 30  # per test task
    fresh: bool = False  # retrain even if a finished run exists
    generator_arch: str | None = GeneratorConfig.arch
    baselines_only: bool = False  # only the data summary and the baselines (seconds)


@dataclass
class DemoResult:
    summary: dict  # crosstask.data.summary.summarize_superni of the demo benchmark
    baselines: dict[str, dict] = field(default_factory=dict)  # "cls" / "gen": baselines_report (baselines_only)
    evaluation: dict | None = None  # the evaluation report (metrics.json)
    eval_dir: Path | None = None


def demo_data(config: DemoConfig) -> DataConfig:
    return DataConfig(demo=True, demo_seed=config.demo_seed, max_train_instances=config.train_instances, dev_tasks=2,
                      max_dev_instances=20, max_test_instances=config.test_instances, seed=config.seed)


def demo_runs(config: DemoConfig) -> dict[str, tuple]:
    """kind -> (training config, TrainingArguments) of the two demo models."""
    out = Path(config.output)
    common = {"batch_size": 16, "warmup_ratio": 0.06, "seed": config.seed, "resume": not config.fresh,
              "overwrite": config.fresh}
    return {
        "classifier": (ClassifierTrainingConfig(ClassifierConfig(config.model), PairConfig(seed=config.seed),
                                                max_length=128),
                       TrainingArguments(str(out / "classifier"), epochs=2, lr=5e-5, head_lr=1e-3, **common)),
        "generator": (GeneratorTrainingConfig(GeneratorConfig(config.model, max_source_length=128,
                                                              max_target_length=16,
                                                              arch=config.generator_arch), mix_gen=True),
                      TrainingArguments(str(out / "generator"), epochs=3, lr=2e-4, **common)),
    }


def run_demo(config: DemoConfig = DemoConfig()) -> DemoResult:
    data = demo_data(config)
    result = DemoResult(summarize_superni(data.resolve_root()))
    if config.baselines_only:
        result.baselines = {tasks: baselines_report(data, BaselinesConfig(split="test", tasks=tasks))
                            for tasks in ("cls", "gen")}
        return result
    out = Path(config.output)
    for kind, (model_config, training) in demo_runs(config).items():
        if (Path(training.output_dir) / "train_summary.json").exists() and not config.fresh:
            logger.info("%s: reusing %s (pass --fresh to retrain)", kind, training.output_dir)
            continue
        logger.info("training the %s on the demo training tasks ...", kind)
        pipeline.train(kind, data, model_config, training)
    # the generator's final export: its dev EM on the 2 held-out demo tasks (whose labels it never saw) is 0
    # at every epoch, so best/ would just be the first, least-trained checkpoint
    result.eval_dir = out / "eval"
    result.evaluation = pipeline.evaluate(data, result.eval_dir, str(out / "classifier"),
                                          str(out / "generator" / "final"),
                                          pipeline.EvalOptions(max_length=128, max_new_tokens=16, n_best=4))
    return result
