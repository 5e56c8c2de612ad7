"""Imports point one way: core → data → models → training | evaluation → retrieval → api → experiments →
reporting → cli. Every import of a crosstask module (module level or inside a function) is checked; an
import of a higher layer, an import between the sibling layers training and evaluation, or any import cycle
between modules fails."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "crosstask"
LAYERS = [("core",), ("data",), ("models",), ("training", "evaluation"), ("retrieval",), ("api",),
          ("experiments",), ("recross",), ("reporting",), ("cli",), ("__main__",)]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The crosstask modules `path` imports (`from crosstask.x import y` counts y when it is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("crosstask")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("crosstask"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: imports(path) & set(MODULES) for name, path in MODULES.items()}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the package root (lazy public API, version)


def test_every_module_is_in_a_layer():
    assert not [m for m in MODULES if layer(m) is not None and layer(m) not in RANK]


def test_imports_never_point_up_or_across_siblings():
    bad = []
    for module, targets in GRAPH.items():
        here = layer(module)
        for target in targets:
            there = layer(target)
            if there is None:
                if target != "crosstask" or module != "crosstask":
                    bad.append(f"{module} imports the package root")
                continue
            if here is None or here == there:
                continue
            if RANK[there] > RANK[here] or (RANK[there] == RANK[here]):
                bad.append(f"{module} ({here}) imports {target} ({there})")
    assert not bad, "\n".join(sorted(bad))


def test_no_import_cycles():
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)
