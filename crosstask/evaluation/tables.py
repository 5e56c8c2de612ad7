"""Markdown tables from metric dictionaries."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_table(results: dict[str, dict], metric_names: Sequence[str] = ("exact_match", "rougeL"),
                  per_category: bool = True) -> str:
    """One row per system: overall metrics (`± bootstrap standard error` where the report has one), then
    (optionally) EM per category."""
    categories = sorted({c for result in results.values() for c in result["per_category"]}) if per_category else []
    headers = ["system", *(_label(m) for m in metric_names), "n", *(f"EM {c}" for c in categories)]
    rows = []
    for system, result in results.items():
        overall = result["overall"]
        per_category = result["per_category"]
        rows.append([
            system, *(_with_stderr(overall, m) for m in metric_names), overall["n"],
            *(float(per_category[c]["exact_match"]) if c in per_category else "–" for c in categories),
        ])
    return markdown_table(headers, rows)


def _with_stderr(overall: dict, metric: str) -> float | str:
    error = overall.get(f"{metric}_stderr")
    return f"{overall[metric]:.2f} ± {error:.2f}" if isinstance(error, (int, float)) else float(overall[metric])


def _label(metric: str) -> str:
    return {"exact_match": "EM", "rougeL": "ROUGE-L", "rouge1": "ROUGE-1", "soft_exact_match": "SoftEM"}.get(metric,
                                                                                                             metric)


SCOPES = {"cls": "CLS test tasks (EM is the headline metric)",
          "gen": "GEN test tasks (ROUGE-L is the headline metric)",
          "all": "All test tasks: classifier on CLS, generator on GEN (ROUGE-L)"}


def results_markdown(report: dict) -> str:
    """The evaluation report: one table per scope (cls / gen / all), systems as rows."""
    lines = [f"Data: {report['data']['data'] or ('demo benchmark' if report['data']['demo'] else 'default')} "
             f"(hash {report['data_hash']}); label spaces: `{report['label_space_mode']}`; "
             f"{report['n_cls_tasks']} CLS / {report['n_gen_tasks']} GEN test tasks; "
             f"{len(report.get('missing_test_tasks', []))} test tasks missing on disk."]
    for scope, title in SCOPES.items():
        rows = {name.split("/", 1)[1]: m for name, m in report["metrics"].items() if name.startswith(scope + "/")}
        if rows:
            lines += ["", f"### {title}", "", metrics_table(rows, per_category=scope != "all")]
    return "\n".join(lines) + "\n"
