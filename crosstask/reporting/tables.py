"""Markdown tables from metric dictionaries."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_table(results: dict[str, dict], metric_names: Sequence[str] = ("exact_match", "rougeL")) -> str:
    """One row per system: overall metrics, then EM per category."""
    categories = sorted({c for result in results.values() for c in result["per_category"]})
    headers = ["system", *(_label(m) for m in metric_names), "n", *(f"EM {c}" for c in categories)]
    rows = []
    for system, result in results.items():
        overall = result["overall"]
        per_category = result["per_category"]
        rows.append([
            system, *(float(overall[m]) for m in metric_names), overall["n"],
            *(float(per_category[c]["exact_match"]) if c in per_category else "–" for c in categories),
        ])
    return markdown_table(headers, rows)


def _label(metric: str) -> str:
    return {"exact_match": "EM", "rougeL": "ROUGE-L", "rouge1": "ROUGE-1", "soft_exact_match": "SoftEM"}.get(metric, metric)
