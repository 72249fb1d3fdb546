"""The live view: the tracker driven by real runs, the table, and plain log lines."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console

from plait.cli.progress import LiveTable, RunTracker, format_duration, plain_line
from plait.errors import TransientError
from plait.graph.events import Event
from plait.graph.spec import WorkflowSpec
from plait.nodes.defaults import Engine, Flow


def _run(flow: Flow, inputs: dict[str, object] | None = None) -> tuple[RunTracker, list[Event]]:
    workflow = flow.build()
    seen: list[Event] = []
    tracker = RunTracker(workflow.spec, seen.append)
    engine = Engine(functions=workflow.functions)
    result = asyncio.run(engine.run(workflow, inputs, check=False, on_event=tracker))
    tracker.finalize(result)
    return tracker, seen


def _render(tracker: RunTracker) -> str:
    console = Console(file=io.StringIO(), width=140, force_terminal=True, color_system=None)
    console.print(LiveTable(tracker))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


def test_tracker_follows_a_run_with_a_retry_and_a_skip() -> None:
    calls = {"n": 0}

    def flaky(value: object = None) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("try again")
        return "ok"

    flow = Flow("retry")
    start = flow.transform("start", expression="1")
    flaky_ref = flow.code("flaky", flaky, inputs=start,
                          retry={"max_attempts": 3, "initial_delay": 0, "jitter": 0})
    gate = flow.condition("gate", expression="false", inputs=flaky_ref)
    flow.transform("never", template="x", inputs=gate.on(True))
    flow.output("result", flaky_ref)
    tracker, seen = _run(flow)
    rows = tracker.rows
    assert list(rows) == ["start", "flaky", "gate", "result", "never"]  # by step
    assert rows["flaky"].status == "completed"
    assert rows["flaky"].attempts == 2
    assert rows["never"].status == "skipped"
    assert rows["never"].detail == "branch_not_taken"
    assert tracker.counts() == {"completed": 4, "skipped": 1}
    assert tracker.finished is not None
    assert all(not event.path for event in seen)  # the listener gets top-level events only
    lines = [str(plain_line(e)) for e in seen if plain_line(e) is not None]
    assert any("flaky failed (attempt 1): try again" in line for line in lines)
    assert any("flaky retrying: attempt 2" in line for line in lines)
    assert any("never skipped: branch_not_taken" in line for line in lines)
    table = _render(tracker)
    assert "retry · run" in table
    assert "5/5 nodes finished" in table
    assert "✓ completed" in table
    assert "↷ skipped" in table


def test_child_runs_count_on_the_owning_row() -> None:
    body = Flow("body")
    item = body.input("item")
    body.output("twice", body.transform("double", expression="value * 2", inputs=item))
    flow = Flow("mapped")
    items = flow.input("items", type="list")
    flow.output("all", flow.map("each", body, items=items))
    tracker, _ = _run(flow, {"items": [1, 2, 3]})
    row = tracker.rows["each"]
    assert row.status == "completed"
    assert row.progress() == "3 items done"
    assert "3 items done" in _render(tracker)


def test_failed_rows_show_the_error_and_running_rows_end_cancelled() -> None:
    spec = WorkflowSpec.model_validate({"name": "f", "nodes": [
        {"id": "slow", "kind": "delay", "params": {"seconds": 30}},
        {"id": "bad", "kind": "transform", "params": {"function": "json_loads"}},
        {"id": "one", "kind": "transform", "params": {"expression": "1"}},
    ], "edges": [{"from": "one", "to": "bad"}]})
    tracker = RunTracker(spec)
    result = asyncio.run(Engine().run(spec, check=False, on_event=tracker))
    assert result.status.value == "failed"
    tracker.finalize(result)
    assert tracker.rows["slow"].status == "cancelled"  # fail-fast cancelled it
    assert tracker.rows["bad"].status == "failed"
    assert "TypeError" in tracker.rows["bad"].detail
    assert "✗ failed" in _render(tracker)


def test_format_duration() -> None:
    assert format_duration(None) == ""
    assert format_duration(0.000_012) == "12 µs"
    assert format_duration(0.0123) == "12.3 ms"
    assert format_duration(2.5) == "2.50 s"
    assert format_duration(75) == "1m 15.0s"


def test_a_long_table_shows_busy_rows_first() -> None:
    spec = WorkflowSpec.model_validate({"name": "wide", "nodes": [
        {"id": f"n{i}", "kind": "transform", "params": {"expression": "1"}} for i in range(30)]})
    tracker = RunTracker(spec)
    tracker.rows["n25"].status = "running"
    tracker.rows["n27"].status = "failed"
    table = LiveTable(tracker).table(max_rows=5)
    assert table.row_count == 5
    out = _render_table(table)
    assert "n25" in out
    assert "n27" in out
    assert "n0 " in out
    assert "25 more not shown" in out


def _render_table(table: object) -> str:
    console = Console(file=io.StringIO(), width=140, color_system=None)
    console.print(table)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out
