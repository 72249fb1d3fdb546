"""Validate a spec (every problem at once, with locations) and compile it to indexed arrays."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from plait.errors import Problem, SpecError
from plait.graph.registry import (
    AnyKind,
    BindEnv,
    BoundNode,
    FunctionRegistry,
    KindRegistry,
    Ports,
)
from plait.graph.spec import (
    DEFAULT_OUTPUT_PORT,
    INPUT_SOURCE,
    EdgeKind,
    EdgeSpec,
    JoinPolicy,
    NodeSpec,
    RetrySpec,
    WorkflowSpec,
)
from plait.types import PortType, port_accepts

__all__ = ["CompiledEdge", "CompiledGraph", "CompiledNode", "Compiler", "pydantic_problems"]

INPUT_INDEX = -1


@dataclass(slots=True, eq=False)
class CompiledEdge:
    index: int
    source: int  # INPUT_INDEX for a workflow input
    source_port: str
    target: int
    target_port: str | None  # None for control edges
    branch: str | None  # set for conditional edges


@dataclass(slots=True, eq=False)
class CompiledNode:
    index: int
    id: str
    kind: str
    spec: NodeSpec
    bound: BoundNode
    inline: bool
    join_any: bool
    retry: RetrySpec | None
    timeout: float | None
    breaker: str | None
    in_edges: tuple[int, ...] = ()
    out_edges: tuple[int, ...] = ()
    branches: bool = False  # has conditional out-edges
    output_name: str | None = None


@dataclass(slots=True, eq=False)
class CompiledGraph:
    """A validated workflow as integer-indexed arrays, built once and shared by all runs."""

    spec: WorkflowSpec
    nodes: list[CompiledNode]
    edges: list[CompiledEdge]
    by_id: dict[str, int]
    roots: tuple[int, ...]
    input_edges: tuple[int, ...]
    order: tuple[int, ...]  # a topological order, for display and deterministic tie-breaks
    results: tuple[int, ...]  # output nodes, or the sinks when the workflow has none
    digest: str = field(default="")
    spec_json: dict[str, object] | None = None
    """The canonical spec JSON, made once for the records of durable runs (read-only)."""


def pydantic_problems(err: ValidationError, location: str) -> list[Problem]:
    problems = []
    for item in err.errors():
        loc = ""
        for part in item["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        where = f"{location}.{loc}" if location and loc else (location or loc)
        problems.append(Problem("invalid_param" if location else "invalid_spec", item["msg"],
                                where))
    return problems


def _node_loc(i: int, node: NodeSpec) -> str:
    return f"nodes[{i}] ({node.id!r})"


def _edge_loc(i: int, edge: EdgeSpec) -> str:
    src = edge.source if edge.source_port == DEFAULT_OUTPUT_PORT else (
        f"{edge.source}.{edge.source_port}")
    return f"edges[{i}] ({src} -> {edge.target})"


class Compiler(BindEnv):
    """Validates and compiles specs against a kind registry and a function registry."""

    def __init__(self, kinds: KindRegistry, functions: FunctionRegistry | None = None) -> None:
        self.kinds = kinds
        self.functions = functions or FunctionRegistry()

    # -- BindEnv -------------------------------------------------------------------------
    def check_child(self, spec: WorkflowSpec, location: str) -> list[Problem]:
        problems, _ = self._check(spec)
        return [Problem(p.code, p.message, f"{location}.{p.location}" if p.location else
                        location) for p in problems]

    def compile_child(self, spec: WorkflowSpec) -> CompiledGraph:
        return self.compile(spec)

    # -- public --------------------------------------------------------------------------
    def validate(self, spec: WorkflowSpec) -> list[Problem]:
        problems, _ = self._check(spec)
        return problems

    def compile(self, spec: WorkflowSpec, *, source: str = "") -> CompiledGraph:
        problems, checked = self._check(spec)
        if problems:
            raise SpecError(problems, source=source)
        return self._build(spec, checked)

    # -- checking ------------------------------------------------------------------------
    def _check(self, spec: WorkflowSpec
               ) -> tuple[list[Problem], dict[str, tuple[AnyKind, BaseModel, Ports]]]:
        problems: list[Problem] = []
        checked: dict[str, tuple[AnyKind, BaseModel, Ports]] = {}
        seen: set[str] = set()
        for i, node in enumerate(spec.nodes):
            loc = _node_loc(i, node)
            if node.id in seen:
                problems.append(Problem("duplicate_id", f"duplicate node id {node.id!r}", loc))
            seen.add(node.id)
            if node.id.startswith("$") or "." in node.id:
                problems.append(Problem("bad_id", "node ids may not contain '.' or start with '$'",
                                        loc))
            kind = self.kinds.get(node.kind)
            if kind is None:
                hint = difflib.get_close_matches(node.kind, self.kinds.names(), n=1)
                more = f"; did you mean {hint[0]!r}?" if hint else (
                    f"; known kinds: {', '.join(self.kinds.names())}")
                problems.append(Problem("unknown_kind", f"unknown node kind {node.kind!r}{more}",
                                        f"{loc}.kind"))
                continue
            try:
                params = kind.Params.model_validate(node.params)
            except ValidationError as err:
                problems.extend(pydantic_problems(err, f"{loc}.params"))
                continue
            kind_problems = kind.check(node, params, self, f"{loc}.params")
            problems.extend(kind_problems)
            if node.id not in checked:
                checked[node.id] = (kind, params, kind.ports(params))
        problems.extend(self._check_edges(spec, checked, seen))
        if not any(p.code == "dangling_edge" for p in problems):
            problems.extend(_check_cycles(spec))
        return problems, checked

    def _check_edges(self, spec: WorkflowSpec,
                     checked: dict[str, tuple[AnyKind, BaseModel, Ports]],
                     node_ids: set[str]) -> list[Problem]:
        problems: list[Problem] = []
        fed: dict[tuple[str, str], int] = {}
        for i, edge in enumerate(spec.edges):
            loc = _edge_loc(i, edge)
            if edge.source != INPUT_SOURCE and edge.source not in node_ids:
                problems.append(Problem("dangling_edge", f"unknown source node {edge.source!r}",
                                        f"{loc}.source"))
            if edge.target not in node_ids:
                problems.append(Problem("dangling_edge", f"unknown target node {edge.target!r}",
                                        f"{loc}.target"))
                continue
            if edge.source == edge.target:
                problems.append(Problem("cycle", "a node cannot feed itself; use a loop node",
                                        loc))
            if edge.kind is EdgeKind.CONDITIONAL and edge.branch is None:
                problems.append(Problem("missing_branch", "a conditional edge needs 'branch'",
                                        loc))
            if edge.kind is EdgeKind.DATA and edge.branch is not None:
                problems.append(Problem("unexpected_branch", "'branch' is only allowed on "
                                        "conditional and control edges", loc))
            source_type = PortType.ANY
            if edge.source == INPUT_SOURCE:
                declared = spec.inputs.get(edge.source_port)
                if declared is None:
                    problems.append(Problem(
                        "unknown_input", f"workflow input {edge.source_port!r} is not declared "
                        f"under 'inputs'", f"{loc}.source_port"))
                else:
                    source_type = declared.type
            elif edge.source in checked and edge.source_port == DEFAULT_OUTPUT_PORT:
                source_type = checked[edge.source][2].output
            if edge.kind is EdgeKind.CONTROL or edge.target not in checked:
                continue
            kind, _, ports = checked[edge.target]
            port_name = edge.target_port or kind.primary_input
            if port_name is None:
                problems.append(Problem(
                    "missing_port", f"node {edge.target!r} ({kind.name}) takes named inputs; "
                    "give the edge a target port ('to: node.port')", loc))
                continue
            port = ports.inputs.get(port_name)
            if port is None and not ports.open_inputs:
                known = ", ".join(sorted(ports.inputs)) or "none"
                problems.append(Problem(
                    "unknown_port", f"node {edge.target!r} ({kind.name}) has no input "
                    f"{port_name!r} (inputs: {known})", f"{loc}.target_port"))
                continue
            if port is not None and not port_accepts(port.type, source_type):
                problems.append(Problem(
                    "type_mismatch", f"{source_type.value} output cannot feed "
                    f"{port.type.value} input {port_name!r} of {edge.target!r}", loc))
            key = (edge.target, port_name)
            if key in fed and spec.node(edge.target).join is not JoinPolicy.ANY:
                problems.append(Problem(
                    "port_fed_twice", f"input {port_name!r} of {edge.target!r} already has an "
                    f"edge (edges[{fed[key]}]); use join: any to merge alternative branches",
                    loc))
            fed.setdefault(key, i)
        for node_id, (kind, _, ports) in checked.items():
            for port_name, port in ports.inputs.items():
                if port.required and (node_id, port_name) not in fed:
                    index = next(i for i, n in enumerate(spec.nodes) if n.id == node_id)
                    problems.append(Problem(
                        "missing_input", f"required input {port_name!r} of {node_id!r} "
                        f"({kind.name}) has no incoming edge", _node_loc(index, spec.nodes[index])))
        return problems

    # -- building ------------------------------------------------------------------------
    def _build(self, spec: WorkflowSpec,
               checked: dict[str, tuple[AnyKind, BaseModel, Ports]]) -> CompiledGraph:
        by_id = {node.id: i for i, node in enumerate(spec.nodes)}
        nodes: list[CompiledNode] = []
        specs: list[NodeSpec] = []
        for i, node in enumerate(spec.nodes):
            kind, params, _ = checked[node.id]
            # canonical params: what the kind's model makes of them, defaults included
            node = node.model_copy(update={"params": params.model_dump(mode="json")})
            specs.append(node)
            bound = kind.bind(node, params, self)
            nodes.append(CompiledNode(
                index=i, id=node.id, kind=node.kind, spec=node, bound=bound,
                inline=bound.inline, join_any=node.join is JoinPolicy.ANY, retry=node.retry,
                timeout=node.timeout, breaker=node.breaker or bound.breaker_key,
                output_name=bound.output_name))
        edges: list[CompiledEdge] = []
        ins: list[list[int]] = [[] for _ in nodes]
        outs: list[list[int]] = [[] for _ in nodes]
        input_edges: list[int] = []
        normalized: list[EdgeSpec] = []
        for i, edge in enumerate(spec.edges):
            target = by_id[edge.target]
            port: str | None = None
            if edge.kind is not EdgeKind.CONTROL:
                port = edge.target_port or checked[edge.target][0].primary_input
            source = INPUT_INDEX if edge.source == INPUT_SOURCE else by_id[edge.source]
            edges.append(CompiledEdge(i, source, edge.source_port, target, port, edge.branch))
            if port != edge.target_port:
                edge = edge.model_copy(update={"target_port": port})
            normalized.append(edge)
            ins[target].append(i)
            if source == INPUT_INDEX:
                input_edges.append(i)
            else:
                outs[source].append(i)
                if edge.branch is not None:
                    nodes[source].branches = True
        for compiled in nodes:
            compiled.in_edges = tuple(ins[compiled.index])
            compiled.out_edges = tuple(outs[compiled.index])
        roots = tuple(n.index for n in nodes if not any(
            edges[e].source != INPUT_INDEX for e in n.in_edges))
        spec = spec.model_copy(update={"nodes": specs, "edges": normalized})
        results = tuple(n.index for n in nodes if n.output_name is not None) or tuple(
            n.index for n in nodes if not n.out_edges)
        return CompiledGraph(spec=spec, nodes=nodes, edges=edges, by_id=by_id, roots=roots,
                             input_edges=tuple(input_edges), order=_topo_order(nodes, edges),
                             results=results, digest=spec.digest())


def _topo_order(nodes: list[CompiledNode], edges: list[CompiledEdge]) -> tuple[int, ...]:
    indegree = [sum(1 for e in n.in_edges if edges[e].source != INPUT_INDEX) for n in nodes]
    ready = [n.index for n in nodes if indegree[n.index] == 0]
    order: list[int] = []
    while ready:
        i = ready.pop(0)
        order.append(i)
        for e in nodes[i].out_edges:
            t = edges[e].target
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    return tuple(order)


def _check_cycles(spec: WorkflowSpec) -> list[Problem]:
    graph: dict[str, list[str]] = {n.id: [] for n in spec.nodes}
    for edge in spec.edges:
        if edge.source in graph and edge.target in graph and edge.source != edge.target:
            graph[edge.source].append(edge.target)
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(graph, white)
    problems: list[Problem] = []
    for start in graph:
        if color[start] != white:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                color[node] = grey
                path.append(node)
            succ = graph[node]
            if i < len(succ):
                stack.append((node, i + 1))
                nxt = succ[i]
                if color[nxt] == grey:
                    cycle = [*path[path.index(nxt):], nxt]
                    problems.append(Problem(
                        "cycle", f"cycle {' -> '.join(cycle)} has no loop bound; put the repeated "
                        "steps in a 'loop' node with max_iterations", "edges"))
                elif color[nxt] == white:
                    stack.append((nxt, 0))
            else:
                color[node] = black
                path.pop()
    return problems

