"""`Classifier` and `Generator`: a saved model with its tokenizer, prompt settings and lengths.

    clf = Classifier.from_pretrained("runs/cls")           # a model directory or a training run (best/, final/)
    clf.score("Is the review positive?", "Great film.", ["yes", "no"])   # P(correct) per candidate
    clf.predict(tasks)                                     # CandidatePrediction per instance of typed tasks
    result = Classifier.from_backbone("default").fit(train_tasks, TrainingArguments("runs/x"), dev_tasks)

The kind is read from the saved files (`load`); `fit` returns a `TrainResult` and keeps the trained model.
Both are Hub-native (huggingface_hub `ModelHubMixin`): `from_pretrained` takes a local directory, a training run
or a hub id (`revision=`), `save_pretrained` writes safetensors, the settings needed to predict
(crosstask_inference.json: prompt, lengths, architecture, label-space mode) and a model card (README.md), and
`push_to_hub(repo_id)` uploads them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from accelerate.utils import extract_model_from_parallel
from huggingface_hub import ModelHubMixin, snapshot_download

from crosstask.core.errors import CrosstaskError
from crosstask.core.provenance import model_revision, provenance
from crosstask.data.prompts import (
    PromptConfig,
    PromptEncoder,
    candidate_segments,
    classifier_context_segments,
    generator_segments,
    render,
)
from crosstask.data.records import Example
from crosstask.data.tasktype import TypedTask
from crosstask.evaluation import classifier as classifier_eval
from crosstask.evaluation import generator as generator_eval
from crosstask.evaluation.classifier import CandidatePrediction
from crosstask.evaluation.metrics import aggregate
from crosstask.models.classifier import ClassifierConfig
from crosstask.models.generator import GeneratorConfig, generator_arch, save_generator, sequence_log_likelihoods
from crosstask.models.kinds import detect_kind, load_inference_settings, load_model, save_inference_settings
from crosstask.models.shared_context import CandidateScorer, ScoringInstance
from crosstask.training.card import card_info
from crosstask.training.classifier import ClassifierTrainingConfig, train_classifier
from crosstask.training.generator import GeneratorTrainingConfig, train_generator
from crosstask.training.pairs import PairConfig
from crosstask.training.trainer import TrainingArguments, TrainResult

TrainingConfig = ClassifierTrainingConfig | GeneratorTrainingConfig


def fit(config: TrainingConfig, train_tasks: Sequence[TypedTask], args: TrainingArguments,
        dev_tasks: Sequence[TypedTask] = (), accelerator=None, model=None, tokenizer=None) -> TrainResult:
    """Train a classifier or generator (chosen by the type of `config`) on `train_tasks`; with `dev_tasks`, the
    best checkpoint by dev EM is exported to `args.output_dir`/best. `model`/`tokenizer`: continue from them."""
    if isinstance(config, ClassifierTrainingConfig):
        dev_eval = classifier_eval.dev_evaluator(dev_tasks, config.prompt) if dev_tasks else None
        return train_classifier(train_tasks, config, args, dev_eval, tokenizer, accelerator, model)
    if isinstance(config, GeneratorTrainingConfig):
        dev_eval = (generator_eval.dev_evaluator(dev_tasks, config.prompt, config.model.max_target_length)
                    if dev_tasks else None)
        return train_generator(train_tasks, config, args, dev_eval, accelerator, model, tokenizer)
    raise CrosstaskError(f"unknown training config {type(config).__name__}")


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_pretrained(name_or_path: str | Path, revision: str | None = None, cache_dir=None,
                       force_download: bool = False, local_files_only: bool = False,
                       token=None) -> tuple[Path, str | None]:
    """(local directory, hub commit hash or None) of a saved model given by local path or hub id."""
    path = Path(str(name_or_path)).expanduser()
    if path.exists():
        return path, model_revision(path)
    if not _HUB_ID.match(str(name_or_path)):
        raise CrosstaskError(f"{name_or_path}: no such model directory (nor a hub id like 'org/name')")
    local = Path(snapshot_download(str(name_or_path), revision=revision, cache_dir=cache_dir, token=token,
                                   force_download=force_download, local_files_only=local_files_only))
    return local, model_revision(local)


class _Model(ModelHubMixin, library_name="crosstask", tags=["crosstask"],
             repo_url="https://github.com/crosstask/crosstask"):
    kind = ""

    def __init__(self, model=None, tokenizer=None, config: TrainingConfig | None = None, settings: dict | None = None):
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.settings = dict(settings or {})  # what crosstask_inference.json and the model card record
        self.revision: str | None = None  # the hub commit hash it was loaded from, when known
        self._hub_mixin_config = None  # the settings live in crosstask_inference.json, never in a stray config.json

    @property
    def prompt(self) -> PromptConfig:
        return self.config.prompt

    @property
    def encoder(self) -> PromptEncoder:
        return PromptEncoder(self._tokenizer(), self.max_length)

    def _tokenizer(self):
        if self.model is None or self.tokenizer is None:
            raise CrosstaskError(f"this {self.kind} has no weights yet: fit it or load one with from_pretrained")
        return self.tokenizer

    def to(self, device) -> _Model:
        self.model.to(device)
        return self

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, *, force_download: bool = False,
                        token=None, cache_dir=None, local_files_only: bool = False, revision: str | None = None,
                        **kwargs) -> _Model:
        """A saved model (a directory, a training run's best/ else final/, or a hub id) with its tokenizer,
        prompt settings and lengths; the kind is read from the saved files."""
        return cls._from_pretrained(model_id=str(pretrained_model_name_or_path), revision=revision,
                                    cache_dir=cache_dir, force_download=force_download,
                                    local_files_only=local_files_only, token=token, **kwargs)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision=None, cache_dir=None, force_download=False,
                         local_files_only=False, token=None, **_ignored) -> _Model:
        path, hub_revision = resolve_pretrained(model_id, revision, cache_dir, force_download, local_files_only, token)
        found, kind = detect_kind(path)
        target = {"classifier": Classifier, "generator": Generator}[kind]
        if cls is not _Model and target is not cls:
            raise CrosstaskError(f"{found} holds a {kind}, not a {cls.kind}")
        model, tokenizer = load_model(found)
        settings = load_inference_settings(found)
        prompt = PromptConfig(**settings["prompt"]) if settings.get("prompt") else PromptConfig()
        loaded = target(model, tokenizer, target._config(model, prompt, settings), settings)
        loaded.revision = hub_revision
        return loaded

    def _card_settings(self) -> dict:
        """kind, architecture and base model of the current weights, over what was loaded or recorded."""
        kept = {k: v for k, v in self.settings.items() if k not in ("prompt", "max_length", "max_new_tokens")}
        return {**kept, "kind": self.kind, **{k: v for k, v in self._architecture().items() if v}}

    def save_pretrained(self, save_directory: str | Path, **kwargs) -> Path:
        """Weights (safetensors), tokenizer, crosstask_inference.json and the model card README.md into
        `save_directory`; `push_to_hub=True, repo_id=...` also uploads them."""
        super().save_pretrained(save_directory, **kwargs)
        return Path(save_directory)

    def fit(self, train_tasks: Sequence[TypedTask], args: TrainingArguments, dev_tasks: Sequence[TypedTask] = (),
            accelerator=None) -> TrainResult:
        """Train on `train_tasks` (the loaded weights, or new ones on the configured backbone); keeps the result."""
        result = fit(self.config, train_tasks, args, dev_tasks, accelerator, self.model, self.tokenizer)
        # without the training's autocast wrapper: the fitted model scores in its own precision, as when reloaded
        self.model = extract_model_from_parallel(result.model, keep_fp32_wrapper=False).eval()
        self.tokenizer = result.tokenizer
        info = card_info(self.kind, {}, self.settings.get("base_model") or self.config.model.model, train_tasks)
        info.pop("architecture")
        info["training"].update(steps=result.steps, best_dev=result.best_dev, command=provenance()["command"])
        self.settings.update(info)
        self.settings.pop("results", None)  # scores of the weights before this training
        return result

    def evaluate(self, tasks: Sequence[TypedTask], **options) -> dict:
        """Overall / per-task / per-category metrics of `predict(tasks)`."""
        return aggregate(p.scored() for p in self.predict(tasks, **options))


class Classifier(_Model):
    """The encoder-classifier: P(correct) of each (prompt, candidate) pair; predicts the best candidate."""

    kind = "classifier"

    @property
    def max_length(self) -> int:
        return self.config.max_length

    @staticmethod
    def _config(model, prompt: PromptConfig, settings: dict) -> ClassifierTrainingConfig:
        return ClassifierTrainingConfig(model.config, prompt=prompt, max_length=settings.get("max_length", 256))

    def _architecture(self) -> dict:
        model = self.config.model
        return {"base_model": self.settings.get("base_model") or str(model.model),
                "architecture": model.architecture()}

    @classmethod
    def from_backbone(cls, backbone: str = "default", *, max_length: int = 256, prompt: PromptConfig | None = None,
                      pairs: PairConfig | None = None, **model_options) -> Classifier:
        """An untrained classifier on a backbone (hub id, local path or "default"); `fit` builds its weights."""
        return cls(config=ClassifierTrainingConfig(ClassifierConfig(backbone, **model_options), pairs or PairConfig(),
                                                   prompt or PromptConfig(), max_length))

    @staticmethod
    def render_pair(definition: str, input: str, candidate: str, positive_examples: Sequence[Example] = (),
                    negative_examples: Sequence[Example] = (), prompt: PromptConfig | None = None) -> str:
        """The text of one (prompt, candidate) pair as the classifier reads it (untruncated)."""
        context = classifier_context_segments(definition, positive_examples, negative_examples, input,
                                              prompt or PromptConfig())
        return render(context + candidate_segments(candidate))

    def score(self, definition: str, input: str, candidates: Sequence[str],
              positive_examples: Sequence[Example] = (), negative_examples: Sequence[Example] = ()) -> list[float]:
        """P(correct) of each candidate as the output for `input` under the task `definition`."""
        context = classifier_context_segments(definition, positive_examples, negative_examples, input, self.prompt)
        self.model.eval()
        # the model's own attention pattern: shared-context scoring only for a model trained that way (as `predict`)
        scorer = CandidateScorer(self.model, self.encoder, shared=bool(self.config.model.shared_context))
        return scorer.score([ScoringInstance(context, list(candidates))])[0]

    def predict(self, tasks: Sequence[TypedTask], batch_size: int = 64, accelerator=None) -> list[CandidatePrediction]:
        """The best label of each instance of typed tasks, with every candidate's score."""
        return classifier_eval.predict_candidates(self.model, tasks, self.encoder, self.prompt, batch_size=batch_size,
                                                  accelerator=accelerator)

    def _save_pretrained(self, save_directory: Path) -> None:
        self.model.save_pretrained(Path(save_directory), self._tokenizer())
        save_inference_settings(save_directory, self.prompt, self.max_length, **self._card_settings())


class Generator(_Model):
    """The text-to-text generator: greedy predictions, or log-likelihoods of given candidates."""

    kind = "generator"

    @property
    def max_length(self) -> int:
        return self.config.model.max_source_length

    @staticmethod
    def _config(model, prompt: PromptConfig, settings: dict) -> GeneratorTrainingConfig:
        name = getattr(model, "name_or_path", "") or "saved"
        lengths = {"max_source_length": settings.get("max_length", 256),
                   "max_target_length": settings.get("max_new_tokens") or 64}
        return GeneratorTrainingConfig(GeneratorConfig(str(name), **lengths), prompt=prompt)

    @classmethod
    def from_backbone(cls, backbone: str = "default", *, max_length: int = 256, max_target_length: int = 64,
                      prompt: PromptConfig | None = None, mix_gen: bool = False, **model_options) -> Generator:
        """An untrained generator on a backbone (encoder-only ones become warm-started encoder-decoders)."""
        model = GeneratorConfig(backbone, max_source_length=max_length, max_target_length=max_target_length,
                                **model_options)
        return cls(config=GeneratorTrainingConfig(model, prompt or PromptConfig(), mix_gen))

    def score(self, definition: str, input: str, candidates: Sequence[str],
              positive_examples: Sequence[Example] = (), negative_examples: Sequence[Example] = ()) -> list[float]:
        """log P(candidate | prompt) of each candidate (the fair generator's label-space ranking); a generator
        trained with `label_options` reads the candidates listed in its prompt."""
        options = tuple(candidates) if self.prompt.label_options else ()
        source = self.encoder.encode(generator_segments(definition, positive_examples, negative_examples, input,
                                                        self.prompt, options))
        return sequence_log_likelihoods(self.model, self._tokenizer(), source, list(candidates),
                                        max_target_length=self.config.model.max_target_length)

    def predict(self, tasks: Sequence[TypedTask], num_beams: int = 1, accelerator=None) -> list[CandidatePrediction]:
        """Generated outputs for every instance of typed tasks (greedy unless `num_beams` > 1)."""
        return generator_eval.predict_generator(self.model, self._tokenizer(), tasks, self.encoder, self.prompt,
                                                num_beams=num_beams, n_best=num_beams, accelerator=accelerator,
                                                max_new_tokens=self.config.model.max_target_length)

    def _architecture(self) -> dict:
        arch = {"arch": generator_arch(self.model), "model_type": self.model.config.model_type} if self.model else {}
        return {"base_model": self.settings.get("base_model") or self.config.model.model,
                "architecture": {**(self.settings.get("architecture") or {}), **arch}}

    def _save_pretrained(self, save_directory: Path) -> None:
        save_generator(self.model, self._tokenizer(), save_directory)
        save_inference_settings(save_directory, self.prompt, self.max_length, self.config.model.max_target_length,
                                **self._card_settings())


def load(path: str | Path) -> Classifier | Generator:
    """The saved classifier or generator in `path`, whichever it holds."""
    return _Model.from_pretrained(path)

