"""Which upstream tasks make up each target's retrieved set (the ReCross paper's Figure 3)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def heatmap_matrix(distribution: Mapping[str, Mapping[str, float]], tasks: Sequence[str] | None = None
                   ) -> tuple[list[str], list[str], np.ndarray]:
    """(targets, upstream tasks, fractions[target, task]); tasks default to every task seen, sorted."""
    targets = list(distribution)
    tasks = list(tasks) if tasks is not None else sorted({t for row in distribution.values() for t in row})
    matrix = np.array([[float(distribution[g].get(t, 0.0)) for t in tasks] for g in targets], dtype=float)
    return targets, tasks, matrix.reshape(len(targets), len(tasks))


def plot_retrieval_heatmap(distribution: Mapping[str, Mapping[str, float]], out_png: str | Path, *,
                           tasks: Sequence[str] | None = None, title: str = "Upstream tasks in the retrieved sets",
                           annotate: bool = True) -> Path:
    """Targets (rows) × upstream tasks (columns), cell = fraction of the target's retrieved records
    from that task; written atomically as a PNG (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets, tasks, matrix = heatmap_matrix(distribution, tasks)
    if not targets or not tasks:
        raise ValueError("nothing to plot: the distribution has no targets or no upstream tasks")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(tasks) + 3), max(3.0, 0.45 * len(targets) + 2)))
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=max(float(matrix.max()), 1e-9), aspect="auto")
    ax.set_xticks(range(len(tasks)), tasks, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(targets)), targets, fontsize=8)
    ax.set_xlabel("upstream task")
    ax.set_ylabel("target task")
    ax.set_title(title)
    if annotate and matrix.size <= 600:
        threshold = matrix.max() / 2
        for (i, j), value in np.ndenumerate(matrix):
            if value >= 0.005:
                ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=6,
                        color="white" if value > threshold else "black")
    fig.colorbar(image, ax=ax, label="fraction of retrieved records")
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp.png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, format="png", bbox_inches="tight")  # the colour bar's label stays in the picture
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
