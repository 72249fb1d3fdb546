"""LangGraph: the same shapes as ``StateGraph`` s, compiled once.

A chain is ``START -> n0 -> ... -> END`` over ``{"x": int}``; a fan-out gives every branch its
own state key (``b0``...) and joins them with ``add_edge([...branches], "join")``, which waits
for all branches like plait's multi-port join. Chains raise ``recursion_limit`` above their
length (LangGraph counts every step against it, default 25).
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from bench.sides import Target, Unsupported, check_equal, expected


class ChainState(TypedDict):
    x: int


def _inc(state: dict[str, Any]) -> dict[str, Any]:
    return {"x": state["x"] + 1}


async def _ainc(state: dict[str, Any]) -> dict[str, Any]:
    return {"x": state["x"] + 1}


def _branch(key: str, is_async: bool) -> Any:
    if is_async:

        async def abranch(state: dict[str, Any]) -> dict[str, Any]:
            return {key: state["x"] + 1}

        return abranch

    def branch(state: dict[str, Any]) -> dict[str, Any]:
        return {key: state["x"] + 1}

    return branch


def _join(keys: list[str], is_async: bool) -> Any:
    if is_async:

        async def ajoin(state: dict[str, Any]) -> dict[str, Any]:
            return {"out": sum(state[k] for k in keys)}

        return ajoin

    def join(state: dict[str, Any]) -> dict[str, Any]:
        return {"out": sum(state[k] for k in keys)}

    return join


def _compile(shape: str, n: int, is_async: bool) -> tuple[Any, str]:
    if shape == "chain":
        graph = StateGraph(ChainState)
        previous = START
        for i in range(n):
            graph.add_node(f"n{i}", _ainc if is_async else _inc)
            graph.add_edge(previous, f"n{i}")
            previous = f"n{i}"
        graph.add_edge(previous, END)
        return graph.compile(), "x"
    keys = [f"b{i}" for i in range(n)]
    fan_state = TypedDict("FanState", {"x": int, "out": int, **dict.fromkeys(keys, int)})  # type: ignore[operator]
    graph = StateGraph(fan_state)
    for key in keys:
        graph.add_node(key, _branch(key, is_async))
        graph.add_edge(START, key)
    graph.add_node("join", _join(keys, is_async))
    graph.add_edge(keys, "join")
    graph.add_edge("join", END)
    return graph.compile(), "out"


def build(variant: str, shape: str, n: int, mock: tuple[str, int] | None = None) -> Target:
    if variant not in ("invoke", "ainvoke"):
        raise Unsupported(f"no LangGraph variant {variant!r}")
    compiled, key = _compile(shape, n, variant == "ainvoke")
    config = {"recursion_limit": n + 10}
    inputs = {"x": 0}
    want = check_equal(expected(shape, n))

    def check(result: object) -> None:
        assert isinstance(result, dict)
        want(result[key])

    if variant == "invoke":
        return Target(check, run=lambda: compiled.invoke(inputs, config))
    return Target(check, arun=lambda: compiled.ainvoke(inputs, config))
