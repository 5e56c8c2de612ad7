"""`--mixed-precision auto`: bf16 only where the hardware has it, fp32 elsewhere (detection mocked)."""

import logging

import pytest
import torch

from crosstask.cli import build_parser
from crosstask.core import precision

SLOW_CPU = {"cpu_capability": "AVX2", "amx": False, "avx512_bf16": False, "fast_bf16": False}
AMX_CPU = {"cpu_capability": "AVX512", "amx": True, "avx512_bf16": True, "fast_bf16": True}


@pytest.fixture
def cpu(monkeypatch):
    def use(features):
        monkeypatch.setattr(precision, "cpu_features", lambda: dict(features))
        precision._announce.cache_clear()
        precision._warn_slow_bf16.cache_clear()
    yield use
    precision._announce.cache_clear()
    precision._warn_slow_bf16.cache_clear()


def test_auto_is_fp32_on_a_cpu_without_native_bf16(cpu, caplog):
    cpu(SLOW_CPU)
    with caplog.at_level(logging.INFO, logger="crosstask"):
        assert precision.resolve_precision("auto", "cpu") == "no"
    assert [r.getMessage() for r in caplog.records] == [
        "precision auto: fp32 (CPU AVX2, AMX no, AVX-512-BF16 no)"]
    assert precision.autocast_dtype("auto", "cpu") is None
    assert not precision.autocast("auto", "cpu")._enabled


def test_auto_is_bf16_on_an_amx_cpu(cpu, caplog):
    cpu(AMX_CPU)
    with caplog.at_level(logging.INFO, logger="crosstask"):
        assert precision.resolve_precision("auto", "cpu") == "bf16"
    assert "bf16 autocast" in caplog.records[0].getMessage()
    assert precision.autocast_dtype("auto", "cpu") is torch.bfloat16


def test_explicit_bf16_on_a_slow_cpu_is_honoured_with_a_warning(cpu, caplog):
    cpu(SLOW_CPU)
    with caplog.at_level(logging.INFO, logger="crosstask"):
        assert precision.resolve_precision("bf16", "cpu") == "bf16"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "50x slower" in warnings[0].getMessage()


def test_explicit_choices_pass_through_and_bad_ones_fail(cpu):
    cpu(AMX_CPU)
    assert precision.resolve_precision("no", "cpu") == "no"
    assert precision.resolve_precision("fp32", "cpu") == "no"
    assert precision.resolve_precision("fp16", "cpu") == "fp16"
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve_precision("int8", "cpu")


def test_make_accelerator_auto_follows_the_detection(cpu):
    from crosstask.training.trainer import make_accelerator

    cpu(SLOW_CPU)
    assert make_accelerator("auto").mixed_precision == "no"
    cpu(AMX_CPU)
    assert make_accelerator("auto").mixed_precision == "bf16"
    cpu(SLOW_CPU)
    assert make_accelerator().mixed_precision == "no"  # the default is auto


def test_index_encoder_precision_auto_is_concrete(cpu):
    from crosstask.retrieval.encoders import concrete_encoder_precision

    cpu(SLOW_CPU)
    assert concrete_encoder_precision("auto", "cpu") == "fp32"
    cpu(AMX_CPU)
    assert concrete_encoder_precision("auto", "cpu") == "bf16"
    assert concrete_encoder_precision("fp32", "cpu") == "fp32"


def test_every_precision_flag_defaults_to_auto():
    parser = build_parser()
    train = parser.parse_args(["train", "classifier", "--output", "x"])
    evaluate = parser.parse_args(["evaluate", "--classifier", "x", "--output", "y"])
    upstream = parser.parse_args(["recross", "upstream", "--kind", "classifier", "--output", "x"])
    run = parser.parse_args(["recross", "run", "--upstream", "u", "--output", "o"])
    assert train.mixed_precision == evaluate.mixed_precision == upstream.mixed_precision == "auto"
    assert run.mixed_precision == run.encoder_precision == "auto"


def test_cpu_features_fall_back_to_cpuinfo_flags(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    monkeypatch.setattr(precision, "_cpu_flags", lambda: {"avx2", "fma"})
    assert precision.cpu_features()["fast_bf16"] is False
    monkeypatch.setattr(precision, "_cpu_flags", lambda: {"avx2", "avx512_bf16"})
    assert precision.cpu_features() | {"cpu_capability": None} == {
        "cpu_capability": None, "amx": False, "avx512_bf16": True, "fast_bf16": True}


def test_cli_log_lines_go_to_the_current_stderr():
    """The CLI's log handler follows sys.stderr: a second in-process call with another (or a closed
    first) stream still gets its line, and no 'Logging error' traceback."""
    import contextlib
    import io

    from crosstask.cli import _show_crosstask_log

    first, second = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(first):
        _show_crosstask_log()
        logging.getLogger("crosstask").info("one")
    first.close()
    with contextlib.redirect_stderr(second):
        _show_crosstask_log()
        logging.getLogger("crosstask").info("two")
    assert second.getvalue() == "crosstask: two\n"
