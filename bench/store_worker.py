"""One durable-execution measurement in a fresh process:
``python -m bench.store_worker '<job as JSON>'`` prints one ``BENCH-RESULT {json}`` line.

Job kinds:

- ``chain``: an N-node chain whose every node replaces a state value of ``size`` bytes, on
  one side (plait or LangGraph) and one backend, in every durability mode and without a
  store, the variants interleaved run by run in this one process; the median wall and CPU
  time per run of each variant.
- ``state``: plait's scoped state: ``set`` and ``get`` of a ``size``-byte value.
- ``storage``: database bytes per step after runs of 10 and of 100 steps (SQLite).
- ``session``: session create, and append-one-message-and-save.
- ``bus``: the in-process event bus: events delivered per second to 1 or 10 subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.worker import report_outcome

MODES = ("sync", "async", "exit")
MAX_RUNS = {1024: 120, 102_400: 40, 1_048_576: 12}


def payload(size: int) -> str:
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


def rotate(value: str) -> str:
    """A new string of the same size (every node writes a fresh value)."""
    return value[1:] + value[0]


# -- chain: plait ----------------------------------------------------------------------------


async def _plait_chain(job: dict[str, Any], folder: Path) -> dict[str, Any]:
    from plait import Engine, Flow
    from plait.graph.memory import MemoryCheckpointStore

    n, size, backend = job["n"], job["size"], job["backend"]
    flow = Flow("chain")
    prev = flow.input("data")
    for i in range(n):
        prev = flow.transform(f"n{i}", fn=rotate, inline=True, inputs=prev)
    flow.output("out", prev)
    workflow = flow.build()
    engine = Engine()
    data = {"data": payload(size)}
    stores: Any = None
    if backend == "sqlite":
        from plait.store import open_store

        stores = await open_store(folder / "plait.db")
    elif backend == "postgres":
        from plait.store import open_store

        stores = await open_store(job["pg_url"])

    def store() -> Any:
        return MemoryCheckpointStore() if stores is None else stores.checkpoints

    async def variant(mode: str | None) -> None:
        if mode is None:
            await engine.run(workflow, data)
        else:
            await engine.run(workflow, data, store=store(), durability=mode)

    try:
        return await _interleave({m: (lambda m=m: variant(m)) for m in (None, *MODES)}, job)
    finally:
        if stores is not None:
            await stores.close()


# -- chain: LangGraph --------------------------------------------------------------------------


def _langgraph_chain(job: dict[str, Any], folder: Path) -> dict[str, Any]:
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        data: str

    def node(state: State) -> dict[str, str]:
        return {"data": rotate(state["data"])}

    graph = StateGraph(State)
    prev = START
    for i in range(job["n"]):
        graph.add_node(f"n{i}", node)
        graph.add_edge(prev, f"n{i}")
        prev = f"n{i}"
    graph.add_edge(prev, END)
    backend = job["backend"]
    bare = graph.compile()
    conn = None
    if backend in ("sqlite", "sqlite-full"):
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(folder / "langgraph.db", check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.setup()  # WAL, as SqliteSaver sets it up
        if backend == "sqlite":  # plait's setting: survives a killed process, not a power cut
            conn.execute("PRAGMA synchronous=NORMAL")
        app = graph.compile(checkpointer=saver)
    else:
        from langgraph.checkpoint.memory import InMemorySaver

        saver = InMemorySaver()
        app = graph.compile(checkpointer=saver)
    data = {"data": payload(job["size"])}
    counter = iter(range(10**9))

    async def run(mode: str | None) -> Callable[[], None] | None:
        if mode is None:
            bare.invoke(data)
            return None
        thread = f"t{next(counter)}"
        app.invoke(data, {"configurable": {"thread_id": thread}}, durability=mode)
        if conn is None:  # memory: forget the thread after the timing, so nothing grows
            return lambda: saver.delete_thread(thread)
        return None

    modes = (None, *MODES) if backend != "sqlite-full" else (None, "sync")
    try:
        return asyncio.run(_interleave({m: (lambda m=m: run(m)) for m in modes}, job))
    finally:
        if conn is not None:
            conn.close()


async def _interleave(variants: dict[str | None, Callable[[], Awaitable[Any]]],
                      job: dict[str, Any]) -> dict[str, Any]:
    """Warm each variant up, then run them round-robin until the budget is spent. A variant
    may return a cleanup function, called after its timing."""
    for fn in variants.values():
        cleanup = await fn()
        if cleanup is not None:
            cleanup()
    times: dict[str | None, list[float]] = {k: [] for k in variants}
    cpus: dict[str | None, list[float]] = {k: [] for k in variants}
    limit = MAX_RUNS.get(job["size"], 40) if not job.get("quick") else 3
    deadline = time.perf_counter() + job["budget"]
    gc.collect()
    while True:
        for key, fn in variants.items():
            c0, t0 = time.process_time(), time.perf_counter()
            cleanup = await fn()
            times[key].append(time.perf_counter() - t0)
            cpus[key].append(time.process_time() - c0)
            if cleanup is not None:
                cleanup()
        runs = len(times[None])
        if runs >= limit or (runs >= 3 and time.perf_counter() > deadline):
            break
    return {str(key): {"runs": len(times[key]), "median": statistics.median(times[key]),
                       "cpu": statistics.median(cpus[key]), "min": min(times[key])}
            for key in variants}


# -- state, sessions -------------------------------------------------------------------------


async def _open(backend: str, job: dict[str, Any], folder: Path) -> Any:
    from plait.store import open_store

    return await open_store(job["pg_url"] if backend == "postgres" else folder / "plait.db")


async def _timed(fn: Callable[[int], Awaitable[object]], count: int) -> float:
    """Median seconds per call of ``fn(i)``."""
    samples = []
    for i in range(count):
        t0 = time.perf_counter()
        await fn(i)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


async def _state(job: dict[str, Any], folder: Path) -> dict[str, Any]:
    from plait.store.state import MemoryStateStore, Scope, SqlStateStore

    backend, size = job["backend"], job["size"]
    stores = None
    if backend == "memory":
        state: Any = MemoryStateStore()
    else:
        stores = await _open(backend, job, folder)
        state = SqlStateStore(stores.db)
    scope = Scope.workflow("bench")
    value = payload(size)
    count = job["count"] if size <= 102_400 else max(job["count"] // 5, 5)
    try:
        await state.set(scope, "warm", value)
        await state.get(scope, "warm")
        write = await _timed(lambda i: state.set(scope, f"k{i}", value), count)
        read = await _timed(lambda i: state.get(scope, f"k{i}"), count)
        return {"write": write, "read": read, "count": count}
    finally:
        await state.close()
        if stores is not None:
            await stores.close()


async def _session(job: dict[str, Any], folder: Path) -> dict[str, Any]:
    from plait.store.sessions import SessionStore

    stores = await _open(job["backend"], job, folder)
    try:
        sessions = SessionStore(stores.db)
        await sessions.create()
        created: list[Any] = []

        async def create(_: int) -> None:
            created.append(await sessions.create(autosave_every=None))

        create_s = await _timed(create, job["count"])

        async def save(i: int) -> None:
            session = created[i % len(created)]
            session.append(role="user", content=f"message {i}: " + payload(200))
            await session.save()

        save_s = await _timed(save, job["count"])
        return {"create": create_s, "save": save_s, "count": job["count"]}
    finally:
        await stores.close()


# -- storage per step --------------------------------------------------------------------------


def _file_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    return int((pages - free) * page)


async def _storage(job: dict[str, Any], folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    runs = job["runs"]
    for steps in (10, 100):
        if job["side"] == "plait":
            from plait import Engine, Flow
            from plait.store import open_store
            from plait.store.retention import usage

            flow = Flow("chain")
            prev = flow.input("data")
            for i in range(steps):
                prev = flow.transform(f"n{i}", fn=rotate, inline=True, inputs=prev)
            flow.output("out", prev)
            workflow, engine = flow.build(), Engine()
            path = folder / f"plait-{steps}.db"
            async with await open_store(path) as stores:
                log = stores.runlog if job.get("run_log") else None
                before = _file_bytes(path)
                payloads = 0
                for _ in range(runs):
                    result = await engine.run(workflow, {"data": payload(job["size"])},
                                              store=stores.checkpoints, run_log=log)
                    used = await usage(stores.db, result.run_id)
                    payloads += used.checkpoint_bytes + used.event_bytes
                grown = _file_bytes(path) - before
        else:
            grown, payloads = _langgraph_storage(job, folder, steps, runs)
        out[str(steps)] = {"file_per_step": grown / (runs * steps),
                           "payload_per_step": payloads / (runs * steps)}
    return out


def _langgraph_storage(job: dict[str, Any], folder: Path, steps: int,
                       runs: int) -> tuple[int, int]:
    from typing import TypedDict

    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        data: str

    graph = StateGraph(State)
    prev = START
    for i in range(steps):
        graph.add_node(f"n{i}", lambda s: {"data": rotate(s["data"])})
        graph.add_edge(prev, f"n{i}")
        prev = f"n{i}"
    graph.add_edge(prev, END)
    path = folder / f"langgraph-{steps}.db"
    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    conn.execute("PRAGMA synchronous=NORMAL")
    app = graph.compile(checkpointer=saver)
    conn.commit()
    before = _file_bytes(path)
    for r in range(runs):
        app.invoke({"data": payload(job["size"])}, {"configurable": {"thread_id": f"t{r}"}})
    sizes = conn.execute("SELECT coalesce(sum(length(checkpoint) + length(metadata)), 0) "
                         "FROM checkpoints").fetchone()[0]
    writes = conn.execute("SELECT coalesce(sum(length(value)), 0) FROM writes").fetchone()[0]
    conn.close()
    return _file_bytes(path) - before, int(sizes) + int(writes)


# -- the event bus -------------------------------------------------------------------------


async def _bus(job: dict[str, Any]) -> dict[str, Any]:
    from plait.graph.bus import EventBus

    n, k, chunk = job["events"], job["subscribers"], 512
    topic = "run.r1.node_output"

    async def queued() -> tuple[float, int]:
        bus = EventBus(maxsize=4 * chunk)
        subs = [bus.subscribe("run.**") for _ in range(k)]
        got = [0] * k

        async def consume(i: int) -> None:
            while got[i] < n:
                got[i] += len(await subs[i].batch(chunk))

        tasks = [asyncio.ensure_future(consume(i)) for i in range(k)]
        await asyncio.sleep(0)
        t0 = time.perf_counter()
        for start in range(0, n, chunk):
            for j in range(start, min(start + chunk, n)):
                bus.publish(topic, j)
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        dropped = bus.stats().dropped
        bus.close()
        return elapsed, dropped

    async def callbacks() -> float:
        bus = EventBus()
        seen = [0]

        def on(_: object) -> None:
            seen[0] += 1

        for _ in range(k):
            bus.on("run.**", on)
        t0 = time.perf_counter()
        for j in range(n):
            bus.publish(topic, j)
        elapsed = time.perf_counter() - t0
        assert seen[0] == n * k
        bus.close()
        return elapsed

    async def publish_only() -> float:
        bus = EventBus(maxsize=1024)
        for _ in range(k):
            bus.subscribe("run.**")
        t0 = time.perf_counter()
        for j in range(n):
            bus.publish(topic, j)
        elapsed = time.perf_counter() - t0
        bus.close()
        return elapsed

    async def bare_queue() -> float:  # the floor: asyncio.Queue, no topics, no envelopes
        queues: list[asyncio.Queue[int]] = [asyncio.Queue() for _ in range(k)]

        async def consume(q: asyncio.Queue[int]) -> None:
            for _ in range(n):
                await q.get()

        tasks = [asyncio.ensure_future(consume(q)) for q in queues]
        t0 = time.perf_counter()
        for start in range(0, n, chunk):
            for j in range(start, min(start + chunk, n)):
                for q in queues:
                    q.put_nowait(j)
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return time.perf_counter() - t0

    await queued()  # warm up
    best: dict[str, list[float]] = {"queued": [], "callback": [], "publish_only": [],
                                    "asyncio_queue": []}
    drops = 0
    for _ in range(job["repeat"]):
        elapsed, dropped = await queued()
        drops += dropped
        best["queued"].append(elapsed)
        best["callback"].append(await callbacks())
        best["publish_only"].append(await publish_only())
        best["asyncio_queue"].append(await bare_queue())
    return {name: {"events_per_s": n / statistics.median(v),
                   "deliveries_per_s": n * k / statistics.median(v)}
            for name, v in best.items()} | {"dropped": drops, "events": n}


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="plait-bench-store-") as tmp:
        folder = Path(tmp)
        kind = job["kind"]
        if kind == "chain":
            if job["side"] == "langgraph":
                return _langgraph_chain(job, folder)
            return asyncio.run(_plait_chain(job, folder))
        if kind == "state":
            return asyncio.run(_state(job, folder))
        if kind == "session":
            return asyncio.run(_session(job, folder))
        if kind == "storage":
            return asyncio.run(_storage(job, folder))
        if kind == "bus":
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, {0})
            return asyncio.run(_bus(job))
        raise ValueError(f"unknown job kind {kind!r}")


if __name__ == "__main__":
    import json

    raise SystemExit(report_outcome(lambda: run_job(json.loads(sys.argv[1]))))
