"""The catalogue of workflow shapes every execution mode must get right.

Each shape builds a workflow and states what a run must produce: the outputs, the final
status, node statuses, and constraints on the event sequence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from plait import Flow, TransientError, Workflow
from plait.errors import LoopLimitExceeded, NodeTimeout


@dataclass
class Shape:
    name: str
    build: Callable[[], Workflow]
    inputs: dict[str, object]
    status: str = "completed"
    outputs: dict[str, object] | None = None
    node_status: dict[str, str] = field(default_factory=dict)
    error_code: str | None = None
    # (a, b): a's NodeOutput comes before b's NodeStarted
    order: list[tuple[str, str]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    fail_fast: bool | None = None


def inc(value: int) -> int:
    return value + 1


def linear() -> Workflow:
    f = Flow("linear")
    x = f.input("x", type="integer")
    a = f.transform("a", fn=inc, inline=True, inputs=x)
    b = f.transform("b", expression="value * 10", inputs=a)
    c = f.transform("c", template="result={{ value }}", inputs=b)
    f.output("out", c)
    return f.build()


def fan_out_join() -> Workflow:
    f = Flow("fan_out_join")
    x = f.input("x", type="integer")
    start = f.transform("start", fn=inc, inline=True, inputs=x)
    branches = {f"b{i}": f.transform(f"b{i}", expression=f"value * {i}", inputs=start)
                for i in range(5)}
    join = f.transform("join", fn=lambda **kw: sum(kw.values()), inline=True, inputs=branches)
    f.output("out", join)
    return f.build()


async def slow_double(value: int) -> int:
    await asyncio.sleep(0.01)
    return value * 2


def diamond() -> Workflow:
    f = Flow("diamond")
    x = f.input("x", type="integer")
    top = f.transform("top", fn=inc, inline=True, inputs=x)
    left = f.transform("left", fn=slow_double, inputs=top)
    right = f.transform("right", expression="value + 100", inputs=top)
    bottom = f.transform("bottom", template="{{ l }}/{{ r }}", inputs={"l": left, "r": right})
    f.output("out", bottom)
    return f.build()


def conditional() -> Workflow:
    f = Flow("conditional")
    n = f.input("n", type="integer")
    check = f.condition("check", expression="value > 10", inputs=n)
    big = f.transform("big", template="big {{ value }}", inputs=check.on(True))
    big2 = f.transform("big2", template="{{ value }}!", inputs=big)
    small = f.transform("small", template="small {{ value }}", inputs=check.on(False))
    f.node("out", "output", inputs={"value": big2}, join="any")
    f.edge(small, "out", "value")
    return f.build()


def nested() -> Workflow:
    child = Flow("child")
    v = child.input("v", type="integer")
    child.output("doubled", child.transform("d", expression="value * 2", inputs=v))
    f = Flow("nested")
    x = f.input("x", type="integer")
    sub = f.subworkflow("sub", child, inputs={"v": x})
    f.output("out", f.transform("after", expression="value + 1", inputs=sub["doubled"]))
    return f.build()


def mapped() -> Workflow:
    body = Flow("square")
    item = body.input("item", type="integer")
    body.output("sq", body.transform("square", expression="value * value", inputs=item))
    f = Flow("mapped")
    xs = f.input("xs", type="list")
    f.output("out", f.map("each", body, items=xs, concurrency=2, output="sq"))
    return f.build()


def counter_body() -> Flow:
    body = Flow("step")
    n = body.input("n", type="integer")
    body.output("n", body.transform("next", expression="value + 1", inputs=n))
    return body


def bounded_loop() -> Workflow:
    f = Flow("bounded_loop")
    n = f.input("n", type="integer")
    loop = f.loop("count", counter_body(), max_iterations=10, until="n >= 5", inputs={"n": n})
    f.output("out", loop["n"])
    return f.build()


def loop_overrun() -> Workflow:
    f = Flow("loop_overrun")
    n = f.input("n", type="integer")
    loop = f.loop("count", counter_body(), max_iterations=3, until="n >= 50", inputs={"n": n})
    f.output("out", loop["n"])
    return f.build()


def flaky(failures: int) -> Callable[[int], int]:
    calls = {"n": 0}

    def fn(value: int) -> int:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise TransientError(f"flake {calls['n']}")
        return value

    return fn


def retry_then_success() -> Workflow:
    f = Flow("retry_then_success")
    x = f.input("x", type="integer")
    r = f.transform("r", fn=flaky(2), inline=True, inputs=x,
                    retry={"max_attempts": 3, "initial_delay": 0.001, "jitter": 0})
    f.output("out", r)
    return f.build()


def retry_exhausted() -> Workflow:
    f = Flow("retry_exhausted")
    x = f.input("x", type="integer")
    r = f.transform("r", fn=flaky(10), inline=True, inputs=x,
                    retry={"max_attempts": 3, "initial_delay": 0.001, "jitter": 0})
    f.output("out", r)
    return f.build()


def programmer_error() -> Workflow:
    def broken(value: int) -> int:
        raise TypeError("bad code")

    f = Flow("programmer_error")
    x = f.input("x", type="integer")
    r = f.transform("r", fn=broken, inline=True, inputs=x,
                    retry={"max_attempts": 5, "initial_delay": 0.001})
    f.output("out", r)
    return f.build()


async def hang(value: int) -> int:
    await asyncio.sleep(30)
    return value


def timeout() -> Workflow:
    f = Flow("timeout")
    x = f.input("x", type="integer")
    f.output("out", f.transform("slow", fn=hang, inputs=x, timeout=0.05))
    return f.build()


def failing_branch(*, fail_fast: bool) -> Callable[[], Workflow]:
    def build() -> Workflow:
        def boom(value: int) -> int:
            raise RuntimeError("boom")

        f = Flow("fail_fast" if fail_fast else "continue_on_error", fail_fast=fail_fast)
        x = f.input("x", type="integer")
        bad = f.transform("bad", fn=boom, inputs=x)
        f.output("bad_out", f.transform("after_bad", expression="value", inputs=bad))
        good = f.transform("good", fn=slow_double, inputs=x)
        f.output("good_out", f.transform("after_good", expression="value + 1", inputs=good))
        return f.build()

    return build


SHAPES = [
    Shape("linear", linear, {"x": 1}, outputs={"out": "result=20"},
          order=[("a", "b"), ("b", "c"), ("c", "out")]),
    Shape("fan_out_join", fan_out_join, {"x": 1}, outputs={"out": 2 * (0 + 1 + 2 + 3 + 4)},
          order=[("start", f"b{i}") for i in range(5)] + [(f"b{i}", "join") for i in range(5)]),
    Shape("diamond", diamond, {"x": 1}, outputs={"out": "4/102"},
          order=[("top", "left"), ("top", "right"), ("left", "bottom"), ("right", "bottom")]),
    Shape("conditional_true", conditional, {"n": 50}, outputs={"out": "big 50!"},
          node_status={"small": "skipped", "big": "completed", "big2": "completed"}),
    Shape("conditional_false", conditional, {"n": 5}, outputs={"out": "small 5"},
          node_status={"big": "skipped", "big2": "skipped", "small": "completed"}),
    Shape("nested_subworkflow", nested, {"x": 4}, outputs={"out": 9}, order=[("sub", "after")]),
    Shape("map", mapped, {"xs": [1, 2, 3, 4]}, outputs={"out": [1, 4, 9, 16]}),
    Shape("bounded_loop", bounded_loop, {"n": 0}, outputs={"out": 5}),
    Shape("loop_overrun", loop_overrun, {"n": 0}, status="failed",
          error_code=LoopLimitExceeded.code, node_status={"count": "failed"}),
    Shape("retry_then_success", retry_then_success, {"x": 3}, outputs={"out": 3},
          attempts={"r": 3}),
    Shape("retry_exhausted", retry_exhausted, {"x": 3}, status="failed", error_code="transient",
          attempts={"r": 3}, node_status={"r": "failed"}),
    Shape("programmer_error_not_retried", programmer_error, {"x": 3}, status="failed",
          attempts={"r": 1}, node_status={"r": "failed"}),
    Shape("timeout", timeout, {"x": 1}, status="failed", error_code=NodeTimeout.code,
          node_status={"slow": "failed"}),
    Shape("fail_fast", failing_branch(fail_fast=True), {"x": 1}, status="failed",
          node_status={"bad": "failed", "after_bad": "pending"}),
    Shape("continue_on_error", failing_branch(fail_fast=False), {"x": 1}, status="failed",
          outputs={"good_out": 3},
          node_status={"bad": "failed", "after_bad": "skipped", "after_good": "completed"}),
]
