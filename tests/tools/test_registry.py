from __future__ import annotations

import pytest

from plait.errors import RegistryError, UsageError
from plait.tools import (
    SecurityLevel,
    ToolDenied,
    ToolNotFound,
    ToolRegistry,
    tool,
)


@tool
def echo(text: str) -> str:
    """Return the text."""
    return text


@tool(level="restricted")
def fetch_thing(url: str) -> str:
    """Pretend to fetch."""
    return url


@tool(level=SecurityLevel.PRIVILEGED)
def run_it(argv: list[str]) -> str:
    """Pretend to run."""
    return " ".join(argv)


def test_levels_are_ordered_by_power_not_alphabet() -> None:
    assert list(SecurityLevel) == ["safe", "restricted", "privileged"]
    assert SecurityLevel.SAFE < SecurityLevel.RESTRICTED < SecurityLevel.PRIVILEGED
    assert SecurityLevel.PRIVILEGED > "safe"
    assert SecurityLevel.RESTRICTED.allows("safe")
    assert not SecurityLevel.RESTRICTED.allows(SecurityLevel.PRIVILEGED)
    assert sorted(SecurityLevel, reverse=True)[0] is SecurityLevel.PRIVILEGED
    with pytest.raises(ValueError, match="'root'"):
        SecurityLevel("root")


def test_register_get_list_names() -> None:
    registry = ToolRegistry([echo, fetch_thing])
    assert registry.names() == ["echo", "fetch_thing"]
    assert registry.get("echo") is echo
    assert [t.name for t in registry.list(max_level="safe")] == ["echo"]
    assert [t.name for t in registry] == ["echo", "fetch_thing"]
    assert "echo" in registry
    assert 3 not in registry
    assert len(registry) == 2
    assert repr(registry) == "<ToolRegistry 2 tools max_level=restricted>"


def test_plain_functions_are_wrapped() -> None:
    def double(x: int) -> int:
        """Double it."""
        return 2 * x

    registry = ToolRegistry()
    made = registry.register(double)
    assert made.name == "double"
    assert made.description == "Double it."


def test_duplicates_and_unknown_names() -> None:
    registry = ToolRegistry([echo])
    registry.register(echo)  # the same object again is fine
    with pytest.raises(RegistryError, match="already registered"):
        registry.register(tool(name="echo")(lambda text: text))
    registry.register(tool(name="echo")(lambda text: text.upper()), replace=True)
    with pytest.raises(ToolNotFound) as info:
        registry.get("ehco")
    assert info.value.known == ["echo"]
    assert str(info.value) == "tool 'ehco': no tool named 'ehco' (known: echo)"
    assert isinstance(info.value, RegistryError)


def test_the_default_ceiling_is_restricted() -> None:
    registry = ToolRegistry()
    with pytest.raises(ToolDenied) as info:
        registry.register(run_it)
    assert str(info.value) == ("tool 'run_it': its security level is 'privileged', above "
                               "this registry's maximum 'restricted'")
    assert isinstance(info.value, UsageError)
    assert info.value.code == "tool_denied"


def test_a_safe_registry_refuses_restricted_tools() -> None:
    with pytest.raises(ToolDenied):
        ToolRegistry([echo, fetch_thing], max_level="safe")


async def test_call_and_restricted_views() -> None:
    registry = ToolRegistry([echo, fetch_thing, run_it], max_level="privileged")
    assert await registry.call("run_it", {"argv": ["ls", "-l"]}) == "ls -l"
    safe = registry.restrict("safe")
    assert safe.names() == ["echo"]
    assert safe.max_level is SecurityLevel.SAFE
    with pytest.raises(ToolNotFound):
        await safe.call("run_it", {"argv": []})
    # a view can't be wider than its parent
    assert registry.restrict("safe").restrict("privileged").max_level is SecurityLevel.SAFE


async def test_call_rechecks_the_level() -> None:
    @tool
    def sneaky() -> str:
        return "ran"

    registry = ToolRegistry([sneaky], max_level="safe")
    sneaky.level = SecurityLevel.PRIVILEGED
    with pytest.raises(ToolDenied):
        await registry.call("sneaky")


def test_schemas_for_models() -> None:
    registry = ToolRegistry([echo, fetch_thing])
    schemas = registry.schemas()
    assert [s["function"]["name"] for s in schemas] == ["echo", "fetch_thing"]  # type: ignore
    assert schemas[0] == {"type": "function", "function": {
        "name": "echo", "description": "Return the text.",
        "parameters": {"type": "object", "additionalProperties": False,
                       "properties": {"text": {"type": "string"}}, "required": ["text"]}}}
    assert len(registry.schemas(max_level="safe")) == 1
