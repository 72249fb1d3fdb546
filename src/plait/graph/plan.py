"""The pure planning step: readiness, skip propagation and input gathering.

No I/O, no tasks, no clocks: given a run state and what just happened to a node, decide
which nodes may run now and which are skipped. The scheduler applies the decisions.
"""

from __future__ import annotations

from collections.abc import Mapping

from plait.errors import NodeError
from plait.graph.compiler import INPUT_INDEX, CompiledGraph
from plait.graph.spec import DEFAULT_OUTPUT_PORT
from plait.graph.state import SKIPPED, NodeStatus, RunState

__all__ = ["MissingField", "gather_inputs", "resolve", "start"]

Decisions = tuple[list[int], list[tuple[int, str]]]
"""(nodes that may run now, (nodes skipped, reason))."""

REASON_BRANCH = "branch_not_taken"
REASON_UPSTREAM = "upstream_skipped"
REASON_FAILED = "upstream_failed"


class MissingField:
    """An edge asked for a field the source's output does not have."""

    __slots__ = ("port", "source")

    def __init__(self, source: str, port: str) -> None:
        self.source = source
        self.port = port


def _port_value(graph: CompiledGraph, source: int, port: str, value: object) -> object:
    if port == DEFAULT_OUTPUT_PORT:
        return value
    if isinstance(value, Mapping) and port in value:
        return value[port]
    name = "input" if source == INPUT_INDEX else graph.nodes[source].id
    return MissingField(name, port)


def start(state: RunState, inputs: Mapping[str, object]) -> Decisions:
    """Resolve the workflow-input edges; return the nodes that can run at once."""
    graph = state.graph
    edges = graph.edges
    for e in graph.input_edges:
        edge = edges[e]
        state.edge_values[e] = inputs.get(edge.source_port)
        state.pending_in[edge.target] -= 1
        state.delivered_in[edge.target] += 1
    runnable = [i for i in graph.order if state.pending_in[i] == 0]
    return runnable, []


def resolve(state: RunState, i: int, value: object, label: str | None, *,
            skip_all: bool = False) -> Decisions:
    """Node ``i`` completed with ``value`` (or, with ``skip_all``, was skipped or failed).

    Resolves its outgoing edges and cascades skips; returns the new decisions.
    """
    graph = state.graph
    nodes = graph.nodes
    edges = graph.edges
    edge_values = state.edge_values
    pending_in = state.pending_in
    runnable: list[int] = []
    skipped: list[tuple[int, str]] = []
    work: list[tuple[int, object, str | None, bool]] = [(i, value, label, skip_all)]
    while work:
        src, val, lab, skip_all = work.pop()
        for e in nodes[src].out_edges:
            edge = edges[e]
            t = edge.target
            if skip_all or (edge.branch is not None and edge.branch != lab):
                edge_values[e] = SKIPPED
                state.skipped_in[t] += 1
            else:
                edge_values[e] = (None if edge.target_port is None else
                                  _port_value(graph, src, edge.source_port, val))
                state.delivered_in[t] += 1
            pending_in[t] -= 1
            if pending_in[t]:
                continue
            if (state.delivered_in[t] > 0) if nodes[t].join_any else (state.skipped_in[t] == 0):
                runnable.append(t)
            else:
                why = _skip_reason(state, t)
                state.status[t] = NodeStatus.SKIPPED
                state.reasons[t] = why
                skipped.append((t, why))
                work.append((t, None, None, True))
    return runnable, skipped


def _skip_reason(state: RunState, t: int) -> str:
    """Why ``t`` is skipped: an upstream failure, an untaken branch, or a skipped upstream."""
    graph = state.graph
    found = set()
    for e in graph.nodes[t].in_edges:
        if state.edge_values[e] is not SKIPPED:
            continue
        src = graph.edges[e].source
        status = state.status[src]
        if status is NodeStatus.FAILED or state.reasons.get(src) == REASON_FAILED:
            return REASON_FAILED
        found.add(REASON_BRANCH if status is NodeStatus.COMPLETED else REASON_UPSTREAM)
    return REASON_BRANCH if REASON_BRANCH in found else REASON_UPSTREAM


def gather_inputs(state: RunState, i: int, *, release: bool = False) -> dict[str, object]:
    """The values on node ``i``'s data ports (skipped ports absent). Raises NodeError for a
    missing field."""
    graph = state.graph
    edges = graph.edges
    edge_values = state.edge_values
    inputs: dict[str, object] = {}
    for e in graph.nodes[i].in_edges:
        port = edges[e].target_port
        if port is None:
            continue
        val = edge_values[e]
        if val is SKIPPED:
            continue
        if isinstance(val, MissingField):
            raise NodeError(graph.nodes[i].id,
                            f"input {port!r} wants field {val.port!r} of {val.source!r}'s "
                            "output, which has no such field")
        inputs[port] = val
        if release:
            edge_values[e] = None
    return inputs
