"""Hooks (each point and result) and the event stream's cost when nobody listens."""

from __future__ import annotations

import pytest

from plait import (
    Continue,
    Engine,
    Flow,
    Hook,
    Modify,
    NodeCall,
    NodeFailure,
    NodeOutcome,
    Replace,
    Retry,
    RunCall,
    RunOutcome,
    Skip,
    TransientError,
    UsageError,
)
from plait.graph import execution, scheduler
from plait.graph.events import event_to_dict
from plait.graph.state import NodeStatus

from .conftest import Recorder


def chain() -> Flow:
    f = Flow("hooked")
    x = f.input("x", type="integer")
    a = f.transform("a", expression="value + 1", inputs=x)
    b = f.transform("b", expression="value * 10", inputs=a)
    f.output("out", b)
    return f


class Log(Hook):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def before_run(self, call: RunCall) -> Continue:
        self.calls.append(f"before_run:{call.inputs['x']}")
        return Continue()

    async def after_run(self, outcome: RunOutcome) -> Continue:
        self.calls.append(f"after_run:{outcome.status.value}")
        return Continue()

    def before_node(self, call: NodeCall) -> Continue:
        self.calls.append(f"before:{call.node_id}")
        return Continue()

    def after_node(self, outcome: NodeOutcome) -> Continue:
        self.calls.append(f"after:{outcome.node_id}={outcome.value}")
        return Continue()


async def test_hook_points_are_called_in_order() -> None:
    log = Log()
    result = await Engine(hooks=[log]).run(chain().build(), {"x": 1})
    assert result.outputs == {"out": 20}
    assert log.calls == ["before_run:1", "before:a", "after:a=2", "before:b", "after:b=20",
                         "before:out", "after:out=20", "after_run:completed"]


async def test_modify_inputs_and_outputs() -> None:
    class Tweak(Hook):
        def before_run(self, call: RunCall) -> Modify:
            return Modify({"x": 5})

        def before_node(self, call: NodeCall) -> Modify | Continue:
            if call.node_id == "b":
                return Modify({"value": 100})
            return Continue()

        async def after_node(self, outcome: NodeOutcome) -> Modify | Continue:
            if outcome.node_id == "b":
                return Modify(outcome.value + 1)  # type: ignore[operator]
            return Continue()

    result = await Engine(hooks=[Tweak()]).run(chain().build(), {"x": 1})
    assert result.outputs == {"out": 1001}


async def test_skip_and_replace_before_a_node() -> None:
    class SkipA(Hook):
        def before_node(self, call: NodeCall) -> Skip | Continue:
            return Skip("not today") if call.node_id == "a" else Continue()

    result = await Engine(hooks=[SkipA()]).run(chain().build(), {"x": 1})
    assert result.nodes["a"].status is NodeStatus.SKIPPED
    assert result.nodes["a"].reason == "not today"
    assert result.nodes["b"].status is NodeStatus.SKIPPED
    assert result.outputs == {}

    class Cached(Hook):
        def before_node(self, call: NodeCall) -> Replace | Continue:
            return Replace(7) if call.node_id == "a" else Continue()

    result = await Engine(hooks=[Cached()]).run(chain().build(), {"x": 1})
    assert result.outputs == {"out": 70}


async def test_on_error_can_replace_retry_or_skip() -> None:
    calls = {"n": 0}

    def flaky(value: int) -> int:
        calls["n"] += 1
        if calls["n"] < 3:
            raise RuntimeError("not yet")
        return value

    def flow() -> Flow:
        f = Flow("errors")
        x = f.input("x")
        f.output("out", f.transform("f", fn=flaky, inline=True, inputs=x,
                                    retry={"max_attempts": 5, "initial_delay": 0}))
        return f

    class Fallback(Hook):
        def on_node_error(self, failure: NodeFailure) -> Replace:
            return Replace(-1)

    calls["n"] = 0
    assert (await Engine(hooks=[Fallback()]).run(flow().build(), {"x": 4})).outputs == {
        "out": -1}

    class Again(Hook):
        def on_node_error(self, failure: NodeFailure) -> Retry:
            return Retry(delay=0)

    calls["n"] = 0
    result = await Engine(hooks=[Again()]).run(flow().build(), {"x": 4})
    assert result.outputs == {"out": 4}
    assert result.nodes["f"].attempts == 3

    class Drop(Hook):
        def on_node_error(self, failure: NodeFailure) -> Skip:
            return Skip("dropped")

    calls["n"] = 0
    result = await Engine(hooks=[Drop()]).run(flow().build(), {"x": 4})
    assert result.nodes["f"].status is NodeStatus.SKIPPED


async def test_after_node_retry_is_bounded_by_the_policy() -> None:
    class Picky(Hook):
        def after_node(self, outcome: NodeOutcome) -> Retry:
            return Retry()

    f = Flow("picky")
    x = f.input("x")
    f.output("out", f.transform("t", expression="value", inputs=x,
                                retry={"max_attempts": 2, "initial_delay": 0}))
    result = await Engine(hooks=[Picky()]).run(f.build(), {"x": 1}, check=False)
    assert result.nodes["t"].attempts == 2
    assert "attempts are used" in (result.nodes["t"].error or "")


async def test_wrap_node_surrounds_the_call() -> None:
    class Wrap(Hook):
        async def wrap_node(self, call: NodeCall, call_next) -> object:  # type: ignore[no-untyped-def]
            value = await call_next(call)
            return f"<{value}>" if call.node_id == "b" else value

    result = await Engine(hooks=[Wrap()]).run(chain().build(), {"x": 1})
    assert result.outputs == {"out": "<20>"}


async def test_transient_errors_are_retried_with_events(recorder: Recorder) -> None:
    calls = {"n": 0}

    def once(value: int) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("blip")
        return value

    f = Flow("retry_events")
    x = f.input("x")
    f.output("out", f.transform("t", fn=once, inputs=x,
                                retry={"max_attempts": 2, "initial_delay": 0}))
    engine = Engine()
    engine.subscribe(recorder)
    await engine.run(f.build(), {"x": 1})
    names = recorder.names()
    assert names == ["RunStarted", "NodeStarted:t", "NodeFailed:t", "NodeRetrying:t",
                     "NodeStarted:t", "NodeOutput:t", "NodeStarted:out", "NodeOutput:out",
                     "RunFinished"]
    assert event_to_dict(recorder.events[3])["type"] == "node_retrying"


async def test_no_event_is_built_when_nobody_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("an event was built with no listener")

    for name in ("RunStarted", "NodeStarted", "NodeOutput", "NodeSkipped", "NodeFailed",
                 "NodeRetrying", "RunFinished"):
        for module in (scheduler, execution):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, forbidden)
    f = chain()
    c = f.condition("c", expression="value > 100", inputs=f.input("x", type="integer"))
    f.transform("never", expression="value", inputs=c.on(True))
    result = await Engine().run(f.build(), {"x": 1})
    assert result.outputs == {"out": 20}


def test_hooks_must_subclass_hook() -> None:
    with pytest.raises(UsageError, match=r"plait\.Hook"):
        Engine(hooks=[object()])  # type: ignore[list-item]


async def test_unsubscribe_stops_delivery(recorder: Recorder) -> None:
    engine = Engine()
    unsubscribe = engine.subscribe(recorder)
    await engine.run(chain().build(), {"x": 1})
    seen = len(recorder.events)
    unsubscribe()
    await engine.run(chain().build(), {"x": 1})
    assert len(recorder.events) == seen > 0


async def test_typed_subscription_gets_only_its_types_and_builds_no_node_events(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from plait import RunFinished

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a node event was built for a run-level subscriber")

    for name in ("NodeStarted", "NodeOutput", "NodeSkipped", "NodeFailed", "NodeRetrying"):
        for module in (scheduler, execution):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, forbidden)
    engine = Engine()
    finished = Recorder()
    engine.subscribe(finished, types={RunFinished})
    await engine.run(chain().build(), {"x": 1})
    assert [type(e).__name__ for e in finished.events] == ["RunFinished"]
    assert finished.events[0].outputs == {"out": 20}  # type: ignore[attr-defined]
