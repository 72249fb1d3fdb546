"""Every shape of the catalogue through run() and stream(), with event-sequence checks."""

from __future__ import annotations

import pytest

from plait import (
    Engine,
    NodeOutput,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
    RunFinished,
    RunStarted,
)
from plait.graph.state import RunResult

from .conftest import Recorder
from .shapes import SHAPES, Shape


def _check_events(shape: Shape, events: list) -> None:
    top = [e for e in events if not e.path]
    assert isinstance(top[0], RunStarted)
    assert isinstance(top[-1], RunFinished)
    assert top[-1].status.value == shape.status
    assert sum(isinstance(e, RunFinished) for e in top) == 1
    started = [e.node_id for e in top if isinstance(e, NodeStarted)]
    outputs = [e.node_id for e in top if isinstance(e, NodeOutput)]
    # a node starts once per attempt and outputs at most once
    assert len(outputs) == len(set(outputs))
    for node, n in shape.attempts.items():
        assert started.count(node) == n
        retries = [e for e in top if isinstance(e, NodeRetrying) and e.node_id == node]
        assert len(retries) == n - 1
    index = {(type(e).__name__, getattr(e, "node_id", None)): i for i, e in enumerate(top)}
    for a, b in shape.order:
        assert index[("NodeOutput", a)] < index[("NodeStarted", b)], (a, b)
    skipped = {e.node_id for e in top if isinstance(e, NodeSkipped)}
    for node, status in shape.node_status.items():
        assert (node in skipped) == (status == "skipped"), node


def _check_result(shape: Shape, result: RunResult) -> None:
    assert result.status.value == shape.status, result.error
    if shape.outputs is not None:
        assert result.outputs == shape.outputs
    nodes = result.nodes
    for node, status in shape.node_status.items():
        assert nodes[node].status.value == status, node
    for node, n in shape.attempts.items():
        assert nodes[node].attempts == n
    if shape.error_code is not None:
        assert result.error is not None
        cause = getattr(result.error, "cause", None) or result.error
        assert shape.error_code in (result.error.code, getattr(cause, "code", None))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
async def test_run(shape: Shape, engine: Engine, recorder: Recorder) -> None:
    engine.subscribe(recorder)
    result = await engine.run(shape.build(), shape.inputs, check=False)
    _check_result(shape, result)
    _check_events(shape, recorder.events)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
async def test_run_without_listeners(shape: Shape, engine: Engine) -> None:
    result = await engine.run(shape.build(), shape.inputs, check=False)
    _check_result(shape, result)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
async def test_stream(shape: Shape, engine: Engine) -> None:
    events = [e async for e in engine.stream(shape.build(), shape.inputs)]
    _check_events(shape, events)
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    if shape.outputs is not None:
        assert finished.outputs == shape.outputs
