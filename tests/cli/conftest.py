"""Fixtures for CLI tests: an invoker over the Typer app and small workflow files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from plait.cli.main import app

Invoke = Callable[..., Result]
Write = Callable[[str, str], Path]

DIAMOND = """
plait: "1"
name: diamond
inputs:
  x: {type: number}
nodes:
  - {id: start, kind: transform, params: {expression: "value + 1"}}
  - {id: left, kind: transform, params: {expression: "value * 2"}}
  - {id: right, kind: transform, params: {expression: "value * 3"}}
  - {id: join, kind: transform, params: {expression: "l + r"}}
  - {id: out, kind: output}
edges:
  - {from: $input.x, to: start}
  - {from: start, to: left}
  - {from: start, to: right}
  - {from: left, to: join.l}
  - {from: right, to: join.r}
  - {from: join, to: out}
"""

FAILING = """
plait: "1"
name: failing
nodes:
  - {id: ok, kind: transform, params: {expression: "1"}}
  - {id: boom, kind: transform, params: {function: json_loads}}
  - {id: after, kind: transform, params: {expression: "value"}}
  - {id: fine, kind: output}
  - {id: never, kind: output}
edges:
  - {from: ok, to: fine}
  - {from: ok, to: boom}
  - {from: boom, to: after}
  - {from: after, to: never}
"""

SLOW = """
plait: "1"
name: slow
nodes:
  - {id: wait, kind: delay, params: {seconds: 60}}
  - {id: out, kind: output}
edges:
  - {from: wait, to: out}
"""


@pytest.fixture
def invoke() -> Invoke:
    """Run ``plait ARGS...`` in-process; stdout and stderr are in ``result.output``."""
    runner = CliRunner()

    def call(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input)

    return call


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write a (dedented) file under tmp_path and return its path."""

    def put(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return put


@pytest.fixture
def diamond(write: Write) -> Path:
    return write("diamond.yaml", DIAMOND)


@pytest.fixture
def failing(write: Write) -> Path:
    return write("failing.yaml", FAILING)
