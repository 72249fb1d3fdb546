"""Property tests of the scheduler on random DAGs with conditional edges and join policies:
every node runs at most once, only after the nodes it depends on, and exactly the nodes a
reference model predicts run; the rest are skipped."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from plait import Branch, Engine, Flow
from plait.graph.state import NodeStatus


@dataclass(frozen=True)
class EdgeDraw:
    source: int
    target: int
    branch: str | None  # None: unconditional


@dataclass(frozen=True)
class GraphDraw:
    n: int
    labels: tuple[str, ...]  # the branch label each node returns
    joins: tuple[str, ...]
    asynchronous: tuple[bool, ...]
    edges: tuple[EdgeDraw, ...]


@st.composite
def graphs(draw: st.DrawFn) -> GraphDraw:
    n = draw(st.integers(1, 10))
    labels = tuple(draw(st.lists(st.sampled_from("ab"), min_size=n, max_size=n)))
    joins = tuple(draw(st.lists(st.sampled_from(["all", "any"]), min_size=n, max_size=n)))
    asynchronous = tuple(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    edges = []
    for target in range(1, n):
        for source in range(target):
            if draw(st.booleans()):
                branch = draw(st.sampled_from([None, None, "a", "b"]))
                edges.append(EdgeDraw(source, target, branch))
    return GraphDraw(n, labels, joins, asynchronous, tuple(edges))


def reference(g: GraphDraw) -> set[int]:
    """Which nodes run, computed directly from the decided semantics."""
    ran: set[int] = set()
    for node in range(g.n):
        incoming = [e for e in g.edges if e.target == node]
        if not incoming:
            ran.add(node)
            continue
        delivered = [e.source in ran and (e.branch is None or e.branch == g.labels[e.source])
                     for e in incoming]
        if (any(delivered) if g.joins[node] == "any" else all(delivered)):
            ran.add(node)
    return ran


def build(g: GraphDraw, log: list[int]) -> Flow:
    f = Flow("random")
    for node in range(g.n):
        label = g.labels[node]

        def make(node: int = node, label: str = label, is_async: bool = g.asynchronous[node]):
            if is_async:
                async def fn(**inputs: object) -> Branch:
                    await asyncio.sleep(0)
                    log.append(node)
                    return Branch(label, node)
            else:
                def fn(**inputs: object) -> Branch:  # type: ignore[misc]
                    log.append(node)
                    return Branch(label, node)
            return fn

        inputs = {}
        for k, e in enumerate(g.edges):
            if e.target == node:
                ref = f"n{e.source}"
                from plait import Ref

                inputs[f"p{k}"] = Ref(ref) if e.branch is None else Ref(ref).on(e.branch)
        f.transform(f"n{node}", fn=make(), inline=not g.asynchronous[node], inputs=inputs,
                    join=g.joins[node])
    return f


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_random_dags_match_the_reference_model(g: GraphDraw) -> None:
    log: list[int] = []
    result = Engine().run_sync(build(g, log).build(), {})
    expected = reference(g)
    assert sorted(log) == sorted(set(log)), "a node ran twice"
    assert set(log) == expected
    position = {node: i for i, node in enumerate(log)}
    for e in g.edges:
        if e.target in position and e.source in expected:
            assert position[e.source] < position[e.target], "ran before its input"
    records = result.nodes
    for node in range(g.n):
        status = records[f"n{node}"].status
        assert status is (NodeStatus.COMPLETED if node in expected else NodeStatus.SKIPPED)
