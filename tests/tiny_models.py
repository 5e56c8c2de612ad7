"""Tiny randomly initialised BERT / T5 / BART checkpoints built in code (no hub), sharing the packaged
MiniLM tokenizer, so tests exercise the real transformers classes in seconds."""

from __future__ import annotations

from pathlib import Path

from crosstask.models.backbone import load_tokenizer


def _save(model, tokenizer, directory: Path) -> str:
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def tiny_bert(directory: Path, dropout: float = 0.0) -> str:
    from transformers import BertConfig, BertModel
    tok = load_tokenizer("default")
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, hidden_dropout_prob=dropout,
                        attention_probs_dropout_prob=dropout)
    return _save(BertModel(config), tok, directory)


def tiny_t5(directory: Path) -> str:
    from transformers import T5Config, T5ForConditionalGeneration
    tok = load_tokenizer("default")
    config = T5Config(vocab_size=len(tok), d_model=32, d_ff=64, num_layers=2, num_heads=2, d_kv=16, dropout_rate=0.0,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id,
                      decoder_start_token_id=tok.cls_token_id)
    return _save(T5ForConditionalGeneration(config), tok, directory)


def tiny_bart(directory: Path) -> str:
    from transformers import BartConfig, BartForConditionalGeneration
    tok = load_tokenizer("default")
    config = BartConfig(vocab_size=len(tok), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=512,
                        dropout=0.0, pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id,
                        eos_token_id=tok.sep_token_id, decoder_start_token_id=tok.cls_token_id,
                        forced_eos_token_id=tok.sep_token_id)
    return _save(BartForConditionalGeneration(config), tok, directory)
