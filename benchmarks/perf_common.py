"""Helpers shared by the performance benchmarks (benchmarks/perf_*.py): the results file, the
measured matmul peak, peak RSS of child processes. Each benchmark merges its section into
docs/results/performance.json (atomic write), so they can run separately and in any order."""

from __future__ import annotations

import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

from crosstask.core.io import atomic_write_json, read_json
from crosstask.core.precision import machine_info

RESULTS = Path("docs/results/performance.json")


def machine() -> dict:
    """The machine a section was measured on, with its CPU capability (AVX2 / AVX512, AMX, AVX-512-BF16):
    bf16 figures hold only where `fast_bf16` is true."""
    return {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "python": platform.python_version(), **machine_info()}


def save_section(name: str, section: dict, keys: dict, path: Path = RESULTS) -> dict:
    """Merge `section` under `sections[name]` and the headline `keys` at the top level."""
    data = read_json(path) if path.exists() else {"sections": {}}
    data["sections"][name] = {**section, "command": " ".join([Path(sys.executable).name, *sys.argv]),
                              "time": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine()}
    data.update(keys)
    atomic_write_json(path, data)
    return data


def matmul_peak_flops(dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 10) -> float:
    """Best-of-`repeats` FLOP/s of an n×n @ n×n matmul with this process's thread count."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best


def peak_rss_gib(command: list[str], log: Path) -> float:
    """Run `command` under /usr/bin/time -v (output to `log`); its peak resident set size in GiB."""
    with open(log, "w") as out:
        done = subprocess.run(["/usr/bin/time", "-v", *command], stdout=out, stderr=subprocess.STDOUT, check=False)
    text = log.read_text(errors="replace")
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}); see {log}")
    kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return kib / 2 ** 20
