"""The in-process event bus: filters, overflow policies, correlation, many subscribers,
unsubscribe on close, the engine sink."""

from __future__ import annotations

import asyncio
import gc

import pytest

from plait import Engine, Flow
from plait.errors import UsageError
from plait.graph.bus import (
    Envelope,
    EventBus,
    Overflow,
    TopicPattern,
    correlation,
    current_correlation,
    event_topic,
)
from plait.graph.events import NodeOutput, RunFinished
from plait.types import RunStatus


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("run.r1.node_output", "run.r1.node_output", True),
        ("run.r1.node_output", "run.r1.node_started", False),
        ("run.*", "run.r1", True),
        ("run.*", "run.r1.node_output", False),
        ("run.**", "run", True),
        ("run.**", "run.r1.node_output", True),
        ("run.**", "runs.r1", False),
        ("run.*.node_*", "run.r1.node_output", True),
        ("run.*.node_*", "run.r1.run_finished", False),
        ("**.run_finished", "run.r1.run_finished", True),
        ("**.run_finished", "run_finished", True),
        ("run.**.done", "run.a.b.c.done", True),
        ("run.**.done", "run.done", True),
        ("run.**.done", "run.a.b.c.done.x", False),
        ("**", "anything.at.all", True),
        ("state.tenant.?et", "state.tenant.set", True),
    ],
)
def test_topic_patterns(pattern: str, topic: str, expected: bool) -> None:
    assert TopicPattern(pattern).matches(topic) is expected


@pytest.mark.parametrize("bad", ["", "a..b", "a.b**", ".a"])
def test_bad_patterns_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        TopicPattern(bad)


def test_bad_topics_and_options_are_usage_errors() -> None:
    bus = EventBus()
    bus.subscribe("**")
    with pytest.raises(UsageError, match="wildcard"):
        bus.publish("run.*")
    with pytest.raises(UsageError, match="empty segment"):
        bus.publish("run..x")
    with pytest.raises(UsageError, match="unknown overflow policy 'lossy'"):
        bus.subscribe("a", overflow="lossy")
    with pytest.raises(UsageError, match="maxsize"):
        bus.subscribe("a", maxsize=0)


async def test_filters_route_to_matching_subscribers_only() -> None:
    bus = EventBus()
    outputs = bus.subscribe("run.*.node_output")
    run1 = bus.subscribe("run.r1.**")
    everything = bus.subscribe()
    for topic in ("run.r1.node_started", "run.r1.node_output", "run.r2.node_output",
                  "state.global.set"):
        bus.publish(topic, topic)
    bus.close()
    assert [e.payload async for e in outputs] == ["run.r1.node_output", "run.r2.node_output"]
    assert [e.payload async for e in run1] == ["run.r1.node_started", "run.r1.node_output"]
    assert len([e async for e in everything]) == 4


async def test_nobody_listening_builds_nothing() -> None:
    bus = EventBus()
    assert bus.publish("run.r1.node_output", object()) == 0
    stats = bus.stats()
    assert (stats.published, stats.unrouted) == (0, 1)


async def test_envelopes_carry_order_and_correlation() -> None:
    bus = EventBus()
    sub = bus.subscribe("**")
    bus.publish("a", 1)
    bus.publish("a", 2, correlation_id="explicit")
    with correlation("req-7"):
        assert current_correlation() == "req-7"
        bus.publish("a", 3)

        async def child() -> None:  # tasks inherit the context
            bus.publish("a", 4)

        await asyncio.create_task(child())
        bus.publish("a", 5, correlation_id="override")
    assert current_correlation() is None
    envs = sub.drain()
    assert [e.correlation_id for e in envs] == [None, "explicit", "req-7", "req-7", "override"]
    assert [e.seq for e in envs] == sorted(e.seq for e in envs)
    assert all(isinstance(e, Envelope) and e.ts > 0 for e in envs)


async def test_drop_oldest_keeps_the_newest() -> None:
    bus = EventBus()
    sub = bus.subscribe("t", maxsize=3, overflow="drop_oldest")
    for i in range(10):
        bus.publish("t", i)
    assert [e.payload for e in sub.drain()] == [7, 8, 9]
    assert (sub.stats.dropped, sub.stats.received, sub.stats.queued) == (7, 10, 0)


async def test_drop_newest_keeps_the_oldest() -> None:
    bus = EventBus()
    sub = bus.subscribe("t", maxsize=3, overflow=Overflow.DROP_NEWEST)
    for i in range(10):
        bus.publish("t", i)
    assert [e.payload for e in sub.drain()] == [0, 1, 2]
    assert sub.stats.dropped == 7
    assert bus.stats().dropped == 7


async def test_a_slow_subscriber_never_blocks_publish() -> None:
    bus = EventBus()
    slow = bus.subscribe("t", maxsize=2, overflow="block", timeout=10)
    fast = bus.subscribe("t", maxsize=100)
    for i in range(50):  # synchronous publish cannot wait: a full block queue drops (counted)
        bus.publish("t", i)
    assert slow.stats.dropped == 48
    assert len(fast.drain()) == 50


async def test_block_makes_send_wait_for_room() -> None:
    bus = EventBus()
    sub = bus.subscribe("t", maxsize=2, overflow="block", timeout=5)
    got: list[object] = []

    async def consumer() -> None:
        async for env in sub:
            got.append(env.payload)
            await asyncio.sleep(0)
            if len(got) == 20:
                return

    task = asyncio.create_task(consumer())
    for i in range(20):
        await bus.send("t", i)
        assert sub.stats.queued <= 2
    await asyncio.wait_for(task, 5)
    assert got == list(range(20))
    assert sub.stats.dropped == 0


async def test_block_send_gives_up_after_the_timeout() -> None:
    bus = EventBus()
    sub = bus.subscribe("t", maxsize=1, overflow="block", timeout=0.01)
    await bus.send("t", 1)
    await bus.send("t", 2)  # nobody consumes: waits 10 ms, then drops
    assert [e.payload for e in sub.drain()] == [1]
    assert sub.stats.dropped == 1


async def test_many_subscribers_each_get_every_event() -> None:
    bus = EventBus(maxsize=10_000)
    subs = [bus.subscribe("run.**") for _ in range(25)]
    results: list[list[object]] = [[] for _ in subs]

    async def consume(i: int) -> None:
        async for env in subs[i]:
            results[i].append(env.payload)

    tasks = [asyncio.create_task(consume(i)) for i in range(len(subs))]
    for i in range(1000):
        bus.publish(f"run.r{i % 3}.node_output", i)
        if i % 100 == 0:
            await asyncio.sleep(0)
    bus.close()
    await asyncio.gather(*tasks)
    assert all(r == list(range(1000)) for r in results)


async def test_leaving_the_loop_unsubscribes() -> None:
    bus = EventBus()
    bus.publish("t", 0)

    async def first() -> object:
        async for env in bus.subscribe("t"):
            return env.payload
        return None

    task = asyncio.create_task(first())
    await asyncio.sleep(0)
    assert bus.subscribers == 1
    bus.publish("t", 1)
    assert await task == 1
    gc.collect()
    assert bus.subscribers == 0

    async with bus.subscribe("t") as sub:
        assert bus.subscribers == 1
    assert bus.subscribers == 0
    assert sub.closed
    assert [e async for e in sub] == []


async def test_close_ends_iteration_after_the_queue_drains() -> None:
    bus = EventBus()
    sub = bus.subscribe("t")
    bus.publish("t", 1)
    bus.publish("t", 2)
    bus.close()
    assert [e.payload async for e in sub] == [1, 2]
    assert bus.subscribe("t").closed  # subscribing to a closed bus yields nothing
    assert bus.publish("t", 3) == 0


async def test_get_and_batch() -> None:
    bus = EventBus()
    sub = bus.subscribe("t")
    with pytest.raises(TimeoutError):
        await sub.get(timeout=0.01)
    for i in range(5):
        bus.publish("t", i)
    assert (await sub.get()).payload == 0
    assert [e.payload for e in await sub.batch(2)] == [1, 2]
    assert [e.payload for e in await sub.batch()] == [3, 4]
    sub.close()
    assert await sub.batch() == []


async def test_sync_callbacks_run_inline_and_errors_are_contained() -> None:
    bus = EventBus()
    seen: list[object] = []
    unsubscribe = bus.on("t.*", lambda env: seen.append(env.payload))

    def broken(env: Envelope) -> None:
        raise RuntimeError("boom")

    bus.on("t.*", broken)
    bus.publish("t.a", 1)
    assert seen == [1]
    assert [s.errors for s in bus.stats().subscribers] == [0, 1]
    unsubscribe()
    bus.publish("t.a", 2)
    assert seen == [1]


async def test_async_callbacks_get_their_own_queue() -> None:
    bus = EventBus()
    seen: list[object] = []

    async def slow(env: Envelope) -> None:
        await asyncio.sleep(0)
        seen.append(env.payload)

    bus.on("t", slow, maxsize=100)
    for i in range(10):
        bus.publish("t", i)
    await bus.aclose()
    assert seen == list(range(10))


def test_async_callbacks_need_a_loop() -> None:
    async def cb(env: Envelope) -> None: ...

    with pytest.raises(UsageError, match="running event loop"):
        EventBus().on("t", cb)


async def test_the_bus_is_an_engine_event_sink() -> None:
    flow = Flow("greet")
    name = flow.input("name", type="string")
    flow.output("greeting", flow.transform("hello", template="Hi {{ value }}", inputs=name))
    spec = flow.build()

    bus = EventBus()
    outputs = bus.subscribe("run.*.node_output")
    finished = bus.subscribe("run.*.run_finished")
    engine = Engine()
    engine.subscribe(bus.sink())
    await engine.run(spec, {"name": "Ada"}, run_id="r1")
    bus.close()
    envs = [e async for e in outputs]
    assert {e.payload.node_id for e in envs if isinstance(e.payload, NodeOutput)} >= {"hello"}
    assert all(e.topic.startswith("run.r1.") and e.correlation_id == "r1" for e in envs)
    (done,) = [e async for e in finished]
    assert isinstance(done.payload, RunFinished)
    assert event_topic(done.payload) == "run.r1.run_finished"
    assert event_topic(done.payload, "jobs.7") == "jobs.7.run_finished"


async def test_a_sink_with_a_fixed_topic_and_correlation() -> None:
    bus = EventBus()
    sub = bus.subscribe("jobs.**")
    engine = Engine()
    flow = Flow("one")
    x = flow.input("x", type="string")
    flow.output("y", flow.transform("t", template="{{ value }}", inputs=x))
    await engine.run(flow.build(), {"x": "a"}, on_event=bus.sink("jobs.7", correlation_id="c"))
    envs = sub.drain()
    assert envs
    assert all(e.topic.startswith("jobs.7.") for e in envs)
    assert {e.correlation_id for e in envs} == {"c"}


def test_a_sink_never_raises_into_the_engine() -> None:
    bus = EventBus()
    sub = bus.subscribe("**")
    sink = bus.sink()
    sink(RunFinished(run_id="bad..id*", ts=0.0, status=RunStatus.COMPLETED, outputs={},
                     error=None, code=None, duration=0.0))
    assert sub.drain() == []
