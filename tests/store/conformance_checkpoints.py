"""One conformance suite for every :class:`CheckpointStore` and :class:`RunLog` backend.

Subclass :class:`CheckpointStoreConformance` in a ``test_*.py`` module and provide the
``store`` and ``runlog`` fixtures (fresh and empty for each test). Class attributes switch off
what a backend does not promise:

- ``hashes_outputs``: the store sets ``lineage["output_hash"]`` (blake3 of canonical JSON);
- ``prune_removes_events``: pruning a run also removes its run-log events (one database).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar

import pytest

from plait.errors import UsageError
from plait.graph.durability import (
    CheckpointStore,
    JSONValue,
    LoggedEvent,
    NodeCheckpoint,
    RunLog,
    RunRecord,
)
from plait.store.codec import output_hash
from plait.types import RunStatus

SPEC: dict[str, JSONValue] = {"version": 1, "name": "wf", "nodes": [{"id": "a", "kind": "echo"}]}

# Every JSON shape a node may return, including the ones databases like to mangle.
JSON_VALUES: list[JSONValue] = [
    None, True, False, 0, -1, 7, 2**53 + 1, 2**70, -(2**63), 0.1, -2.5, 1e300, 1.0, 5e-324,
    "", "2", "1.0", "true", "null", "plain", "é ü ß", "日本語のテキスト", "emoji 🧵🪡", "עברית",
    "e\u0301", "tab\tnew\nline\r", "nul\x00byte", "\u2028\u2029", "quote\" back\\slash",
    [], {}, [1, "two", 3.0, None, True, [], {}],
    {"z": 1, "a": 2, "m": {"y": [1, {"b": None, "a": "x"}], "é": "ü"}},
    {"": "empty key", " ": "space", "ключ": "значение", "1": "digit key"},
    {"deep": [[[[[[[[[[{"k": [1, [2, [3]]]}]]]]]]]]]]},
    "x" * 10_000,
]


def record(run_id: str, *, workflow: str = "wf", status: RunStatus = RunStatus.RUNNING,
           created_at: float = 1_000.0, updated_at: float | None = None,
           **extra: object) -> RunRecord:
    return RunRecord(run_id=run_id, workflow=workflow, spec=SPEC, digest="sha256:abc",
                     inputs={"topic": "storage"}, status=status, created_at=created_at,
                     updated_at=created_at if updated_at is None else updated_at,
                     **extra)  # type: ignore[arg-type]


def checkpoint(run_id: str, seq: int, *, node: str | None = None,
               output: JSONValue = None, **extra: object) -> NodeCheckpoint:
    return NodeCheckpoint(run_id=run_id, seq=seq, node_id=node or f"n{seq}", status="completed",
                          output=output if output is not None else {"seq": seq},
                          ts=2_000.0 + seq, **extra)  # type: ignore[arg-type]


def exact(value: object) -> str:
    """A value's JSON with key order and number types kept: equal text, equal value."""
    return json.dumps(value, ensure_ascii=False)


class CheckpointStoreConformance:
    hashes_outputs: ClassVar[bool] = True
    prune_removes_events: ClassVar[bool] = True

    @pytest.fixture
    def store(self) -> CheckpointStore:
        raise NotImplementedError("a backend's test class provides a fresh, empty store")

    @pytest.fixture
    def runlog(self) -> RunLog:
        raise NotImplementedError("a backend's test class provides a fresh, empty run log")

    def plain(self, cp: NodeCheckpoint) -> NodeCheckpoint:
        """``cp`` as compared: interrupts as a list, lineage without the store's hash."""
        lineage = {k: v for k, v in cp.lineage.items() if k != "output_hash"}
        return replace(cp, interrupts=[dict(i) for i in cp.interrupts], lineage=lineage)

    # protocols

    def test_implements_the_protocols(self, store: CheckpointStore, runlog: RunLog) -> None:
        assert isinstance(store, CheckpointStore)
        assert isinstance(runlog, RunLog)

    # runs

    async def test_a_run_round_trips(self, store: CheckpointStore) -> None:
        run = record("r1", parent_id="r0", tenant="acme", session_id="s1",
                     labels={"env": "test", "team": "δ"}, outputs={"answer": [1, 2]},
                     error="boom", code="node_failed", updated_at=1_001.5)
        await store.create_run(run)
        got = await store.get_run("r1")
        assert got == run
        assert got is not None
        assert isinstance(got.status, RunStatus)
        assert exact(got.spec) == exact(SPEC)

    async def test_an_unknown_run_is_none(self, store: CheckpointStore) -> None:
        assert await store.get_run("nope") is None
        assert await store.checkpoints("nope") == []
        assert await store.answers("nope") == {}

    async def test_creating_a_run_twice_is_refused(self, store: CheckpointStore) -> None:
        await store.create_run(record("r1", workflow="first"))
        with pytest.raises(UsageError, match="r1"):
            await store.create_run(record("r1", workflow="second"))
        got = await store.get_run("r1")
        assert got is not None
        assert got.workflow == "first"

    async def test_update_sets_status_error_code_and_outputs(
            self, store: CheckpointStore) -> None:
        await store.create_run(record("r1", outputs={"old": 1}))
        await store.update_run("r1", status=RunStatus.FAILED, error="it broke",
                               code="node_failed")
        got = await store.get_run("r1")
        assert got is not None
        assert (got.status, got.error, got.code) == (RunStatus.FAILED, "it broke", "node_failed")
        assert got.outputs == {"old": 1}, "outputs stay when not given"
        assert got.updated_at > 1_000.0
        await store.update_run("r1", status=RunStatus.COMPLETED, outputs={"new": "ü"})
        got = await store.get_run("r1")
        assert got is not None
        assert (got.status, got.error, got.code) == (RunStatus.COMPLETED, None, None)
        assert got.outputs == {"new": "ü"}
        assert got.created_at == 1_000.0

    async def test_updating_an_unknown_run_is_refused(self, store: CheckpointStore) -> None:
        with pytest.raises(UsageError, match="nope"):
            await store.update_run("nope", status=RunStatus.COMPLETED)

    async def test_list_is_most_recent_first_with_filters_and_limit(
            self, store: CheckpointStore) -> None:
        for i, (workflow, status) in enumerate([
                ("a", RunStatus.COMPLETED), ("b", RunStatus.COMPLETED), ("a", RunStatus.FAILED),
                ("b", RunStatus.WAITING), ("a", RunStatus.COMPLETED)]):
            await store.create_run(record(f"r{i}", workflow=workflow, status=status,
                                          created_at=100.0 + i))
        ids = [r.run_id for r in await store.list_runs()]
        assert ids == ["r4", "r3", "r2", "r1", "r0"]
        assert [r.run_id for r in await store.list_runs(workflow="a")] == ["r4", "r2", "r0"]
        assert [r.run_id for r in await store.list_runs(status=RunStatus.COMPLETED)] == [
            "r4", "r1", "r0"]
        assert [r.run_id for r in await store.list_runs(
            workflow="a", status=RunStatus.COMPLETED)] == ["r4", "r0"]
        assert [r.run_id for r in await store.list_runs(limit=2)] == ["r4", "r3"]
        assert await store.list_runs(workflow="none") == []
        # an update makes a run the most recent
        await store.update_run("r0", status=RunStatus.CANCELLED)
        assert [r.run_id for r in await store.list_runs(limit=1)] == ["r0"]

    # checkpoints

    async def test_checkpoints_come_back_in_seq_order_with_every_field(
            self, store: CheckpointStore) -> None:
        await store.create_run(record("r1"))
        waiting = NodeCheckpoint(
            run_id="r1", seq=2, node_id="ask", status="waiting", output=None, branch="yes",
            attempts=3, error="e", code="c", reason="needs a human",
            interrupts=[{"id": "i1", "prompt": "Approve?", "schema": {"type": "boolean"},
                         "default": False, "timeout": 30.0}],
            lineage={"model": "smollm2", "prompt_hash": "abc"}, ts=12.5)
        await store.append([checkpoint("r1", 3), checkpoint("r1", 1)])
        await store.append([waiting])
        got = await store.checkpoints("r1")
        assert [c.seq for c in got] == [1, 2, 3]
        assert self.plain(got[1]) == self.plain(waiting)
        assert got[1].lineage["model"] == "smollm2"
        assert self.plain(got[0]) == self.plain(checkpoint("r1", 1))

    async def test_an_empty_batch_is_a_no_op(self, store: CheckpointStore) -> None:
        await store.append([])

    async def test_a_checkpoint_is_never_rewritten(self, store: CheckpointStore) -> None:
        await store.create_run(record("r1"))
        await store.append([checkpoint("r1", 1, output="first")])
        with pytest.raises(UsageError, match=r"immutable|already"):
            await store.append([checkpoint("r1", 1, output="second")])
        assert [c.output for c in await store.checkpoints("r1")] == ["first"]

    async def test_a_failing_batch_leaves_nothing(self, store: CheckpointStore) -> None:
        await store.create_run(record("r1"))
        await store.create_run(record("r2"))
        await store.append([checkpoint("r1", 1)])
        with pytest.raises(UsageError):
            await store.append([checkpoint("r2", 1), checkpoint("r1", 2), checkpoint("r1", 1)])
        assert [c.seq for c in await store.checkpoints("r1")] == [1]
        assert await store.checkpoints("r2") == []

    async def test_a_batch_repeating_a_key_is_refused(self, store: CheckpointStore) -> None:
        await store.create_run(record("r1"))
        with pytest.raises(UsageError):
            await store.append([checkpoint("r1", 1), checkpoint("r1", 2, output="a"),
                                checkpoint("r1", 2, output="b")])
        assert await store.checkpoints("r1") == []

    async def test_checkpoints_need_a_stored_run(self, store: CheckpointStore) -> None:
        await store.create_run(record("r1"))
        with pytest.raises(UsageError, match="nope"):
            await store.append([checkpoint("r1", 1), checkpoint("nope", 1)])
        assert await store.checkpoints("r1") == []
        assert await store.checkpoints("nope") == []

    async def test_every_json_value_round_trips(self, store: CheckpointStore) -> None:
        outputs = {f"out{i}": value for i, value in enumerate(JSON_VALUES)}
        await store.create_run(record("r1", outputs=outputs, labels={"k": "ü"}))
        await store.append([NodeCheckpoint(run_id="r1", seq=i, node_id=f"n{i}",
                                           status="completed", output=value,
                                           lineage={"v": value})
                            for i, value in enumerate(JSON_VALUES)])
        for i, value in enumerate(JSON_VALUES):
            await store.answer("r1", f"i{i}", value)
        stored = await store.checkpoints("r1")
        answers = await store.answers("r1")
        run = await store.get_run("r1")
        assert run is not None
        wrong = [
            (what, value, got) for i, value in enumerate(JSON_VALUES)
            for what, got in (("output", stored[i].output), ("lineage", stored[i].lineage["v"]),
                              ("answer", answers[f"i{i}"]), ("run outputs", run.outputs[f"out{i}"]))
            if exact(got) != exact(value)]
        assert wrong == [], "values changed on the way through the store"

    async def test_the_output_hash_is_blake3_of_canonical_json(
            self, store: CheckpointStore) -> None:
        if not self.hashes_outputs:
            pytest.skip("this store does not hash outputs")
        await store.create_run(record("r1"))
        await store.append([
            checkpoint("r1", 1, output={"b": 1, "a": [1, "é"]}, lineage={"model": "m"}),
            checkpoint("r1", 2, output={"a": [1, "é"], "b": 1}),
            checkpoint("r1", 3, output="text"),
        ])
        one, two, three = await store.checkpoints("r1")
        assert one.lineage["output_hash"] == output_hash({"a": [1, "é"], "b": 1})
        assert one.lineage["output_hash"] == two.lineage["output_hash"]
        assert one.lineage["model"] == "m"
        assert three.lineage["output_hash"] == output_hash("text") != one.lineage["output_hash"]

    async def test_concurrent_appends_to_many_runs(self, store: CheckpointStore) -> None:
        runs, steps = 30, 20
        await asyncio.gather(*(store.create_run(record(f"r{i}")) for i in range(runs)))

        async def work(i: int) -> None:
            for seq in range(1, steps + 1, 2):  # single checkpoints and pairs, interleaved
                if seq % 4 == 1:
                    await store.append([checkpoint(f"r{i}", seq, output={"run": i, "s": seq}),
                                        checkpoint(f"r{i}", seq + 1, output={"run": i})])
                else:
                    await store.append([checkpoint(f"r{i}", seq, output={"run": i, "s": seq})])
                    await store.append([checkpoint(f"r{i}", seq + 1, output={"run": i})])

        await asyncio.gather(*(work(i) for i in range(runs)))
        for i in range(runs):
            got = await store.checkpoints(f"r{i}")
            assert [c.seq for c in got] == list(range(1, steps + 1))
            assert all(isinstance(c.output, dict) and c.output["run"] == i for c in got)

    # answers

    async def test_answers_are_stored_and_replaced(self, store: CheckpointStore) -> None:
        await store.create_run(record("r1", status=RunStatus.WAITING))
        await store.create_run(record("r2", status=RunStatus.WAITING))
        await store.answer("r1", "i1", "no")
        await store.answer("r1", "i2", {"approved": True})
        await store.answer("r1", "i1", "yes")
        await store.answer("r2", "i1", 3)
        assert await store.answers("r1") == {"i1": "yes", "i2": {"approved": True}}
        assert await store.answers("r2") == {"i1": 3}

    async def test_answering_an_unknown_run_is_refused(self, store: CheckpointStore) -> None:
        with pytest.raises(UsageError, match="nope"):
            await store.answer("nope", "i1", True)

    # retention

    async def _finished_runs(self, store: CheckpointStore, runlog: RunLog) -> None:
        """wf a: a0..a3 completed/failed (updated 10..13), a4 waiting, a5 running, a6 pending;
        wf b: b0, b1 completed (updated 20, 21) and b2 cancelled (5)."""
        specs: list[tuple[str, str, RunStatus, float]] = [
            ("a0", "a", RunStatus.COMPLETED, 10), ("a1", "a", RunStatus.FAILED, 11),
            ("a2", "a", RunStatus.COMPLETED, 12), ("a3", "a", RunStatus.COMPLETED, 13),
            ("a4", "a", RunStatus.WAITING, 1), ("a5", "a", RunStatus.RUNNING, 2),
            ("a6", "a", RunStatus.PENDING, 3), ("b0", "b", RunStatus.COMPLETED, 20),
            ("b1", "b", RunStatus.COMPLETED, 21), ("b2", "b", RunStatus.CANCELLED, 5)]
        for run_id, workflow, status, at in specs:
            await store.create_run(record(run_id, workflow=workflow, status=status,
                                          created_at=at))
            await store.append([checkpoint(run_id, 1), checkpoint(run_id, 2)])
            await store.answer(run_id, "i", run_id)
            await runlog.append_events([LoggedEvent(run_id, 1, "RunStarted", {}, at)])

    async def _ids(self, store: CheckpointStore) -> list[str]:
        return sorted(r.run_id for r in await store.list_runs(limit=1000))

    async def test_prune_keeps_the_last_n_finished_runs_per_workflow(
            self, store: CheckpointStore, runlog: RunLog) -> None:
        await self._finished_runs(store, runlog)
        assert await store.prune(keep_last=2) == 3
        assert await self._ids(store) == ["a2", "a3", "a4", "a5", "a6", "b0", "b1"]
        assert await store.checkpoints("a0") == []
        assert await store.answers("a0") == {}
        assert await store.get_run("a1") is None
        if self.prune_removes_events:
            assert await runlog.events("a0") == []
        assert len(await store.checkpoints("a2")) == 2
        assert await store.answers("a2") == {"i": "a2"}
        assert len(await runlog.events("a2")) == 1
        assert await store.prune(keep_last=2) == 0

    async def test_prune_drops_finished_runs_older_than_a_time(
            self, store: CheckpointStore, runlog: RunLog) -> None:
        await self._finished_runs(store, runlog)
        assert await store.prune(older_than=12.5) == 4  # a0, a1, a2, b2; never a4..a6
        assert await self._ids(store) == ["a3", "a4", "a5", "a6", "b0", "b1"]

    async def test_prune_rules_combine_and_never_touch_live_runs(
            self, store: CheckpointStore, runlog: RunLog) -> None:
        await self._finished_runs(store, runlog)
        assert await store.prune() == 0
        # a0 by count (a keeps a1..a3); a0..a3, b0 and b2 by age: six runs, a0 counted once
        assert await store.prune(keep_last=3, older_than=20.5) == 6
        assert await self._ids(store) == ["a4", "a5", "a6", "b1"]
        assert await store.prune(keep_last=0) == 1
        assert await self._ids(store) == ["a4", "a5", "a6"]
        assert [len(await store.checkpoints(r)) for r in ("a4", "a5", "a6")] == [2, 2, 2]

    # run log

    async def test_events_come_back_in_order_and_page(self, runlog: RunLog) -> None:
        await runlog.append_events([LoggedEvent("r1", seq, "NodeOutput", {"seq": seq, "ü": [seq]},
                                                100.0 + seq) for seq in range(1, 11)])
        await runlog.append_events([LoggedEvent("r2", 1, "RunStarted", {}, 1.0)])
        await runlog.append_events([LoggedEvent("r1", seq, "NodeOutput", {"seq": seq},
                                                100.0 + seq) for seq in (13, 11, 12)])
        events = await runlog.events("r1")
        assert [e.seq for e in events] == list(range(1, 14))
        assert events[0] == LoggedEvent("r1", 1, "NodeOutput", {"seq": 1, "ü": [1]}, 101.0)
        pages: list[list[int]] = []
        after = 0
        while page := await runlog.events("r1", after=after, limit=4):
            pages.append([e.seq for e in page])
            after = page[-1].seq
        assert pages == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13]]
        assert [e.seq for e in await runlog.events("r1", after=11)] == [12, 13]
        assert await runlog.events("r1", limit=0) == []
        assert await runlog.events("none") == []
        assert [e.type for e in await runlog.events("r2")] == ["RunStarted"]

    async def test_events_are_immutable_and_batches_atomic(self, runlog: RunLog) -> None:
        await runlog.append_events([LoggedEvent("r1", 1, "RunStarted", {"a": 1}, 1.0)])
        with pytest.raises(UsageError):
            await runlog.append_events([LoggedEvent("r1", 2, "NodeStarted", {}, 2.0),
                                        LoggedEvent("r1", 1, "RunStarted", {"a": 2}, 3.0)])
        with pytest.raises(UsageError):
            await runlog.append_events([LoggedEvent("r1", 3, "NodeStarted", {}, 2.0),
                                        LoggedEvent("r1", 3, "NodeStarted", {}, 2.0)])
        assert await runlog.events("r1") == [LoggedEvent("r1", 1, "RunStarted", {"a": 1}, 1.0)]
        await runlog.append_events([])

    async def test_event_data_round_trips(self, runlog: RunLog) -> None:
        data: list[Mapping[str, JSONValue]] = [{"value": value, "ключ": "ü"}
                                               for value in JSON_VALUES]
        await runlog.append_events([LoggedEvent("r1", seq, "NodeOutput", d, 1.0)
                                    for seq, d in enumerate(data, start=1)])
        got = [e.data for e in await runlog.events("r1")]
        assert [exact(d) for d in got] == [exact(d) for d in data]

    async def test_concurrent_event_batches(self, runlog: RunLog) -> None:
        async def work(i: int) -> None:
            for start in range(1, 41, 8):
                await runlog.append_events([LoggedEvent(f"r{i}", seq, "E", {"i": i}, 0.0)
                                            for seq in range(start, start + 8)])

        await asyncio.gather(*(work(i) for i in range(20)))
        for i in range(20):
            assert [e.seq for e in await runlog.events(f"r{i}")] == list(range(1, 41))
