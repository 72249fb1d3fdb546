"""The generated reference pages match what the code generates now."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.graph.compiler import Compiler
from plait.graph.spec import NodeSpec
from plait.nodes import builtin_functions, default_registry
from plait.nodes.reference import EXAMPLES, REGENERATE, spec_reference

from .blocks import ROOT

SPEC_MD = ROOT / "docs" / "reference" / "spec.md"


def _same(path: Path, generated: str, command: str) -> None:
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing; generate it with: {command}"
    committed = path.read_text(encoding="utf-8")
    assert committed == generated, (
        f"{path.relative_to(ROOT)} is out of date; regenerate it with: {command}")


def test_spec_reference_is_up_to_date() -> None:
    generated = spec_reference(default_registry(), functions=builtin_functions())
    _same(SPEC_MD, generated, REGENERATE)


def test_spec_reference_covers_every_kind_and_function() -> None:
    text = SPEC_MD.read_text(encoding="utf-8")
    for kind in default_registry():
        assert f"### `{kind.name}`" in text
        for field in kind.Params.model_fields:
            assert f"| `{field}` |" in text, (kind.name, field)
    for name in builtin_functions().names():
        assert f"| `{name}` |" in text


def test_spec_reference_is_pure() -> None:
    kinds = default_registry()
    assert spec_reference(kinds) == spec_reference(kinds)
    assert "## Built-in functions" not in spec_reference(kinds)


@pytest.mark.parametrize("kind_name", sorted(EXAMPLES))
def test_reference_examples_are_valid_nodes(kind_name: str) -> None:
    kinds = default_registry()
    kind = kinds.get(kind_name)
    assert kind is not None
    functions = builtin_functions()
    functions.register("my_app.score", lambda value: len(value))
    compiler = Compiler(kinds, functions)
    for node in EXAMPLES[kind_name]:
        if isinstance(node.get("params", {}).get("workflow"), str):
            continue  # a file path: the loader inlines it before validation
        spec = NodeSpec.model_validate(node)
        params = kind.Params.model_validate(spec.params)
        assert kind.check(spec, params, compiler, "params") == [], node


def test_unknown_kinds_get_a_skeleton_example() -> None:
    from pydantic import BaseModel, Field

    from plait.graph.registry import KindRegistry, NodeKind

    class EchoParams(BaseModel):
        """Say it again."""

        times: int = Field(ge=1, description="how many times")

    class EchoKind(NodeKind[EchoParams]):
        name = "echo"
        Params = EchoParams
        description = "Repeat the input."

        def bind(self, node, params, env):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    text = spec_reference(KindRegistry([EchoKind()]))
    assert "### `echo`" in text
    assert "| `times` | integer, >= 1 | *required* | how many times |" in text
    assert "- id: my_echo\n  kind: echo\n  params:\n    times: <times>" in text


# -- hand-written reference pages stay complete -------------------------------------------

PYTHON_MD = ROOT / "docs" / "reference" / "python.md"
ENGINE_MD = ROOT / "docs" / "concepts" / "engine.md"


def test_every_error_code_is_documented() -> None:
    import inspect

    import plait.errors

    text = PYTHON_MD.read_text(encoding="utf-8")
    for name, cls in inspect.getmembers(plait.errors, inspect.isclass):
        if issubclass(cls, plait.errors.PlaitError):
            assert f"| `{cls.code}` | `{name}` |" in text, f"{name} ({cls.code}) is undocumented"


def test_every_problem_code_is_documented() -> None:
    import re

    text = PYTHON_MD.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_]+)`", text))
    codes = {"invalid_spec"}
    for package in ("graph", "nodes"):
        for path in (ROOT / "src" / "plait" / package).rglob("*.py"):
            codes |= set(re.findall(r'Problem\(\s*"([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert codes - documented == set()


def test_every_event_is_documented() -> None:
    import plait.graph.events as events

    text = ENGINE_MD.read_text(encoding="utf-8")
    for name in events.__all__:
        cls = getattr(events, name)
        if isinstance(cls, type) and issubclass(cls, events.Event) and cls is not events.Event:
            assert f"| `{name}` |" in text, f"event {name} is undocumented"


def test_cli_reference_is_up_to_date() -> None:
    pytest.importorskip("typer")
    from plait.cli.main import app

    from .cli_reference import REGENERATE as CLI_REGENERATE
    from .cli_reference import render

    _same(ROOT / "docs" / "reference" / "cli.md", render(app), CLI_REGENERATE)
