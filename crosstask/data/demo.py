"""A seeded, procedurally generated demo benchmark in the on-disk format of Super-NaturalInstructions.

It lets the toolkit run end to end offline. Every task follows a simple, consistent rule stated in
its Definition (see demo_tasks.py), so a small model can learn it; the test tasks are related but
unseen variants of the training tasks, which makes cross-task generalisation meaningful.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

from crosstask.data import demo_tasks
from crosstask.data.demo_tasks import DEMO_TASKS, GENERATOR_VERSION, DemoTaskSpec
from crosstask.data.tasktype import TEST_CLS_CATEGORIES, TEST_GEN_CATEGORIES

__all__ = ["DEMO_TASKS", "GENERATOR_VERSION", "DemoTaskSpec", "TEST_CLS_CATEGORIES", "TEST_GEN_CATEGORIES",
           "default_demo_root", "ensure_demo_benchmark", "generate_task", "write_demo_benchmark"]


# ---------------------------------------------------------------- generation and writing
def _norm(text: str) -> str:
    return text.strip().rstrip(".").lower()


def _draw(spec: DemoTaskSpec, rng: random.Random, avoid: set[str], seen: set[str]) -> tuple[str, list[str]]:
    """An instance whose input is never in `avoid` and, when the input space allows, not in `seen`."""
    fallback = None
    for _ in range(50):
        inp, outs = spec.make(rng)
        if inp in avoid:
            continue
        if inp not in seen:
            return inp, outs
        fallback = fallback or (inp, outs)
    if fallback is None:
        raise RuntimeError(f"{spec.name}: could not draw an input distinct from the examples")
    return fallback


def _wrong(spec: DemoTaskSpec, rng: random.Random, inp: str, outs: list[str], k: int) -> tuple[str, str]:
    """A wrong output for a negative example, with the reason it is wrong."""
    if spec.labels:
        wrong = rng.choice([l for l in spec.labels if _norm(l) not in {_norm(o) for o in outs}])
        return wrong, f"The label '{wrong}' is wrong: by the rule in the definition the answer is '{outs[0]}'."
    gold = outs[0]
    candidates = [(inp, "it copies the input instead of applying the rule"),
                  (gold[: max(1, len(gold) // 2)], "it is truncated"),
                  (gold[::-1], "its characters are in the wrong order"),
                  (f"{gold} {gold}", "it repeats the answer")]
    options = [c for c in candidates if c[0] not in outs]
    wrong, why = options[k % len(options)]
    return wrong, f"This output is wrong because {why}; the correct output is '{gold}'."


def generate_task(spec: DemoTaskSpec, seed: int, instances_per_task: int = 60) -> dict:
    """Build the SuperNI task JSON dict for `spec`; deterministic per `(spec.name, seed)`."""
    rng = random.Random(f"{seed}:{spec.name}")
    used: set[str] = set()
    positive, negative = [], []
    for _ in range(3):
        inp, outs = _draw(spec, rng, used, used)
        used.add(inp)
        positive.append({"input": inp, "output": outs[0],
                         "explanation": f"Applying the rule from the definition to this input gives '{outs[0]}'."})
    for k in range(2):
        inp, outs = _draw(spec, rng, used, used)
        used.add(inp)
        wrong, why = _wrong(spec, rng, inp, outs, k)
        negative.append({"input": inp, "output": wrong, "explanation": why})
    prefix = spec.name.split("_", 1)[0]
    seen: set[str] = set()
    ids: set[str] = set()
    instances = []
    while len(instances) < instances_per_task:
        inp, outs = _draw(spec, rng, used, seen)
        iid = f"{prefix}-{rng.getrandbits(64):016x}"
        if iid in ids:
            continue
        seen.add(inp)
        ids.add(iid)
        instances.append({"id": iid, "input": inp, "output": list(outs)})
    return {"Contributors": ["crosstask demo generator"], "Source": ["crosstask_demo"], "URL": [],
            "Categories": [spec.category], "Reasoning": [], "Definition": [spec.definition],
            "Input_language": ["English"], "Output_language": ["English"], "Instruction_language": ["English"],
            "Domains": ["Synthetic"], "Positive Examples": positive, "Negative Examples": negative,
            "Instances": instances, "Instance License": ["Unknown"]}


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def _write_tree(root: Path, seed: int, instances_per_task: int) -> None:
    references = []
    for spec in DEMO_TASKS:
        task = generate_task(spec, seed, instances_per_task)
        _write_text(root / "tasks" / f"{spec.name}.json", json.dumps(task, indent=2, ensure_ascii=False) + "\n")
        if spec.split == "test":
            references += [json.dumps({"id": inst["id"], "references": inst["output"], "task_id": spec.name,
                                       "task_category": spec.category, "track": "default"}, ensure_ascii=False)
                           for inst in task["Instances"]]
    for split in ("train", "test"):
        names = [s.name for s in DEMO_TASKS if s.split == split]
        _write_text(root / "splits" / "default" / f"{split}_tasks.txt", "".join(n + "\n" for n in names))
    _write_text(root / "splits" / "default" / "excluded_tasks.txt", "")
    _write_text(root / "test_references.jsonl", "".join(r + "\n" for r in references))
    n_train = sum(s.split == "train" for s in DEMO_TASKS)
    _write_text(root / "README.md", (
        "# crosstask demo benchmark\n\n"
        "This directory was generated by `crosstask.data.demo`; it is synthetic, not the real "
        "Super-NaturalInstructions data, but uses the same on-disk format.\n\n"
        f"- generator version: {GENERATOR_VERSION}\n- seed: {seed}\n"
        f"- instances per task: {instances_per_task}\n"
        f"- tasks: {n_train} train, {len(DEMO_TASKS) - n_train} test (split `default`)\n"))


def write_demo_benchmark(root: str | Path, seed: int = 0, instances_per_task: int = 60) -> Path:
    """Write the demo benchmark to `root` atomically (built in a sibling temp dir, then renamed); returns root."""
    root = Path(root).expanduser()
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    try:
        os.chmod(tmp, 0o755)
        _write_tree(tmp, seed, instances_per_task)
        try:
            os.rename(tmp, root)
        except OSError:
            if not root.exists():
                raise
            old = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".old", dir=root.parent))
            os.replace(root, old / "data")  # swap: the previous tree is moved aside, then deleted
            try:
                os.rename(tmp, root)
            except OSError:
                os.replace(old / "data", root)
                raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def _source_hash() -> str:
    """Hash of the generator's code (this module and demo_tasks): any change gets a fresh cache directory."""
    import hashlib

    digest = hashlib.sha256()
    for module_file in (Path(__file__), Path(demo_tasks.__file__)):
        digest.update(module_file.read_bytes())
    return digest.hexdigest()[:8]


def default_demo_root(seed: int = 0, instances_per_task: int = 60) -> Path:
    """`$CROSSTASK_CACHE/demo/seed{seed}-n{N}-v{GENERATOR_VERSION}-{code hash}`, else under ~/.cache/crosstask."""
    cache = os.environ.get("CROSSTASK_CACHE")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache" / "crosstask"
    return base / "demo" / f"seed{seed}-n{instances_per_task}-v{GENERATOR_VERSION}-{_source_hash()}"


def ensure_demo_benchmark(root: str | Path | None = None, seed: int = 0, instances_per_task: int = 60) -> Path:
    """Return `root` (default: `default_demo_root(seed)`) if it already holds a benchmark, else write one there."""
    root = default_demo_root(seed, instances_per_task) if root is None else Path(root).expanduser()
    if (root / "splits" / "default" / "test_tasks.txt").is_file():
        return root
    return write_demo_benchmark(root, seed, instances_per_task)
