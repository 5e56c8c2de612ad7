"""The generator: loading, target encoding, collation, training, decoding and fair scoring.

Tiny random T5 / BART models are built in code and share the packaged MiniLM BERT tokenizer (no hub);
the warm-started MiniLM bert2bert (`arch="bert2bert"`) is loaded once per module. The default arch for
BERT backbones, unilm, is tested in test_unilm.py.
"""

import math
from pathlib import Path

import pytest
import torch

from crosstask.models.backbone import load_tokenizer, resolve_model
from crosstask.models.generator import (
    GeneratorConfig,
    batch_sequence_log_likelihoods,
    encode_target,
    generate,
    load_generator,
    rank_candidates,
    save_generator,
    seq2seq_collate,
    sequence_log_likelihoods,
)

transformers = pytest.importorskip("transformers")
from transformers import (  # noqa: E402
    BartConfig,
    BartForConditionalGeneration,
    EncoderDecoderModel,
    T5Config,
    T5ForConditionalGeneration,
)

PAIRS = [("short", "alpha"), ("a somewhat longer source text with more words", "beta gamma"),
         ("medium length source", "delta")]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("default")


def _special_ids(tokenizer) -> dict[str, int]:
    return {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.sep_token_id,
            "decoder_start_token_id": tokenizer.cls_token_id}


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory, tokenizer) -> Path:
    directory = tmp_path_factory.mktemp("tiny_t5")
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=64, num_layers=2, num_heads=2, d_kv=16,
                      dropout_rate=0.0, **_special_ids(tokenizer))
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def bart_dir(tmp_path_factory, tokenizer) -> Path:
    directory = tmp_path_factory.mktemp("tiny_bart")
    config = BartConfig(vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                        decoder_ffn_dim=64, max_position_embeddings=128, dropout=0.0,
                        bos_token_id=tokenizer.cls_token_id, forced_eos_token_id=tokenizer.sep_token_id,
                        **_special_ids(tokenizer))
    torch.manual_seed(0)
    BartForConditionalGeneration(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def default_generator():
    return load_generator("default", arch="bert2bert")


def _batch(tokenizer, pairs, max_length=32):
    features = [{"input_ids": tokenizer(s, truncation=True, max_length=max_length)["input_ids"],
                 "labels": encode_target(tokenizer, t, max_length)} for s, t in pairs]
    return seq2seq_collate(features, tokenizer.pad_token_id)


def _train(model, batch, steps: int, lr: float = 1e-2) -> list[float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses


@pytest.fixture(scope="module")
def overfit_t5(t5_dir):
    """The tiny T5 trained until it reproduces the targets of PAIRS."""
    model, tokenizer = load_generator(t5_dir)
    torch.manual_seed(0)
    losses = _train(model, _batch(tokenizer, PAIRS), steps=150)
    assert losses[-1] < 0.05, losses[-10:]
    return model, tokenizer


def test_config_defaults():
    config = GeneratorConfig()
    assert (config.model, config.trust_remote_code, config.max_source_length, config.max_target_length,
            config.arch) == ("default", False, 256, 64, None)


def test_bert2bert_is_warm_started_from_the_default(default_generator, tokenizer):
    from safetensors.torch import load_file

    model, _ = default_generator
    assert isinstance(model, EncoderDecoderModel) and not model.training
    assert model.decoder.config.is_decoder and model.decoder.config.add_cross_attention
    checkpoint = load_file(str(Path(resolve_model("default")) / "model.safetensors"))
    name = "encoder.layer.0.attention.self.query.weight"
    assert torch.equal(model.encoder.encoder.layer[0].attention.self.query.weight, checkpoint[name])
    assert torch.equal(model.decoder.bert.encoder.layer[0].attention.self.query.weight, checkpoint[name])
    for config in (model.config, model.generation_config):
        assert config.decoder_start_token_id == tokenizer.cls_token_id
        assert config.eos_token_id == tokenizer.sep_token_id
        assert config.pad_token_id == tokenizer.pad_token_id


def test_seq2seq_backbones_load_as_themselves(t5_dir, bart_dir):
    assert isinstance(load_generator(t5_dir)[0], T5ForConditionalGeneration)
    assert isinstance(load_generator(bart_dir)[0], BartForConditionalGeneration)


def test_encode_target_bert_drops_cls_and_keeps_sep(tokenizer):
    ids = encode_target(tokenizer, "hello world", 64)
    assert ids == [*tokenizer("hello world", add_special_tokens=False)["input_ids"], tokenizer.sep_token_id]
    short = encode_target(tokenizer, "one two three four five six", 3)
    assert len(short) == 3 and short[-1] == tokenizer.sep_token_id


def test_seq2seq_collate_pads_dynamically():
    batch = seq2seq_collate([{"input_ids": [5, 6, 7], "labels": [8, 2]}, {"input_ids": [9], "labels": [3, 4, 2]}], 0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [9, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[8, 2, -100], [3, 4, 2]]
    assert "labels" not in seq2seq_collate([{"input_ids": [1, 2]}], 0)


def test_a_few_steps_reduce_the_loss(t5_dir):
    model, tokenizer = load_generator(t5_dir)
    pairs = [("the cat sat", "cat"), ("a dog ran", "dog"), ("birds fly high", "bird"), ("fish swim", "fish")]
    torch.manual_seed(0)
    losses = _train(model, _batch(tokenizer, pairs), steps=8)
    assert losses[-1] < losses[0]


def test_overfit_generator_generates_and_ranks_its_target(overfit_t5):
    model, tokenizer = overfit_t5
    source, target = PAIRS[0]
    ids = tokenizer(source)["input_ids"]
    assert generate(model, tokenizer, [ids], max_new_tokens=8) == [[target]]
    best, scores = rank_candidates(model, tokenizer, ids, ["delta", target, "beta gamma"])
    assert best == target and len(scores) == 3 and max(scores) == scores[1]


def test_beam_search_returns_n_per_source_in_input_order(overfit_t5):
    model, tokenizer = overfit_t5
    sources = [tokenizer(s)["input_ids"] for s, _ in PAIRS]
    assert len({len(s) for s in sources}) == 3
    outputs = generate(model, tokenizer, sources, max_new_tokens=8, num_beams=3, num_return_sequences=3,
                       batch_size=2)
    assert [len(o) for o in outputs] == [3, 3, 3]
    assert [o[0] for o in outputs] == [t for _, t in PAIRS]
    assert all(isinstance(text, str) and text == text.strip() for o in outputs for text in o)


def _naive_scores(model, tokenizer, source, candidates):
    scores = []
    with torch.no_grad():
        for candidate in candidates:
            labels = torch.tensor([encode_target(tokenizer, candidate, 64)])
            logits = model(input_ids=torch.tensor([source]), labels=labels).logits
            log_probs = torch.log_softmax(logits, dim=-1)[0]
            scores.append(sum(log_probs[i, label].item() for i, label in enumerate(labels[0].tolist())))
    return scores


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("which", ["t5", "bart", "default"])
def test_log_likelihoods_match_naive_forward_passes(which, t5_dir, bart_dir, default_generator):
    model, tokenizer = {"t5": lambda: load_generator(t5_dir), "bart": lambda: load_generator(bart_dir),
                        "default": lambda: default_generator}[which]()
    source = tokenizer("is this a question?")["input_ids"]
    candidates = ["yes", "no, it is not a question at all", "maybe so"]
    scores = sequence_log_likelihoods(model, tokenizer, source, candidates)
    naive = _naive_scores(model, tokenizer, source, candidates)
    # batched (padded) vs. one-by-one decoding differ only by float32 round-off of differently shaped matmuls
    assert scores == pytest.approx(naive, rel=1e-5, abs=1e-4)
    normalized = sequence_log_likelihoods(model, tokenizer, source, candidates, length_normalize=True)
    lengths = [len(encode_target(tokenizer, c, 64)) for c in candidates]
    assert normalized == pytest.approx([s / n for s, n in zip(scores, lengths)], abs=1e-5)
    assert sequence_log_likelihoods(model, tokenizer, source, []) == []


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("which", ["t5", "bart", "unilm", "bert2bert"])
def test_batched_log_likelihoods_match_one_source_at_a_time(which, t5_dir, bart_dir, default_generator, tmp_path):
    """Sources of different lengths (padded together) with different numbers of candidates, one of them none."""
    from tiny_models import tiny_bert
    loaders = {"t5": lambda: load_generator(t5_dir), "bart": lambda: load_generator(bart_dir),
               "unilm": lambda: load_generator(tiny_bert(tmp_path / "bert")), "bert2bert": lambda: default_generator}
    model, tokenizer = loaders[which]()
    sources = [tokenizer(text)["input_ids"] for text in
               ["is this a question?", "a much longer source, with many more words than the first one has", "ok"]]
    candidates = [["yes", "no, it is not a question at all", "maybe so"], [], ["alpha beta"]]
    batched = batch_sequence_log_likelihoods(model, tokenizer, sources, candidates)
    assert [len(row) for row in batched] == [3, 0, 1]
    for source, options, row in zip(sources, candidates, batched):
        assert row == pytest.approx(sequence_log_likelihoods(model, tokenizer, source, options), rel=1e-5, abs=1e-4)
    with pytest.raises(ValueError, match="2 sources but 3 candidate lists"):
        batch_sequence_log_likelihoods(model, tokenizer, sources[:2], candidates)


def test_fair_generator_batches_without_changing_its_choices(t5_dir):
    from crosstask.data.prompts import PromptConfig, PromptEncoder, source_ids
    from crosstask.data.records import Instance, Task
    from crosstask.data.tasktype import LabelSpaceMode, TaskType, TypedTask
    from crosstask.evaluation.generator import predict_fair
    model, tokenizer = load_generator(t5_dir)
    inputs = ["is it raining", "a far longer input that needs more tokens than the others do", "yes?"]
    label_spaces = [("yes", "no"), ("entailment", "neutral", "contradiction")]
    tasks = [TypedTask(Task(name=f"t{k}", definition="Answer.", categories=("Textual Entailment",),
                            positive_examples=(), negative_examples=(),
                            instances=tuple(Instance(f"t{k}-{j}", x, (labels[0],)) for j, x in enumerate(inputs))),
                       TaskType.CLS, labels, LabelSpaceMode.INSTANCES) for k, labels in enumerate(label_spaces)]
    encoder, prompt = PromptEncoder(tokenizer, 64), PromptConfig()
    one_by_one = predict_fair(model, tokenizer, tasks, encoder, prompt, batch_size=1)
    batched = predict_fair(model, tokenizer, tasks, encoder, prompt, batch_size=4)
    assert [p.id for p in batched] == [f"t{k}-{j}" for k in range(2) for j in range(3)]
    for single, batch, (task, instance) in zip(one_by_one, batched,
                                               [(t, i) for t in tasks for i in t.task.instances]):
        assert batch.candidates == task.labels and batch.prediction == single.prediction
        assert batch.scores == pytest.approx(single.scores, rel=1e-5, abs=1e-4)
        expected = sequence_log_likelihoods(model, tokenizer, source_ids(task, instance.input, encoder, prompt),
                                            list(task.labels))
        assert batch.prediction == task.labels[max(range(len(expected)), key=expected.__getitem__)]


def test_save_and_reload_default_gives_identical_logits(default_generator, tmp_path):
    model, tokenizer = default_generator
    save_generator(model, tokenizer, tmp_path / "gen")
    assert (tmp_path / "gen" / "model.safetensors").is_file()
    reloaded, reloaded_tokenizer = load_generator(tmp_path / "gen")
    assert isinstance(reloaded, EncoderDecoderModel)
    assert reloaded.generation_config.decoder_start_token_id == tokenizer.cls_token_id
    batch = _batch(reloaded_tokenizer, [("some source text", "a target")])
    decoder_input_ids = model.prepare_decoder_input_ids_from_labels(labels=batch["labels"])
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
              "decoder_input_ids": decoder_input_ids}
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, reloaded(**inputs).logits)
    assert not math.isnan(sequence_log_likelihoods(reloaded, reloaded_tokenizer, batch["input_ids"][0].tolist(),
                                                   ["a target"])[0])


def test_dense_encoder_of_a_saved_generator_is_its_encoder(default_generator, bart_dir, tmp_path):
    """The dense retriever of a generator upstream pools the generator's own encoder (bert2bert and BART)."""
    from crosstask.models.classifier import load_encoder

    model, tokenizer = default_generator
    save_generator(model, tokenizer, tmp_path / "gen")
    bart, bart_tokenizer = load_generator(bart_dir)
    for saved, original, tok in ((tmp_path / "gen", model, tokenizer), (bart_dir, bart, bart_tokenizer)):
        encoder = load_encoder(str(saved)).eval()
        batch = tok(["a query about the weather", "another input"], padding=True, return_tensors="pt")
        with torch.no_grad():
            expected = original.get_encoder()(**batch).last_hidden_state
            assert torch.equal(encoder(**batch).last_hidden_state, expected)
