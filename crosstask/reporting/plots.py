"""PNG plots: EM of each setting against baselines and the seed's T5 numbers; training pair counts; a training
run's loss curve."""

from __future__ import annotations

import math
from pathlib import Path

from crosstask.core.io import atomic_write_json, read_json
from crosstask.core.runs import secondary_process

# EM on the 64 unseen CLS tasks of the real SuperNI test split reported by the seed (METHODS.md; label spaces from
# the task files' instances). Drawn as reference lines only over evaluations of that same data (`seed_reference`).
SEED_T5_EM = {
    "T5-small": {"gen w/o GEN": 32.81, "gen w/ GEN": 31.05, "cls w/o GEN": 38.78, "cls w/ GEN": 39.11},
    "T5-base": {"gen w/o GEN": 33.38, "gen w/ GEN": 33.11, "cls w/o GEN": 40.48, "cls w/ GEN": 40.36},
}
SEED_CLS_TASKS = 64
_SYSTEMS = {"cls/classifier": ("classifier", "#4C72B0"),
            "cls/classifier+calibrated": ("classifier, calibrated", "#8172B3"),
            "cls/generator": ("generator", "#DD8452"), "cls/fair_generator": ("fair generator", "#55A868"),
            "cls/fair_generator+calibrated": ("fair generator, calibrated", "#64B5CD")}
_GEN_SYSTEMS = {"gen/generator_beam": ("generator (beam top-1)", "#DD8452"),
                "gen/generator_reranked": ("classifier-reranked {n}-best", "#4C72B0")}
_LEGEND = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0, "fontsize": 8}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def em_bars(evals: dict[str, Path]) -> tuple[list[tuple[str, str, float]], dict[str, float]]:
    """(run, system, EM) bars from evaluation reports, and the baselines of the first report."""
    bars, baselines = [], {}
    for name, path in evals.items():
        metrics = read_json(path)["metrics"]
        for system in _SYSTEMS:
            if system in metrics:
                bars.append((name, system, metrics[system]["overall"]["exact_match"]))
        if not baselines:
            baselines = {k.split(":", 1)[1]: v["overall"]["exact_match"] for k, v in metrics.items()
                         if k.startswith("cls/baseline:") and not k.endswith("copy_input")}
    return bars, baselines


def measured_like_seed(report: dict) -> bool:
    """Whether an evaluation report was measured on the data of the seed's T5 numbers: the real SuperNI test split
    (not the demo benchmark) with all 64 unseen CLS tasks present and label spaces read from instances."""
    data = report.get("data") if isinstance(report.get("data"), dict) else {}
    return (not data.get("demo", False) and report.get("n_cls_tasks") == SEED_CLS_TASKS
            and not report.get("missing_test_tasks") and report.get("label_space_mode") == "instances")


def describe_data(report: dict) -> str:
    data = report.get("data") if isinstance(report.get("data"), dict) else {}
    if data.get("demo"):
        return "synthetic demo benchmark"
    return f"SuperNI data {data['data']}" if data.get("data") else "SuperNI"


def _bar_axes(bars: list[tuple[str, str, float, str, str]], ylabel: str, title: str):
    """Bars (run, system, value, label, color), each labelled "run: system" on the x axis and with its value."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(bars) + 4), 5))
    for i, (name, _, value, label, color) in enumerate(bars):
        ax.bar(i, value, color=color)
        ax.text(i, value + 0.5, f"{value:.1f}", ha="center", fontsize=8)
    ax.set_xticks(range(len(bars)), [f"{name}: {label}" for name, _, _, label, _ in bars], rotation=20, ha="right",
                  fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, max([v for _, _, v, _, _ in bars] + [50]) + 15)
    return fig, ax


def em_figure(evals: dict[str, Path], seed_reference: bool | None = None):
    """EM of each run's CLS systems, bars labelled "run: system"; the heuristic baselines as lines when every run
    was evaluated on the same data; the seed's T5-base lines only over the seed's own data (`seed_reference`
    None: when every report was `measured_like_seed`; True / False: as told). The legend sits outside the axes."""
    reports = {name: read_json(path) for name, path in evals.items()}
    bars, baselines = em_bars(evals)
    data = {describe_data(r) for r in reports.values()}
    fig, ax = _bar_axes([(n, s, v, *_SYSTEMS[s]) for n, s, v in bars], "EM on the unseen CLS test tasks",
                        f"EM on unseen CLS tasks: {', '.join(reports)} ({'; '.join(sorted(data))})")
    if len({r.get("data_hash") for r in reports.values()}) == 1:  # baselines of the first report: same data only
        for style, (name, value) in zip(["--", ":", "-.", (0, (1, 3))], baselines.items()):
            ax.axhline(value, color="gray", linestyle=style, linewidth=1, label=f"baseline {name} {value:.1f}")
    if seed_reference is None:
        seed_reference = bool(reports) and all(measured_like_seed(r) for r in reports.values())
    if seed_reference:
        for setting, color in (("cls w/o GEN", "#C44E52"), ("gen w/o GEN", "#937860")):
            value = SEED_T5_EM["T5-base"][setting]
            ax.axhline(value, color=color, linewidth=1, label=f"seed T5-base {setting} {value} (real SuperNI)")
    _bar_legend(ax, bars, _SYSTEMS)
    return fig


def gen_bars(evals: dict[str, Path]) -> list[tuple[str, str, float, str, str]]:
    """(run, system, ROUGE-L, label, color) of each run's GEN-task systems (beam top-1, reranked N-best)."""
    bars = []
    for name, path in evals.items():
        report = read_json(path)
        n_best = (report.get("options") or {}).get("n_best", "N")
        for system, (label, color) in _GEN_SYSTEMS.items():
            if system in report["metrics"]:
                bars.append((name, system, report["metrics"][system]["overall"]["rougeL"], label.format(n=n_best),
                             color))
    return bars


def gen_figure(evals: dict[str, Path]):
    """ROUGE-L of each run's systems on the GEN test tasks (the generator's beam top-1 and the classifier's
    reranking of its N-best), bars labelled "run: system", legend outside the axes. None without GEN results."""
    bars = gen_bars(evals)
    if not bars:
        return None
    data = {describe_data(read_json(path)) for path in evals.values()}
    fig, ax = _bar_axes(bars, "ROUGE-L on the unseen GEN test tasks",
                        f"ROUGE-L on unseen GEN tasks: {', '.join(evals)} ({'; '.join(sorted(data))})")
    _bar_legend(ax, bars, {s: (label, color) for _, s, _, label, color in bars})
    return fig


def _bar_legend(ax, bars, systems: dict) -> None:
    from matplotlib.patches import Patch

    shown = list(dict.fromkeys(b[1] for b in bars))
    handles = [Patch(color=systems[s][1], label=systems[s][0]) for s in shown]
    handles += [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    ax.legend(handles=handles, **_LEGEND)


def plot_em(evals: dict[str, Path], out: str | Path, seed_reference: bool | None = None) -> Path:
    """em_figure saved as a PNG."""
    return _save(em_figure(evals, seed_reference), out)


def plot_gen(evals: dict[str, Path], out: str | Path) -> Path | None:
    """gen_figure saved as a PNG; None (nothing written) without GEN results."""
    fig = gen_figure(evals)
    return None if fig is None else _save(fig, out)


def plot_pair_counts(trains: dict[str, Path], out: str | Path) -> Path:
    plt = _pyplot()
    names = list(trains)
    counts = [read_json(trains[n]).get("pairs", {}) for n in names]
    fig, ax = plt.subplots(figsize=(max(5, 1.5 * len(names) + 2), 4))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [c.get("positive", 0) for c in counts], width=0.4, label="positive", color="#55A868")
    ax.bar([x + 0.2 for x in xs], [c.get("negative", 0) for c in counts], width=0.4, label="negative", color="#C44E52")
    ax.set_xticks(list(xs), names, rotation=15, ha="right", fontsize=8)
    ax.set_ylabel("classifier training pairs")
    ax.set_title("Positive / negative pairs per setting")
    ax.legend()
    return _save(fig, out)


def loss_history(state: dict) -> tuple[list[tuple[int, float, float | None]], list[tuple[int, dict]]]:
    """(step, loss, lr) points and (step, dev metrics) points of a trainer_state.json log history."""
    points, dev = [], []
    for entry in state.get("log", []):
        if isinstance(entry.get("loss"), (int, float)) and math.isfinite(entry["loss"]):
            points.append((int(entry["step"]), float(entry["loss"]), entry.get("lr")))
        elif isinstance(entry.get("dev"), dict):
            dev.append((int(entry["step"]), entry["dev"]))
    return points, dev


def loss_figure(state: dict, title: str = "training loss"):
    """The figure of a run's training loss (left axis) and learning rate (right axis, dashed) by step; dev
    evaluations are marked on the step axis. `state`: a trainer_state.json mapping."""
    plt = _pyplot()
    points, dev = loss_history(state)
    fig, ax = plt.subplots(figsize=(6.4, 4))
    steps = [p[0] for p in points]
    ax.plot(steps, [p[1] for p in points], color="#4C72B0", marker="." if len(points) < 30 else None,
            label="training loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (mean over the logging interval)")
    lrs = [(s, lr) for s, _, lr in points if isinstance(lr, (int, float))]
    handles = ax.get_lines()[:]
    if lrs:
        right = ax.twinx()
        handles += right.plot([s for s, _ in lrs], [lr for _, lr in lrs], color="gray", linestyle="--",
                              label="learning rate")
        right.set_ylabel("learning rate")
    for i, (step, _) in enumerate(dev):
        line = ax.axvline(step, color="#55A868", linewidth=0.8, linestyle=":",
                          label="dev evaluation" if i == 0 else None)
        if i == 0:
            handles.append(line)
    ax.legend(handles=handles, fontsize=8, loc="upper right")
    ax.set_title(title)
    return fig


def plot_loss(state_path: str | Path, out: str | Path, title: str | None = None) -> Path:
    """loss_figure of a trainer_state.json, saved as a PNG."""
    state_path = Path(state_path)
    return _save(loss_figure(read_json(state_path), title or f"{state_path.parent.name}: training loss"), out)


def loss_curve_report(run_dir: str | Path, name: str = "loss.png") -> Path | None:
    """The loss curve of a finished training run (from its trainer_state.json log history) as `run_dir/loss.png`,
    recorded in its train_summary.json as `loss_curve`. None (nothing written) without a logged loss, and in
    every process but the main one of a multi-process run."""
    run_dir = Path(run_dir)
    state_path = run_dir / "trainer_state.json"
    if secondary_process() or not state_path.is_file() or not loss_history(read_json(state_path))[0]:
        return None
    out = plot_loss(state_path, run_dir / name)
    summary_path = run_dir / "train_summary.json"
    if summary_path.is_file():
        atomic_write_json(summary_path, {**read_json(summary_path), "loss_curve": name})
    return out


def _save(fig, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=120, bbox_inches="tight")  # a legend outside the axes is kept in the picture
    _pyplot().close(fig)
    tmp.replace(out)
    return out
