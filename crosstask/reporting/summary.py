"""Markdown renderings of the data summaries of `crosstask.data.summary`."""

from __future__ import annotations

from crosstask.evaluation.tables import markdown_table


def render_superni(summary: dict) -> str:
    rows = []
    for split, s in summary["splits"].items():
        stats = s["cls_label_space"]
        rows.append([split, s["requested"], s["present"], len(s["missing"]), s["cls"], s["gen"],
                     f"{stats['min']}/{stats['median']}/{stats['max']}"])
    out = [f"SuperNI at {summary['path']} (label space mode: {summary['label_space_mode']}, "
           f"CLS rule: ≤{summary['rule']['max_labels']} labels in a classification category, "
           f"≤{summary['rule']['open_max_labels']} in an open category)", "",
           markdown_table(["split", "in split", "present", "missing", "CLS", "GEN", "CLS labels min/median/max"],
                          rows)]
    for split, s in summary["splits"].items():
        if s["missing"]:
            out += ["", f"{split}: {s['present']} of {s['requested']} tasks present; {len(s['missing'])} missing: "
                    + ", ".join(s["missing"])]
    test = summary["splits"]["test"]
    out += ["", "CLS test tasks by category: " + ", ".join(f"{c} {n}" for c, n in test["cls_by_category"].items())]
    return "\n".join(out)


def render_recross(summary: dict) -> str:
    up = summary["upstream"]
    out = [f"ReCross data at {summary['path']}", "",
           f"Upstream pool (T0 list of split.json, files present): {up['tasks']} tasks, {up['records']:,} records; "
           f"{len(up['missing'])} listed but absent: {', '.join(up['missing'])}", "",
           markdown_table(["upstream task", "records"], sorted(up["records_per_task"].items())), "",
           f"{len(summary['targets'])} targets (label-space sizes per template, from the query pool's outputs):", ""]
    rows = []
    for name, target in summary["targets"].items():
        sizes = ", ".join(f"{tpl}: {n}" for tpl, n in target["label_space_sizes"].items())
        rows.append([name, target["test"], target["query"], sizes])
    out.append(markdown_table(["target", "test", "query pool", "label-space size per template"], rows))
    return "\n".join(out)
