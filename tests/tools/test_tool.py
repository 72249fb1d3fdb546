from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from plait.errors import RunError, TransientError, UsageError
from plait.tools import (
    FunctionTool,
    SecurityLevel,
    Tool,
    ToolArgumentError,
    ToolDefinitionError,
    ToolError,
    ToolFailed,
    ToolTimeout,
    to_json,
    tool,
)


class Address(BaseModel):
    city: str
    zip: str | None = None


class Node(BaseModel):
    name: str
    children: list[Node] = []


@tool
def weather(city: str, days: int = 1, unit: Literal["c", "f"] = "c") -> dict[str, object]:
    """Forecast the weather for a city.

    More details that are not part of the description.

    Args:
        city: The city name.
        days (int): How many days,
            from today.
        unit: Celsius or Fahrenheit.
    """
    return {"city": city, "days": days, "unit": unit}


def test_schema_from_signature_and_google_docstring() -> None:
    assert weather.name == "weather"
    assert weather.description == "Forecast the weather for a city."
    assert weather.level is SecurityLevel.SAFE
    assert weather.parameters == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "city": {"type": "string", "description": "The city name."},
            "days": {"type": "integer", "default": 1,
                     "description": "How many days, from today."},
            "unit": {"enum": ["c", "f"], "type": "string", "default": "c",
                     "description": "Celsius or Fahrenheit."},
        },
        "required": ["city"],
    }
    assert weather.schema() == {"type": "function", "function": {
        "name": "weather", "description": weather.description,
        "parameters": weather.parameters}}


def test_the_decorated_function_is_still_callable() -> None:
    assert isinstance(weather, FunctionTool)
    assert weather("Oslo", 2) == {"city": "Oslo", "days": 2, "unit": "c"}
    assert "Forecast" in (weather.__doc__ or "")


async def test_call_validates_and_converts() -> None:
    assert await weather.call({"city": "Oslo", "days": "3"}) == {
        "city": "Oslo", "days": 3, "unit": "c"}
    assert await weather.call('{"city": "Rome"}') == {"city": "Rome", "days": 1, "unit": "c"}


async def test_every_argument_problem_is_reported_at_once() -> None:
    with pytest.raises(ToolArgumentError) as info:
        await weather.call({"days": "many", "unit": "k", "colour": "red"})
    err = info.value
    assert {(p.location, p.code) for p in err.problems} == {
        ("city", "missing"), ("days", "int_parsing"), ("unit", "literal_error"),
        ("colour", "extra_forbidden")}
    assert err.tool == "weather"
    assert str(err).startswith("tool 'weather': 4 invalid arguments:")
    assert isinstance(err, ToolError)  # a run failure the model can fix, not a usage error
    assert isinstance(err, RunError)
    assert not isinstance(err, UsageError)
    assert err.code == "tool_arguments_invalid"


@pytest.mark.parametrize(("arguments", "code"), [
    ("{not json", "json_invalid"), ("[1, 2]", "object_type"), (42, "object_type")])
async def test_arguments_must_be_a_json_object(arguments: object, code: str) -> None:
    with pytest.raises(ToolArgumentError) as info:
        await weather.call(arguments)  # type: ignore[arg-type]
    assert info.value.problems[0].code == code


def test_options_of_the_decorator() -> None:
    @tool(name="lookup", description="Look a thing up.", level="restricted", timeout=2)
    async def find(query: str) -> str:
        return query

    assert (find.name, find.description, find.level, find.timeout) == (
        "lookup", "Look a thing up.", SecurityLevel.RESTRICTED, 2)


def test_rest_and_numpy_docstrings() -> None:
    def rest(a: int, b: str) -> None:
        """Do it.

        :param a: The first.
        :param str b: The second,
            continued.
        :returns: nothing
        """

    def numpy(a: int, b: str) -> None:
        """Do it.

        Parameters
        ----------
        a : int
            The first.
        b : str
            The second.

        Returns
        -------
        None
        """

    for fn, second in ((rest, "The second, continued."), (numpy, "The second.")):
        props = FunctionTool(fn).parameters["properties"]
        assert isinstance(props, dict)
        assert props["a"] == {"type": "integer", "description": "The first."}
        assert props["b"] == {"type": "string", "description": second}


def test_annotated_description_wins_over_the_docstring() -> None:
    def f(x: Annotated[int, Field(description="From the annotation", ge=0)]) -> int:
        """F.

        Args:
            x: From the docstring.
        """
        return x

    assert FunctionTool(f).parameters["properties"] == {
        "x": {"type": "integer", "minimum": 0, "description": "From the annotation"}}


def test_parameters_named_like_basemodel_attributes() -> None:
    def f(json: str, schema: int, model_config: bool = False, _private: int = 0) -> str:
        return f"{json}{schema}{model_config}{_private}"

    made = FunctionTool(f)
    assert set(made.parameters["properties"]) == {  # type: ignore[arg-type]
        "json", "schema", "model_config", "_private"}
    assert asyncio.run(made.call({"json": "a", "schema": 1, "_private": 2})) == "a1False2"


def test_models_are_inlined_and_recursive_ones_keep_defs() -> None:
    def ship(to: Address) -> str:
        return to.city

    def tree(root: Node) -> int:
        return len(root.children)

    assert FunctionTool(ship).parameters["properties"] == {"to": {
        "type": "object", "required": ["city"],
        "properties": {"city": {"type": "string"},
                       "zip": {"anyOf": [{"type": "string"}, {"type": "null"}],
                               "default": None}}}}
    assert "$defs" in FunctionTool(tree).parameters
    assert asyncio.run(FunctionTool(tree).call({"root": {"name": "a", "children": [
        {"name": "b"}]}})) == 1


def test_positional_only_parameters() -> None:
    def f(a: int, /, b: int = 2) -> int:
        return a * 10 + b

    assert asyncio.run(FunctionTool(f).call({"a": 1})) == 12


@pytest.mark.parametrize("bad", ["has space", "", "x" * 65, "<lambda>"])
def test_invalid_names_are_refused(bad: str) -> None:
    with pytest.raises(ToolDefinitionError, match="invalid tool name"):
        FunctionTool(lambda: None, name=bad or None)  # "" falls back to "<lambda>"


def test_star_args_and_unresolvable_annotations_are_refused() -> None:
    def star(*names: str) -> None: ...

    def kw(**options: str) -> None: ...

    def unresolved(x: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    for fn, message in ((star, r"\*args"), (kw, r"\*\*kwargs"), (unresolved, "annotation")):
        with pytest.raises(ToolDefinitionError, match=message):
            FunctionTool(fn)


async def test_sync_functions_run_in_a_worker_thread_async_ones_on_the_loop() -> None:
    loop_thread = threading.current_thread()

    @tool
    def sync_where() -> str:
        return threading.current_thread().name

    @tool
    async def async_where() -> str:
        return threading.current_thread().name

    assert await sync_where.call() != loop_thread.name
    assert await async_where.call() == loop_thread.name


async def test_timeout() -> None:
    @tool(timeout=0.05)
    async def slow() -> None:
        await asyncio.sleep(5)

    with pytest.raises(ToolTimeout) as info:
        await slow.call({})
    assert info.value.tool == "slow"
    assert info.value.seconds == 0.05
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, RunError)


async def test_exceptions_are_wrapped_plait_errors_pass_through() -> None:
    @tool
    def boom() -> None:
        raise KeyError("nope")

    @tool
    def transient() -> None:
        raise TransientError("try later")

    @tool
    async def own_timeout() -> None:
        raise TimeoutError("the tool's own")

    with pytest.raises(ToolFailed) as info:
        await boom.call()
    assert isinstance(info.value.cause, KeyError)
    assert str(info.value) == "tool 'boom': KeyError: 'nope'"
    with pytest.raises(TransientError):
        await transient.call()
    with pytest.raises(ToolFailed, match="the tool's own"):
        await own_timeout.call()


async def test_cancellation_is_not_swallowed() -> None:
    started = asyncio.Event()

    @tool
    async def waits() -> None:
        started.set()
        await asyncio.sleep(10)

    task = asyncio.create_task(waits.call())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class Greeter(Tool):
    """Greet someone politely."""

    level = SecurityLevel.SAFE

    def __init__(self, greeting: str) -> None:
        self.greeting = greeting
        super().__init__()

    async def run(self, name: str, excited: bool = False) -> str:
        """Greet.

        Args:
            name: Who to greet.
            excited: Add an exclamation mark.
        """
        return f"{self.greeting}, {name}{'!' if excited else '.'}"


async def test_class_tools() -> None:
    greeter = Greeter("Hello")
    assert greeter.name == "greeter"
    assert greeter.description == "Greet someone politely."
    assert greeter.parameters["required"] == ["name"]
    props = greeter.parameters["properties"]
    assert isinstance(props, dict)
    assert props["name"] == {"type": "string", "description": "Who to greet."}
    assert await greeter.call({"name": "Ada", "excited": True}) == "Hello, Ada!"
    assert repr(greeter) == "<Greeter 'greeter' level=safe>"


def test_a_tool_class_needs_run() -> None:
    class Empty(Tool):
        """Nothing."""

    with pytest.raises(ToolDefinitionError, match="run"):
        Empty()


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Colour:
    pass


def test_results_become_json_by_one_rule() -> None:
    assert to_json({"p": Point(1, 2), "when": dt.date(2024, 1, 2), "tags": {"a"},
                    "pair": (1, 2), "raw": b"\xff\x00", "nan": float("nan"),
                    "model": Address(city="Oslo")}) == {
        "p": {"x": 1, "y": 2}, "when": "2024-01-02", "tags": ["a"], "pair": [1, 2],
        "raw": "_wA=", "nan": None, "model": {"city": "Oslo", "zip": None}}
    with pytest.raises(ToolFailed, match="not JSON-able"):
        to_json(Colour())


async def test_a_non_json_result_fails_clearly() -> None:
    @tool
    def odd() -> object:
        return Colour()

    with pytest.raises(ToolFailed, match="tool 'odd': the result is not JSON-able"):
        await odd.call()
