"""Flags derived from the config dataclasses, and config files.

`option(parser, "--lr", TrainingArguments.lr-like source)`: a flag's default is read from the dataclass field(s)
it sets (`sets=[(TrainingArguments, "lr")]`), never written in the CLI, so two commands cannot disagree;
its help ends with that default. `from_args(Config, args)` builds a dataclass from the flags that set its
fields (a field no flag of the command sets keeps its dataclass default). Every flag that sets a field carries
`action.sets`; tests/test_cli_config.py checks each flag's default against every field it sets.

`--config FILE.yaml` (every command): a mapping of flag names (`max-length`, `max_length` or `--max-length`)
to values, read before the command line, which overrides it; an unknown key is a one-line error naming the
file and the key (exit 2). `save_config` writes a run's options as config.yaml beside its run_config.json, and
`--config` accepts that file, a run_config.json (the config.yaml beside it) or the run directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

import yaml

from crosstask.core.errors import DataFormatError, ValidationError
from crosstask.core.io import atomic_write_text

CONFIG_FILE = "config.yaml"
FROM_MODEL = "from the saved model"  # the default of flags that override a saved model's own setting
# options a saved config never carries: where a run goes and what happens to one already there
NOT_SAVED = {"config", "output", "overwrite", "resume", "fresh", "json", "func", "fields", "log_level"}

Field = tuple[type, str] | tuple[type, str, bool]  # (dataclass, field name[, inverted: the flag is `not field`])


def field_default(cls: type, name: str) -> Any:
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise KeyError(f"{cls.__name__}.{name} has no default")
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def option(parser, *flags: str, sets: Field | list[Field] | None = None, help: str | None = None,
           from_model: bool = False, **kwargs) -> argparse.Action:
    """add_argument with the default of the first dataclass field in `sets` (a bool field: a store_true flag;
    inverted: `--no-x` / `--all-languages` for a field that is True by default). `from_model`: the flag
    overrides a saved model's own setting and defaults to None (the model's)."""
    targets = [] if sets is None else [sets] if isinstance(sets, tuple) else list(sets)
    targets = [(t[0], t[1], t[2] if len(t) > 2 else False) for t in targets]
    if from_model:
        kwargs["default"] = None
        help = f"{help} (default: {FROM_MODEL})" if help else f"default: {FROM_MODEL}"
    elif targets:
        cls, name, inverted = targets[0]
        default = field_default(cls, name)
        if inverted:
            default = not default
        if isinstance(default, bool) and "action" not in kwargs:
            kwargs["action"] = "store_true"
            if default:
                raise TypeError(f"{flags[0]}: a store_true flag needs a field that is False by default")
        elif "type" not in kwargs and "choices" not in kwargs and isinstance(default, (int, float)):
            kwargs["type"] = type(default)
        kwargs["default"] = default
        if kwargs.get("action") != "store_true" and default is not None:
            help = f"{help} (default: %(default)s)" if help else "default: %(default)s"
    action = parser.add_argument(*flags, help=help, **kwargs)
    action.sets = targets
    action.from_model = from_model
    return action


def from_args(cls: type, args: argparse.Namespace, **values) -> Any:
    """`cls` built from the flags of `args` that set its fields, plus `values` (nested configs, renames)."""
    found = {}
    for dest, targets in getattr(args, "fields", {}).items():
        for target, name, inverted in targets:
            if target is cls and hasattr(args, dest):
                value = getattr(args, dest)
                found[name] = (not value) if inverted else value
    return cls(**{**found, **values})


def finish(parser: argparse.ArgumentParser, func) -> None:
    """Register the command's function and which dataclass fields its flags set (read by `from_args`)."""
    fields = {a.dest: a.sets for a in parser._actions if getattr(a, "sets", None)}
    parser.set_defaults(func=func, fields=fields)


def leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers of the commands themselves (those without sub-commands)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for sub in subs for child in dict.fromkeys(sub.choices.values()) for leaf in leaf_parsers(child)]


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    if "--config" in parser._option_string_actions:
        return
    parser.add_argument("--config", metavar="FILE.yaml", help="read options from a YAML file (flags given on the "
                        "command line override it); a run's saved config.yaml, its run_config.json or the run "
                        "directory work too")


# --- config files ---------------------------------------------------------------------------------------------


def _config_value(argv: list[str]) -> str | None:
    for i, token in enumerate(argv):
        if token == "--":
            return None
        if token == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith("--config="):
            return token.split("=", 1)[1]
    return None


def config_path(value: str) -> Path:
    """The YAML file behind `--config`: the file itself, or the config.yaml of a run (its directory or its
    run_config.json)."""
    path = Path(value).expanduser()
    if path.is_dir() or path.name == "run_config.json":
        run = path if path.is_dir() else path.parent
        for candidate in (run / CONFIG_FILE, run.parent / CONFIG_FILE):  # a run, or its best/ / final/ export
            if candidate.is_file():
                return candidate
        raise ValidationError("--config", f"{path}: no {CONFIG_FILE} of a crosstask run there")
    if not path.is_file():
        raise ValidationError("--config", f"{path} does not exist")
    return path


def read_config(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<file>"
        raise DataFormatError(path, where, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DataFormatError(path, "<root>",
                              f"expected a mapping of option names to values, got {type(data).__name__}")
    return data


def command_parser(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The (sub-)parser of the command `argv` names, and the command words (e.g. ["recross", "run"])."""
    words = []
    for token in argv:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or token.startswith("-"):
            if not subs:
                break
            continue
        if token not in subs[0].choices:
            break
        parser, words = subs[0].choices[token], [*words, token]
    return parser, words


def _flag_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Every spelling of every option and positional of `parser` (dest, flag names with - or _) -> its action."""
    found = {}
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.dest in ("config",):
            continue
        names = [action.dest, *(s.lstrip("-") for s in action.option_strings)]
        for name in names:
            found[name] = found[name.replace("-", "_")] = action
    return found


def _convert(path: Path, key: str, action: argparse.Action, value: Any) -> Any:
    """A config value checked as the flag would check it on the command line."""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise DataFormatError(path, key, f"expected true or false, got {value!r}")
        return value
    if value is None:
        return None
    if isinstance(action.default, tuple) and isinstance(value, list):  # a list-valued field (saved as a YAML list)
        if not value:
            return ()
        value = ",".join(str(v) for v in value)
    many = isinstance(action, argparse._AppendAction) or action.nargs in ("+", "*")
    if many and not isinstance(value, list):
        value = [value]
    if not many and isinstance(value, (list, dict)):
        raise DataFormatError(path, key, f"expected one value, got {value!r}")
    items = value if many else [value]
    out = []
    for item in items:
        text = item if isinstance(item, str) else ("true" if item is True else "false" if item is False else str(item))
        try:
            converted = action.type(text) if action.type else text
        except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
            raise DataFormatError(path, key, f"invalid value {item!r}: {exc}") from None
        if action.choices is not None and converted not in action.choices:
            raise DataFormatError(path, key, f"{converted!r} is not one of {', '.join(map(str, action.choices))}")
        out.append(converted)
    return out if many else out[0]


def apply_config(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """With `--config FILE` in `argv`: its values become the defaults of the command's parser (so the command
    line overrides them, and required options it gives are no longer required)."""
    value = _config_value(argv)
    if value is None:
        return
    path = config_path(value)
    sub, words = command_parser(parser, argv)
    actions = _flag_actions(sub)
    data = read_config(path)
    saved_command = data.pop("command", None)
    if saved_command is not None and str(saved_command).split() != words[:len(str(saved_command).split())]:
        raise DataFormatError(path, "command", f"a config of `crosstask {saved_command}`, not of "
                                               f"`crosstask {' '.join(words)}`")
    defaults = {}
    for key, raw in data.items():
        action = actions.get(str(key).lstrip("-"))
        if action is None:
            raise DataFormatError(path, str(key), f"unknown key for `crosstask {' '.join(words)}` (see "
                                                  f"crosstask {' '.join(words)} --help)")
        defaults[action.dest] = _convert(path, str(key), action, raw)
        if not action.option_strings:  # a positional (e.g. train's kind): only when the command line omits it
            action.nargs = "?"
        action.required = False
    sub.set_defaults(**defaults)


def save_config(args: argparse.Namespace, directory: str | Path) -> Path | None:
    """The command's options as `directory`/config.yaml (not where it wrote, nor --overwrite / --resume), to pass
    back with --config; written by the main process only."""
    if os.environ.get("RANK", "0") not in ("", "0"):
        return None
    words = [args.command] + [getattr(args, d) for d in ("data_command", "recross_command") if getattr(args, d, None)]
    values = {k: v for k, v in vars(args).items()
              if k not in NOT_SAVED and k not in ("command", "data_command", "recross_command")}
    text = yaml.safe_dump({"command": " ".join(words), **values}, sort_keys=False, allow_unicode=True)
    path = Path(directory) / CONFIG_FILE
    atomic_write_text(path, text)
    return path
