"""plait: the same shapes through the public builder API, built once with ``flow.build()``.

Variants: ``inline`` (sync fns run on the loop), ``async`` (``async def`` fns), ``http`` (every
node POSTs to the mock LLM, like GraphBit's agent nodes) and ``http-head`` (one HTTP node, then
inline ``str.upper`` transforms, like GraphBit's agent head + transform nodes).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from bench.ollama_client import OllamaChat
from bench.sides import Target, Unsupported, check_equal, expected
from plait import Continue, Engine, Flow, Hook, RunFinished, RunStarted


def inc(value: int) -> int:
    return value + 1


async def ainc(value: int) -> int:
    return value + 1


def total(**branches: int) -> int:
    return sum(branches.values())


async def atotal(**branches: int) -> int:
    return sum(branches.values())


def upper(value: str) -> str:
    return value.upper()


def concat(**branches: str) -> str:
    return " ".join(branches.values())


class IdleHook(Hook):
    """Overrides the two node points and changes nothing: the cost of merely having hooks."""

    def before_node(self, call: Any) -> Continue:
        return Continue()

    def after_node(self, result: Any) -> Continue:
        return Continue()


def _node(flow: Flow, name: str, fn: Callable[..., Any], inputs: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return flow.transform(name, fn=fn, inputs=inputs)
    return flow.transform(name, fn=fn, inline=True, inputs=inputs)


def workflow(variant: str, shape: str, n: int, client: OllamaChat | None = None) -> Any:
    """Build the workflow for one variant; ``client`` is needed by the HTTP variants."""
    if variant == "inline":
        step, join = inc, total
    elif variant == "async":
        step, join = ainc, atotal
    elif variant in ("http", "http-head"):
        assert client is not None

        async def ask(value: object) -> str:
            return await client.chat(f"step: {value}")

        async def ask_join(**branches: object) -> str:
            return await client.chat("join: " + " ".join(map(str, branches.values())))

        step, join = (ask, ask_join) if variant == "http" else (upper, concat)
    else:
        raise Unsupported(f"no plait variant {variant!r}")

    flow = Flow(f"{variant}-{shape}{n}")
    ref = flow.input("x", type="any" if client is not None else "number")
    if variant == "http-head":
        ref = _node(flow, "head", ask, ref)
    if shape == "chain":
        for i in range(n):
            ref = _node(flow, f"n{i}", step, ref)
        flow.output("result", ref)
    else:
        branches = {f"b{i}": _node(flow, f"b{i}", step, ref) for i in range(n)}
        flow.output("result", _node(flow, "join", join, branches))
    return flow.build()


def build(variant: str, shape: str, n: int, mock: tuple[str, int] | None = None) -> Target:
    client = None
    if variant in ("http", "http-head"):
        if mock is None:
            raise Unsupported("the HTTP variants need the mock LLM server")
        client = OllamaChat(*mock, model="mock")
    wf = workflow(variant, shape, n, client)
    engine = Engine()
    inputs = {"x": 0}

    if client is not None:

        def check(result: object) -> None:
            out = result.outputs["result"]  # type: ignore[attr-defined]
            assert isinstance(out, str), f"unexpected output {out!r}"
            assert out, "empty output"

        return Target(check, arun=lambda: engine.run(wf, inputs), aclose=client.aclose)

    want = check_equal(expected(shape, n))

    def check_plain(result: object) -> None:
        want(result.outputs["result"])  # type: ignore[attr-defined]

    return Target(check_plain, arun=lambda: engine.run(wf, inputs))


def hook_targets(shape: str, n: int) -> dict[str, Target]:
    """One workflow, six engines: nothing, an idle hook, an idle subscriber, an idle
    subscriber to run-level events only, both, and one whose subscriber has unsubscribed
    again (events must then cost nothing)."""
    wf = workflow("inline", shape, n)
    want = check_equal(expected(shape, n))

    def check(result: object) -> None:
        want(result.outputs["result"])  # type: ignore[attr-defined]

    def noop(event: object) -> None:
        return None

    engines = {
        "off": Engine(),
        "hooks": Engine(hooks=[IdleHook()]),
        "events": Engine(),
        "run_events": Engine(),
        "both": Engine(hooks=[IdleHook()]),
        "unsubscribed": Engine(),
    }
    engines["events"].subscribe(noop)
    engines["run_events"].subscribe(noop, types={RunStarted, RunFinished})
    engines["both"].subscribe(noop)
    engines["unsubscribed"].subscribe(noop)()
    inputs = {"x": 0}
    return {
        name: Target(check, arun=lambda e=engine: e.run(wf, inputs))
        for name, engine in engines.items()
    }
