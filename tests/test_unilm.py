"""The UniLM generator (one shared pretrained BERT, source bidirectional, target causal, output layer
tied to the word embeddings): every Transformer weight is the checkpoint's, it learns and decodes,
cached and uncached decoding agree, no source token sees the target, save / load and the arch flag.

A tiny random BERT (tests/tiny_models.py) stands in for the packaged MiniLM, except where the default
itself is the point.
"""

import json
from pathlib import Path

import pytest
import torch

from crosstask.core.errors import CrosstaskError
from crosstask.models.backbone import resolve_model
from crosstask.models.generator import (
    encode_target,
    generate,
    generator_arch,
    load_generator,
    rank_candidates,
    save_generator,
    seq2seq_collate,
    sequence_log_likelihoods,
)
from crosstask.models.unilm import ARCH_KEY, UnilmForSeq2SeqLM, causal_target_mask

transformers = pytest.importorskip("transformers")
from tiny_models import tiny_bert, tiny_t5  # noqa: E402
from transformers import BertModel, EncoderDecoderModel  # noqa: E402

PAIRS = [("short", "alpha"), ("a somewhat longer source text with more words", "beta gamma"),
         ("medium length source", "delta")]


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> str:
    torch.manual_seed(0)
    return tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


def _batch(tokenizer, pairs, max_length=32):
    features = [{"input_ids": tokenizer(s, truncation=True, max_length=max_length)["input_ids"],
                 "labels": encode_target(tokenizer, t, max_length)} for s, t in pairs]
    return seq2seq_collate(features, tokenizer.pad_token_id)


@pytest.fixture(scope="module")
def overfit(bert_dir):
    """The tiny UniLM trained until it reproduces the targets of PAIRS."""
    model, tokenizer = load_generator(bert_dir)
    batch = _batch(tokenizer, PAIRS)
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(120):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    assert loss.item() < 0.05
    return model, tokenizer


def test_every_transformer_weight_is_pretrained_and_the_output_layer_is_the_embeddings(bert_dir):
    from safetensors.torch import load_file

    model, tokenizer = load_generator(bert_dir)
    assert isinstance(model, UnilmForSeq2SeqLM) and generator_arch(model) == "unilm" and not model.training
    checkpoint = load_file(str(Path(bert_dir) / "model.safetensors"))
    state = model.state_dict()
    new = sorted(k for k in state if k.removeprefix("bert.") not in checkpoint)
    assert new == ["cls.predictions.bias"]  # the only parameter not from the checkpoint
    assert all(torch.equal(state[k], checkpoint[k.removeprefix("bert.")]) for k in state if k not in new)
    assert not model.cls["predictions"].bias.any()
    batch = _batch(tokenizer, PAIRS[:1])
    with torch.no_grad():
        out = model(**batch)
        embeddings = model.bert.embeddings.word_embeddings.weight
        hidden = model.bert(input_ids=model.prepare_decoder_input_ids_from_labels(batch["labels"]),
                            attention_mask=causal_target_mask(batch["attention_mask"], 0, batch["labels"].shape[1]),
                            position_ids=batch["attention_mask"].sum(-1,
                                keepdim=True) + torch.arange(batch["labels"].shape[1]),
                            token_type_ids=torch.ones_like(batch["labels"]),
                            cache=_source_prefix(model, batch)).last_hidden_state
        assert torch.allclose(out.logits, hidden @ embeddings.T, atol=1e-5)
    for config in (model.config, model.generation_config):
        assert (config.decoder_start_token_id, config.eos_token_id, config.pad_token_id) == \
            (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id)


def _source_prefix(model, batch):
    from crosstask.models.unilm import _LayerKV

    encoded = model.get_encoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return _LayerKV(encoded.source_keys, encoded.source_values)


def test_the_default_generator_is_unilm_from_the_packaged_minilm():
    from safetensors.torch import load_file

    model, _ = load_generator("default")
    assert isinstance(model, UnilmForSeq2SeqLM) and model.config.unilm_head == "tied"
    checkpoint = load_file(str(Path(resolve_model("default")) / "model.safetensors"))
    name = "encoder.layer.0.attention.self.query.weight"
    assert torch.equal(model.bert.encoder.layer[0].attention.self.query.weight, checkpoint[name])
    assert torch.equal(model.bert.embeddings.word_embeddings.weight, checkpoint["embeddings.word_embeddings.weight"])


def test_source_encoding_is_the_plain_bidirectional_bert(bert_dir):
    model, tokenizer = load_generator(bert_dir)
    bert = BertModel.from_pretrained(bert_dir).eval()
    batch = tokenizer(["one source", "a longer second source text"], padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = model.get_encoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        plain = bert(**batch).last_hidden_state
    mask = batch["attention_mask"].bool()
    assert torch.allclose(ours.last_hidden_state[mask], plain[mask], atol=1e-5)


def test_the_attention_mask_lets_no_source_token_see_the_target(bert_dir):
    mask = causal_target_mask(torch.tensor([[1, 1, 0]]), past=1, length=2)
    assert mask.shape == (1, 1, 2, 6)  # 3 source columns, 1 past target, 2 new target
    assert mask[0, 0].tolist() == [[True, True, False, True, True, False], [True, True, False, True, True, True]]

    model, tokenizer = load_generator(bert_dir)
    batch = _batch(tokenizer, [("the source stays the same", "one two three four")])
    decoder = model.prepare_decoder_input_ids_from_labels(batch["labels"])
    perturbed = decoder.clone()
    perturbed[0, 3:] = torch.tensor(tokenizer.convert_tokens_to_ids(["cat", "dog"]))[: decoder.shape[1] - 3]
    with torch.no_grad():
        a = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], decoder_input_ids=decoder)
        b = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], decoder_input_ids=perturbed)
    assert torch.equal(a.encoder_last_hidden_state, b.encoder_last_hidden_state)  # source unchanged
    assert torch.allclose(a.logits[:, :3], b.logits[:, :3], atol=1e-6)  # earlier target positions unchanged
    assert not torch.allclose(a.logits[:, 3:], b.logits[:, 3:])


def test_overfit_unilm_decodes_greedily_ranks_and_beams(overfit):
    model, tokenizer = overfit
    sources = [tokenizer(s)["input_ids"] for s, _ in PAIRS]
    assert generate(model, tokenizer, sources, max_new_tokens=8, batch_size=2) == [[t] for _, t in PAIRS]
    best, scores = rank_candidates(model, tokenizer, sources[0], ["delta", "alpha", "beta gamma"])
    assert best == "alpha" and max(scores) == scores[1]
    beams = generate(model, tokenizer, sources, max_new_tokens=8, num_beams=3, num_return_sequences=3)
    assert [len(b) for b in beams] == [3, 3, 3] and [b[0] for b in beams] == [t for _, t in PAIRS]


@pytest.mark.parametrize("num_beams", [1, 3])
def test_cached_and_uncached_decoding_agree(overfit, num_beams):
    model, tokenizer = overfit
    batch = _batch(tokenizer, PAIRS)  # right-padded sources of three lengths
    runs = {}
    with torch.no_grad():
        for use_cache in (True, False):
            runs[use_cache] = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                             max_new_tokens=6, num_beams=num_beams, do_sample=False,
                                             use_cache=use_cache, return_dict_in_generate=True, output_logits=True)
    assert torch.equal(runs[True].sequences, runs[False].sequences)
    for cached, uncached in zip(runs[True].logits, runs[False].logits):
        assert torch.allclose(cached, uncached, atol=1e-4)
    if num_beams == 1:  # and both equal a teacher-forced pass over the generated sequence
        sequences = runs[True].sequences
        with torch.no_grad():
            forced = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           decoder_input_ids=sequences[:, :-1]).logits
        steps = torch.stack(runs[True].logits, dim=1)
        alive = sequences[:, :-1] != tokenizer.pad_token_id
        assert torch.allclose(forced[alive], steps[alive], atol=1e-4)


def test_padding_does_not_change_a_source_output(overfit):
    model, tokenizer = overfit
    batch = _batch(tokenizer, PAIRS)
    single = _batch(tokenizer, PAIRS[:1])
    with torch.no_grad():
        padded = model(**batch).logits[0, : single["labels"].shape[1]]
        alone = model(**single).logits[0]
    assert torch.allclose(padded, alone, atol=1e-4)


def test_log_likelihoods_match_one_by_one_forward_passes(overfit):
    model, tokenizer = overfit
    source = tokenizer("is this a question?")["input_ids"]
    candidates = ["yes", "no, it is not a question at all", "maybe so"]
    naive = []
    with torch.no_grad():
        for candidate in candidates:
            labels = torch.tensor([encode_target(tokenizer, candidate, 64)])
            logp = torch.log_softmax(model(input_ids=torch.tensor([source]), labels=labels).logits, -1)[0]
            naive.append(sum(logp[i, t].item() for i, t in enumerate(labels[0].tolist())))
    assert sequence_log_likelihoods(model, tokenizer, source, candidates) == pytest.approx(naive, rel=1e-5, abs=1e-4)


def test_save_load_round_trip_detects_the_arch(overfit, tmp_path):
    from crosstask.models.classifier import load_encoder
    from crosstask.retrieval.encoders import MeanPoolEncoder

    model, tokenizer = overfit
    save_generator(model, tokenizer, tmp_path / "gen")
    config = json.loads((tmp_path / "gen" / "config.json").read_text())
    assert config[ARCH_KEY] == "unilm" and config["model_type"] == "bert"
    assert (tmp_path / "gen" / "model.safetensors").is_file()
    reloaded, reloaded_tokenizer = load_generator(tmp_path / "gen")
    assert isinstance(reloaded, UnilmForSeq2SeqLM) and generator_arch(reloaded) == "unilm"
    batch = _batch(tokenizer, PAIRS)
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, reloaded(**batch).logits)
    sources = [tokenizer(s)["input_ids"] for s, _ in PAIRS]
    assert generate(reloaded, reloaded_tokenizer, sources, max_new_tokens=8) == [[t] for _, t in PAIRS]
    # the dense retriever of a unilm upstream: its shared BERT over the source, masked mean pooled
    encoder = load_encoder(str(tmp_path / "gen")).eval()
    assert isinstance(encoder, BertModel)
    inputs = tokenizer(["a query about the weather", "another input"], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = model.get_encoder()(**inputs).last_hidden_state
        real = inputs["attention_mask"].bool()  # (padding positions are never pooled)
        assert torch.allclose(encoder(**inputs).last_hidden_state[real], expected[real], atol=1e-5)
    vectors = MeanPoolEncoder(str(tmp_path / "gen")).encode(["a query", "another"])
    assert vectors.shape == (2, model.config.hidden_size)


def test_arch_flag_builds_records_and_refuses(bert_dir, tmp_path):
    b2b, tokenizer = load_generator(bert_dir, arch="bert2bert")
    assert isinstance(b2b, EncoderDecoderModel) and generator_arch(b2b) == "bert2bert"
    save_generator(b2b, tokenizer, tmp_path / "b2b")
    assert json.loads((tmp_path / "b2b" / "config.json").read_text())[ARCH_KEY] == "bert2bert"
    assert isinstance(load_generator(tmp_path / "b2b")[0], EncoderDecoderModel)
    t5 = tiny_t5(tmp_path / "t5")
    assert generator_arch(load_generator(t5)[0]) == "seq2seq"
    with pytest.raises(CrosstaskError, match="seq2seq generator"):
        load_generator(t5, arch="unilm")
    with pytest.raises(CrosstaskError, match="encoder-only"):
        load_generator(bert_dir, arch="seq2seq")
    unilm, _ = load_generator(bert_dir, arch="unilm")
    save_generator(unilm, tokenizer, tmp_path / "unilm")
    with pytest.raises(CrosstaskError, match="unilm generator"):
        load_generator(tmp_path / "unilm", arch="bert2bert")


def test_transform_head_option_adds_only_the_mlm_transform(bert_dir):
    from crosstask.models.backbone import load_tokenizer
    from crosstask.models.unilm import build_unilm

    model = build_unilm(bert_dir, load_tokenizer(bert_dir), head="transform")
    extra = {k for k in model.state_dict() if k.startswith("cls.")}
    assert extra == {"cls.predictions.bias", "cls.predictions.transform.dense.weight",
                     "cls.predictions.transform.dense.bias", "cls.predictions.transform.LayerNorm.weight",
                     "cls.predictions.transform.LayerNorm.bias"}


def test_unilm_trains_and_evaluates_through_the_pipeline(bert_dir, tmp_path):
    from crosstask.data.benchmark import DataConfig
    from crosstask.experiments import superni as pipeline
    from crosstask.models.generator import GeneratorConfig
    from crosstask.training.generator import GeneratorTrainingConfig
    from crosstask.training.trainer import TrainingArguments

    data = DataConfig(demo=True, max_train_instances=4, max_test_instances=2, dev_tasks=1, max_dev_instances=2)
    args = TrainingArguments(str(tmp_path / "run"), batch_size=8, max_steps=3, lr=1e-3, progress=False)
    config = GeneratorTrainingConfig(GeneratorConfig(bert_dir, max_source_length=96, max_target_length=8),
                                     mix_gen=True)
    summary = pipeline.train("generator", data, config, args)
    assert summary["steps"] == 3
    saved = pipeline.model_dir(tmp_path / "run")
    assert json.loads((saved / "config.json").read_text())[ARCH_KEY] == "unilm"
    report = pipeline.evaluate(data, tmp_path / "eval", generator=str(tmp_path / "run"),
                               options=pipeline.EvalOptions(max_length=96, max_new_tokens=4, n_best=2))
    metrics = report["metrics"]
    assert metrics["cls/generator"]["overall"]["n"] == metrics["cls/fair_generator"]["overall"]["n"] \
        == report["n_cls_tasks"] * 2
    assert metrics["gen/generator_beam"]["overall"]["n"] == report["n_gen_tasks"] * 2
    beams = [json.loads(line) for line in (tmp_path / "eval" / "predictions-gen-generator_beam.jsonl").open()]
    assert all(1 <= len(r["candidates"]) <= 2 for r in beams)


def test_unilm_adapts_with_label_smoothing(overfit, tmp_path):
    from crosstask.data.records import T0Record
    from crosstask.training.adapt import AdaptConfig, adapt_generator, heldout_loss, load_model, token_nll

    model, tokenizer = overfit
    save_generator(model, tokenizer, tmp_path / "up")
    records = [T0Record(f"Review {i}: it was {w}. Positive?", ("yes" if i % 2 else "no",), "toy", "train", "t",
                        f"#{i}", "toy") for i, w in enumerate(["good", "bad", "fine", "awful", "great", "poor"])]
    config = AdaptConfig(max_steps=2, max_length=64, lr=1e-3)
    out = adapt_generator(tmp_path / "up", records, config, tmp_path / "adapted")
    adapted, adapted_tokenizer = load_model(out, "generator")
    assert isinstance(adapted, UnilmForSeq2SeqLM)
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), adapted.state_dict().values()))
    loss = heldout_loss(adapted, records, adapted_tokenizer, config)
    assert 0 < loss < float("inf")
    batch = _batch(tokenizer, PAIRS)
    with torch.no_grad():
        logp = torch.log_softmax(adapted(**batch).logits.float(), -1)
        mask = batch["labels"] != -100
        nll = -logp.gather(-1, batch["labels"].clamp(min=0).unsqueeze(-1)).squeeze(-1)[mask].mean()
        uniform = -logp.mean(-1)[mask].mean()
        assert token_nll(adapted, batch, 0.1).item() == pytest.approx((0.9 * nll + 0.1 * uniform).item(), rel=1e-4)


def test_generator_arch_flag_reaches_the_commands():
    from crosstask.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["train", "generator", "--output", "x"]).generator_arch is None  # default: by backbone
    assert parser.parse_args(["train", "generator", "--output", "x", "--generator-arch", "bert2bert"]).generator_arch \
        == "bert2bert"
    assert parser.parse_args(["demo", "--generator-arch", "unilm"]).generator_arch == "unilm"
    assert parser.parse_args(["recross", "upstream", "--kind", "generator", "--output", "x",
                              "--generator-arch", "seq2seq"]).generator_arch == "seq2seq"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "generator", "--output", "x", "--generator-arch", "gpt"])
