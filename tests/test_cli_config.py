"""One source of defaults and config files: every CLI flag's default is the dataclass field it sets; every command
takes --config FILE.yaml (flags override it, unknown keys are a one-line error naming the file and the key); a
run's saved config.yaml is passed back as --config; evaluate reads the saved model's encoding settings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from crosstask.cli import build_parser, main
from crosstask.cli.options import field_default, leaf_parsers

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"
GENERIC = str(FIXTURES / "generic.jsonl")
SMALL = ["--batch-size", "4", "--mixed-precision", "no"]


def _flags():
    for leaf in leaf_parsers(build_parser()):
        for action in leaf._actions:
            yield leaf.prog, action


def test_every_cli_default_is_its_dataclass_field():
    checked, wrong = 0, []
    for prog, action in _flags():
        for cls, name, inverted in getattr(action, "sets", []):
            expected = None if action.from_model else field_default(cls, name)
            expected = (not expected) if inverted and not action.from_model else expected
            checked += 1
            if action.default != expected:
                wrong.append(f"{prog} {action.option_strings[0]}: {action.default!r} != {cls.__name__}.{name} "
                             f"{expected!r}")
    assert checked > 100 and not wrong, "\n".join(wrong)


def test_shared_flags_agree_across_commands():
    """A flag that sets the same field on several commands has one default (e.g. --seed, --max-length)."""
    seen: dict[tuple[type, str], set] = {}
    for _, action in _flags():
        for cls, name, _inverted in getattr(action, "sets", []):
            if not action.from_model:
                seen.setdefault((cls, name), set()).add(repr(field_default(cls, name)))
    assert all(len(v) == 1 for v in seen.values())


def test_flags_without_a_field_are_command_line_only():
    """The only defaults no dataclass holds: which targets / tasks to pick and how to print or name the output,
    never a setting of the work itself."""
    free = {(prog.removeprefix("crosstask "), action.dest) for prog, action in _flags()
            if not getattr(action, "sets", None) and action.default not in (None, False, argparse.SUPPRESS)}
    assert free == {("recross upstream", "exclude_tasks"), ("recross distant-supervision", "pseudo_targets"),
                    ("recross run", "target"), ("recross run", "retriever"), ("data summary", "kind"),
                    ("data summary", "format"), ("baselines", "format"), ("export", "format"),
                    ("recross report", "name")}


def _yaml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_config_file_sets_options_and_flags_override(tmp_path):
    parser = build_parser()
    config = _yaml(tmp_path / "cfg.yaml", "lr: 1e-4\nmax-length: 128\n--dev-tasks: 3\nmix_gen: true\nnum-pos: 2\n")
    from crosstask.cli.options import apply_config

    argv = ["train", "classifier", "--config", str(config), "--output", "x", "--max-length", "96"]
    apply_config(parser, argv)
    args = parser.parse_args(argv)
    assert (args.lr, args.max_length, args.dev_tasks, args.mix_gen, args.num_pos) == (1e-4, 96, 3, True, 2)


def test_config_gives_required_options_and_the_positional(tmp_path):
    parser = build_parser()
    from crosstask.cli.options import apply_config

    config = _yaml(tmp_path / "cfg.yaml", "command: train\nkind: generator\noutput: runs/x\n")
    apply_config(parser, argv := ["train", "--config", str(config)])
    args = parser.parse_args(argv)
    assert (args.kind, args.output) == ("generator", "runs/x")


@pytest.mark.parametrize("text, words", [
    ("lr: 1e-4\nlearning_rate: 3\n", ["cfg.yaml", "learning_rate", "unknown"]),
    ("pooling: max\n", ["cfg.yaml", "pooling", "'max' is not one of"]),
    ("epochs: many\n", ["cfg.yaml", "epochs"]),
    ("mix-gen: 3\n", ["cfg.yaml", "mix-gen", "true or false"]),
    ("- lr\n", ["cfg.yaml", "mapping"]),
    ("command: evaluate\n", ["cfg.yaml", "command", "crosstask evaluate"]),
    ("lr: [1\n", ["cfg.yaml", "not valid YAML"]),
])
def test_bad_config_is_a_one_line_error_naming_file_and_key(tmp_path, capsys, text, words):
    config = _yaml(tmp_path / "cfg.yaml", text)
    assert main(["train", "classifier", "--config", str(config), "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("crosstask: error:") and "Traceback" not in err
    assert all(w in err for w in words), err
    assert not (tmp_path / "run").exists()


def test_missing_config_file_is_a_one_line_error(tmp_path, capsys):
    assert main(["baselines", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml does not exist" in capsys.readouterr().err


def test_every_command_takes_config(tmp_path, capsys):
    for leaf in leaf_parsers(build_parser()):
        assert "--config" in leaf._option_string_actions, leaf.prog
    config = _yaml(tmp_path / "b.yaml", f"data: {FIXTURES / 'superni_hub'}\ntasks: all\nformat: json\n")
    assert main(["baselines", "--config", str(config), "--max-instances", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tasks"] == "all"
    assert all(r["overall"]["n"] <= 2 * report["n_tasks"] for r in report["results"].values())



@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSTASK_CACHE", str(tmp_path / "cache"))


def test_saved_config_round_trip_and_evaluate_reads_the_saved_encoding(bert, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "classifier", "--data", GENERIC, "--model", bert, "--max-steps", "1", "--dev-tasks", "0",
                 "--max-length", "72", "--num-pos", "1", "--negatives", "1", "--output", str(run), *SMALL]) == 0
    saved = (run / "config.yaml").read_text()
    assert "command: train" in saved and "max_length: 72" in saved and "output" not in saved

    # evaluate without a single encoding flag: the saved model's max length and prompt
    base = ["evaluate", "--data", GENERIC, "--classifier", str(run), "--tasks", "cls", "--max-test-instances", "3",
            "--mixed-precision", "no"]
    assert main([*base, "--output", str(tmp_path / "eval")]) == 0
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert report["encoding"]["classifier"]["max_length"] == 72 and report["options"]["max_length"] == 72
    assert report["encoding"]["classifier"]["prompt"]["num_positive"] == 1
    assert main([*base, "--max-length", "72", "--num-pos", "1", "--output", str(tmp_path / "explicit")]) == 0
    implicit, explicit = ((tmp_path / d / "predictions-cls-classifier.jsonl").read_text() for d in ("eval",
                                                                                                    "explicit"))
    assert implicit == explicit
    # a flag still overrides the saved setting
    assert main([*base, "--num-pos", "0", "--output", str(tmp_path / "zero")]) == 0
    zero = json.loads((tmp_path / "zero" / "metrics.json").read_text())
    assert zero["encoding"]["classifier"]["prompt"]["num_positive"] == 0

    # the saved config passed back (the file, run_config.json or the run directory) gives the same run
    for i, source in enumerate([run / "config.yaml", run / "run_config.json", run]):
        again = tmp_path / f"again{i}"
        assert main(["train", "classifier", "--config", str(source), "--output", str(again)]) == 0
        first, second = (json.loads((d / "run_config.json").read_text()) for d in (run, again))
        assert first["config"] == second["config"] and first["data"] == second["data"]
        assert {k: v for k, v in first["training"].items() if k != "output_dir"} == \
            {k: v for k, v in second["training"].items() if k != "output_dir"}
