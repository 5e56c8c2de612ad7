"""Which matmul precision fits the machine.

bf16 autocast is fast on CUDA GPUs with bf16 and on CPUs with AMX or AVX-512-BF16; on any other CPU
(AVX2 only, e.g. many AMD EPYC) PyTorch emulates bf16 and a matmul runs ~50× slower than in fp32.
`auto` (the default everywhere) therefore means bf16 where it is native and fp32 otherwise.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

MIXED_PRECISIONS = ("auto", "no", "bf16", "fp16")  # "no" = fp32; the --mixed-precision choices
ENCODER_PRECISIONS = ("auto", "fp32", "bf16")  # the index encoders' choices


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_features() -> dict:
    """What the CPU offers for bf16, as recorded beside every benchmark."""
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    avx512_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    flags = _cpu_flags() if amx is None or avx512_bf16 is None else set()
    has_amx = amx() if amx is not None else "amx_bf16" in flags
    has_avx512_bf16 = avx512_bf16() if avx512_bf16 is not None else "avx512_bf16" in flags
    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "amx": bool(has_amx),
            "avx512_bf16": bool(has_avx512_bf16), "fast_bf16": bool(has_amx or has_avx512_bf16)}


def machine_info() -> dict:
    """The hardware a result was measured on (recorded in provenance and beside every benchmark)."""
    info = {"torch": torch.__version__, "device": "cuda" if torch.cuda.is_available() else "cpu", **cpu_features()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def has_fast_bf16(device_type: str) -> bool:
    """Native bf16 matmuls on this device type ("cpu", "cuda", ...)."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        return cpu_features()["fast_bf16"]
    return False


def resolve_precision(requested: str, device_type: str = "cpu") -> str:
    """`requested` ("auto", "no"/"fp32", "bf16", "fp16") → what to run: "no", "bf16" or "fp16".

    "auto" picks bf16 only where it is native and says which in one log line; an explicit bf16 on
    a CPU without native bf16 is honoured with a warning that it will be slow."""
    if requested not in MIXED_PRECISIONS + ("fp32",):
        raise ValueError(f"precision must be one of {', '.join(MIXED_PRECISIONS)}, got {requested!r}")
    if requested == "fp32":
        return "no"
    fast = has_fast_bf16(device_type)
    if requested == "auto":
        chosen = "bf16" if fast else "no"
        _announce(chosen, device_type)
        return chosen
    if requested == "bf16" and not fast and device_type == "cpu":
        _warn_slow_bf16()
    return requested


def autocast_dtype(requested: str, device_type: str = "cpu") -> torch.dtype | None:
    """The autocast dtype for `requested` on this device, None for fp32."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(resolve_precision(requested, device_type))


def autocast(requested: str, device_type: str = "cpu"):
    """`torch.autocast` for `requested` ("auto", "no", "bf16", ...) on this device type; disabled for fp32."""
    dtype = autocast_dtype(requested, device_type)
    return torch.autocast(device_type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


@functools.cache
def _announce(chosen: str, device_type: str) -> None:
    if device_type == "cpu":
        features = cpu_features()
        why = (f"CPU {features['cpu_capability']}, AMX {'yes' if features['amx'] else 'no'}, "
               f"AVX-512-BF16 {'yes' if features['avx512_bf16'] else 'no'}")
    else:
        why = f"{device_type} bf16 {'supported' if chosen == 'bf16' else 'not supported'}"
    logger.info("precision auto: %s (%s)", "bf16 autocast" if chosen == "bf16" else "fp32", why)


@functools.cache
def _warn_slow_bf16() -> None:
    features = cpu_features()
    logger.warning("bf16 requested on a CPU without native bf16 (%s, no AMX / AVX-512-BF16): matmuls are emulated "
                   "and ~50x slower than fp32; use --mixed-precision auto or no", features["cpu_capability"])
