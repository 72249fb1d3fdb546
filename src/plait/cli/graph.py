"""Workflow pictures, as pure functions of a :class:`WorkflowSpec`: Mermaid flowchart text,
a Rich tree for terminals (nodes by topological step) and plain graph data for JSON.

    >>> from plait.graph.spec import WorkflowSpec
    >>> spec = WorkflowSpec.model_validate({"name": "w", "nodes": [
    ...     {"id": "a", "kind": "transform", "params": {"expression": "1"}},
    ...     {"id": "out", "kind": "output"}], "edges": [{"from": "a", "to": "out"}]})
    >>> print(render_mermaid(spec))
    flowchart TD
        a["a<br/>transform"]
        out(["out<br/>output"])
        a --> out
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from pydantic import ValidationError
from rich.text import Text
from rich.tree import Tree

from plait.graph.spec import (
    DEFAULT_OUTPUT_PORT,
    INPUT_SOURCE,
    EdgeKind,
    EdgeSpec,
    JoinPolicy,
    NodeSpec,
    WorkflowSpec,
)

__all__ = ["graph_data", "layers", "render_mermaid", "render_tree"]

_CHILD_KINDS = ("subworkflow", "map", "loop")

# Mermaid shapes per kind (open, close); other kinds are rectangles.
_SHAPES: dict[str, tuple[str, str]] = {
    "condition": ("{", "}"),
    "output": ("([", "])"),
    "delay": ("(", ")"),
    "subworkflow": ("[[", "]]"),
    "map": ("{{", "}}"),
    "loop": ("{{", "}}"),
    "retrieval": ("[(", ")]"),
    "agent": ("((", "))"),
}
_INPUT_SHAPE = ("[/", "/]")
_RESERVED = {"end", "graph", "subgraph", "flowchart", "style", "class", "classdef", "click",
             "linkstyle", "direction", "default"}

_KIND_STYLES: dict[str, str] = {
    "condition": "magenta", "output": "green", "subworkflow": "cyan", "map": "cyan",
    "loop": "cyan", "delay": "blue",
}


# -- structure -------------------------------------------------------------------------
def layers(spec: WorkflowSpec) -> list[list[str]]:
    """Node ids by step: a node's step is one more than the latest step among the nodes it
    depends on (workflow inputs do not count), so nodes in one step can run side by side.
    Nodes on a cycle (an invalid spec) come last, in one extra step."""
    ids = [node.id for node in spec.nodes]
    known = set(ids)
    preds: dict[str, set[str]] = {i: set() for i in ids}
    succs: dict[str, list[str]] = {i: [] for i in ids}
    for edge in spec.edges:
        if (edge.source in known and edge.target in known and edge.source != edge.target
                and edge.source not in preds[edge.target]):
            preds[edge.target].add(edge.source)
            succs[edge.source].append(edge.target)
    missing = {i: len(preds[i]) for i in ids}
    step: dict[str, int] = {}
    ready = [i for i in ids if missing[i] == 0]
    for i in ready:
        step[i] = 0
    while ready:
        nxt: list[str] = []
        for i in ready:
            for j in succs[i]:
                step[j] = max(step.get(j, 0), step[i] + 1)
                missing[j] -= 1
                if missing[j] == 0:
                    nxt.append(j)
        ready = nxt
    placed = [i for i in ids if missing[i] == 0]  # spec order within a step
    out: list[list[str]] = [[] for _ in range(max((step[i] for i in placed), default=-1) + 1)]
    for i in placed:
        out[step[i]].append(i)
    stuck = [i for i in ids if missing[i] != 0]
    if stuck:
        out.append(stuck)
    return out


def graph_data(spec: WorkflowSpec) -> dict[str, object]:
    """The graph as plain JSON data: inputs, nodes (with their step) and edges."""
    steps = layers(spec)
    step = {node_id: n for n, layer in enumerate(steps, 1) for node_id in layer}
    return {
        "name": spec.name,
        "description": spec.description,
        "inputs": {name: inp.model_dump(mode="json") for name, inp in spec.inputs.items()},
        "nodes": [{"id": node.id, "kind": node.kind, "label": node.label or node.id,
                   "step": step.get(node.id)} for node in spec.nodes],
        "edges": [edge.model_dump(mode="json") for edge in spec.edges],
        "steps": steps,
    }


# -- Mermaid ---------------------------------------------------------------------------
def _mermaid_ids(spec: WorkflowSpec) -> tuple[dict[str, str], dict[str, str]]:
    used: set[str] = set()

    def make(raw: str, prefix: str) -> str:
        base = re.sub(r"\W", "_", raw) or "_"
        if prefix or base[0].isdigit() or base.lower() in _RESERVED:
            base = f"{prefix or 'n_'}{base}"
        name, n = base, 2
        while name in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        return name

    nodes = {node.id: make(node.id, "") for node in spec.nodes}
    inputs = {name: make(name, "in_") for name in spec.inputs}
    return nodes, inputs


def _label(text: str) -> str:
    for old, new in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(old, new)
    return text


def _edge_text(edge: EdgeSpec) -> str:
    """The branch, then the ports an edge names (``answer → text``, or just one of them)."""
    ports = [p for p in (edge.source_port if edge.source_port != DEFAULT_OUTPUT_PORT
                         and edge.source != INPUT_SOURCE else None, edge.target_port) if p]
    text = " → ".join(ports)
    if edge.branch is not None:
        text = f"{edge.branch}: {text}" if text else edge.branch
    return text


def render_mermaid(spec: WorkflowSpec, *, direction: str = "TD") -> str:
    """A Mermaid ``flowchart``: one shape per kind, workflow inputs as parallelograms,
    conditional edges labelled with their branch, control edges dotted."""
    node_ids, input_ids = _mermaid_ids(spec)
    lines = [f"flowchart {direction}"]
    for name, inp in spec.inputs.items():
        open_, close = _INPUT_SHAPE
        lines.append(f'    {input_ids[name]}{open_}"{_label(f"{name}: {inp.type.value}")}"{close}')
    by_id = {node.id: node for node in spec.nodes}
    for layer in layers(spec):
        for node_id in layer:
            node = by_id[node_id]
            open_, close = _SHAPES.get(node.kind, ("[", "]"))
            text = f"{_label(node.label or node.id)}<br/>{_label(node.kind)}"
            lines.append(f'    {node_ids[node.id]}{open_}"{text}"{close}')
    for edge in spec.edges:
        if edge.source == INPUT_SOURCE:
            source = input_ids.get(edge.source_port)
        else:
            source = node_ids.get(edge.source)
        target = node_ids.get(edge.target)
        if source is None or target is None:  # a dangling edge of an invalid spec
            continue
        arrow = "-.->" if edge.kind is EdgeKind.CONTROL else "-->"
        text = _edge_text(edge)
        label = f'|"{_label(text)}"|' if text else ""
        lines.append(f"    {source} {arrow}{label} {target}")
    return "\n".join(lines)


# -- terminal tree ---------------------------------------------------------------------
def _short(text: str, limit: int = 32) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _what(node: NodeSpec) -> str:
    """A few words on what a node does, from its params."""
    p = node.params
    if isinstance(p.get("template"), str):
        return repr(_short(str(p["template"])))
    if isinstance(p.get("expression"), str):
        prefix = "if " if node.kind == "condition" else "= "
        return prefix + _short(str(p["expression"]))
    if isinstance(p.get("function"), str):
        return f"{p['function']}()"
    if node.kind == "output":
        return f"→ outputs.{p.get('name') or node.id}"
    if node.kind == "delay":
        return f"{p.get('seconds')}s"
    child = p.get("workflow")
    name = child.get("name") if isinstance(child, dict) else child
    text = f"runs {name!r}" if isinstance(name, str) else ""
    if node.kind == "loop":
        text += f", until {_short(str(p.get('until')), 30)} (max {p.get('max_iterations')})"
    return text


def _sources(node_id: str, edges: Iterable[EdgeSpec]) -> list[str]:
    out = []
    for edge in edges:
        if edge.target != node_id:
            continue
        src = edge.source if edge.source_port == DEFAULT_OUTPUT_PORT else (
            f"{edge.source}.{edge.source_port}")
        if edge.kind is EdgeKind.CONTROL:
            src = f"after {src}"
        if edge.branch is not None:
            src += f" [{edge.branch}]"
        if edge.target_port:
            src += f" → {edge.target_port}"
        out.append(src)
    return out


def _node_text(node: NodeSpec, spec: WorkflowSpec) -> Text:
    text = Text()
    text.append(node.label or node.id, style=f"bold {_KIND_STYLES.get(node.kind, '')}".strip())
    text.append(f"  {node.kind}", style="dim")
    sources = _sources(node.id, spec.edges)
    if sources:
        text.append("  ← " + ", ".join(sources), style="cyan")
    if node.join is JoinPolicy.ANY:
        text.append("  (join: any)", style="dim")
    what = _what(node)
    if what:
        text.append(f"  {what}", style="dim")
    return text


def _child_spec(node: NodeSpec) -> WorkflowSpec | None:
    if node.kind not in _CHILD_KINDS or not isinstance(node.params.get("workflow"), dict):
        return None
    try:
        return WorkflowSpec.model_validate(node.params["workflow"])
    except ValidationError:
        return None


def render_tree(spec: WorkflowSpec, *, max_depth: int = 3) -> Tree:
    """A Rich tree: the inputs, then each step (nodes that can run side by side) with what
    every node does and where its inputs come from. Child workflows nest below their node."""
    title = Text.assemble((spec.name, "bold"),
                          (f"  {len(spec.nodes)} nodes · {len(spec.edges)} edges", "dim"))
    root = Tree(title, guide_style="dim")
    _fill(root, spec, max_depth)
    return root


def _fill(tree: Tree, spec: WorkflowSpec, depth_left: int) -> None:
    if spec.inputs:
        branch = tree.add(Text("inputs", style="italic"))
        for name, inp in spec.inputs.items():
            line = Text.assemble((name, "bold"), f": {inp.type.value}")
            if inp.default is not None:
                line.append(f" = {json.dumps(inp.default)}", style="dim")
            elif inp.required:
                line.append(" (required)", style="dim")
            branch.add(line)
    by_id = {node.id: node for node in spec.nodes}
    for n, layer in enumerate(layers(spec), 1):
        step = tree.add(Text(f"step {n}", style="italic"))
        for node_id in layer:
            node = by_id[node_id]
            leaf = step.add(_node_text(node, spec))
            child = _child_spec(node)
            if child is not None and depth_left > 0:
                sub = leaf.add(Text.assemble(("workflow ", "dim"), (child.name, "bold")))
                _fill(sub, child, depth_left - 1)
