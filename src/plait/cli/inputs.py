"""Run inputs from the command line: ``--input KEY=VALUE`` (repeatable) and ``--input-file``.

A value is read as JSON when it parses (``3``, ``true``, ``[1, 2]``, ``{"a": 1}``) and as
text otherwise; an input the workflow declares as ``string`` always takes the text as is, so
``--input zip=02134`` stays a string. ``--input`` values override the file's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from plait.errors import InputError, Problem
from plait.graph.spec import WorkflowSpec
from plait.types import PortType

__all__ = ["collect_inputs", "parse_assignments", "parse_value", "read_input_file"]


def parse_value(text: str, declared: PortType | None = None) -> object:
    """The value of ``--input KEY=TEXT`` for an input declared as ``declared``."""
    if declared is PortType.STRING:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignments(items: Sequence[str],
                      declared: Mapping[str, PortType] | None = None) -> dict[str, object]:
    """``["k=v", ...]`` as a mapping; raises :class:`InputError` listing every bad item."""
    declared = declared or {}
    values: dict[str, object] = {}
    problems: list[Problem] = []
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        where = f"--input {item!r}"
        if not eq or not key:
            problems.append(Problem("bad_input_syntax", "expected KEY=VALUE, e.g. "
                                    "--input name=Ada or --input count=3", where))
        elif key in values:
            problems.append(Problem("duplicate_input", f"input {key!r} is given twice", where))
        else:
            values[key] = parse_value(text, declared.get(key))
    if problems:
        raise InputError(problems)
    return values


def read_input_file(path: Path) -> dict[str, object]:
    """A JSON or YAML file holding one mapping of input names to values."""
    where = str(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise InputError([Problem("file_not_found", f"input file {path} {what}", where)])
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise InputError([Problem("unsupported_file", "input files end in .json, .yaml or "
                                  f".yml, not {suffix or '(no suffix)'!r}", where)])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError([Problem("unreadable_file", str(err), where)]) from None
    data: object
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError([Problem("malformed_json", err.msg,
                                      f"{where}: line {err.lineno}, column {err.colno}")]
                             ) from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f": line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            message = getattr(err, "problem", None) or str(err)
            raise InputError([Problem("malformed_yaml", str(message), where + at)]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError([Problem("not_an_object", "an input file holds one mapping of input "
                                  f"names to values, not a {type(data).__name__}", where)])
    return {str(k): v for k, v in data.items()}


def collect_inputs(spec: WorkflowSpec, items: Sequence[str],
                   input_file: Path | None) -> dict[str, object]:
    """The inputs of a run: the file's values, overridden by ``--input`` items."""
    values = read_input_file(input_file) if input_file is not None else {}
    declared = {name: inp.type for name, inp in spec.inputs.items()}
    values.update(parse_assignments(items, declared))
    return values
