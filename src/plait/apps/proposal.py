"""Checking a model's proposal: one JSON object with the workflow (``name``,
``description``, ``inputs``, ``nodes`` with ``id``/``kind``/``params``, ``edges`` with
``from``/``to``/``branch``) plus the model's ``confidence`` (0..1) and a short ``rationale``.

:func:`check_proposal` turns a reply into a spec and reports every problem at once: JSON,
shape, the engine's validation, kinds outside the allowed set, loose ends, and a confidence
under the bar. What the model is asked is in :mod:`plait.apps.proposal_prompt` and
:mod:`plait.apps.proposal_schema`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from plait.errors import Problem
from plait.graph.spec import INPUT_SOURCE, WorkflowSpec
from plait.nodes.defaults import Engine

__all__ = [
    "CheckedProposal",
    "check_proposal",
    "disallowed_kinds",
    "loose_ends",
    "parse_reply",
    "spec_data",
]


@dataclass(slots=True)
class CheckedProposal:
    """A reply, parsed and checked: ``spec`` is set when the workflow itself is valid."""

    data: dict[str, Any] | None = None
    spec: WorkflowSpec | None = None
    confidence: float | None = None
    rationale: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.spec is not None and not self.problems


def parse_reply(text: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The reply as a JSON object (a fenced code block is tolerated)."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`")
        body = body.partition("\n")[2] if "\n" in body else body
    try:
        data = json.loads(body)
    except json.JSONDecodeError as err:
        return None, [Problem("malformed_json", f"the reply is not JSON ({err.msg} at line "
                              f"{err.lineno}, column {err.colno})")]
    if not isinstance(data, dict):
        return None, [Problem("not_an_object", "the reply must be one JSON object, not "
                              f"{type(data).__name__}")]
    return data, []


def _source(ref: object, node_ids: set[str], input_names: set[str]) -> object:
    """A source that names a workflow input but no node (``text``, ``input.text``) is
    that input (``$input.text``): the one reading it can have."""
    if not isinstance(ref, str) or ref.startswith(INPUT_SOURCE):
        return ref
    name = ref.removeprefix("input.")
    if name in input_names and name not in node_ids and ref.split(".")[0] not in node_ids:
        return f"{INPUT_SOURCE}.{name}"
    return ref


def _edge(raw: object, node_ids: set[str], input_names: set[str]) -> object:
    if not isinstance(raw, dict):
        return raw
    edge = dict(raw)
    if "from" in edge:
        edge["from"] = _source(edge["from"], node_ids, input_names)
    branch = edge.get("branch")
    if branch is None or branch == "":
        edge.pop("branch", None)
    elif isinstance(branch, bool):
        edge["branch"] = "true" if branch else "false"
    return edge


def _unique(items: list[Any]) -> list[Any]:
    """``items`` without exact repeats (a small model often repeats a node or an edge)."""
    seen: set[str] = set()
    kept = []
    for item in items:
        key = json.dumps(item, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def spec_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow part of a proposal as spec data: edges in their ``from``/``to`` form,
    exact repeats of a node or an edge dropped, and an edge from a bare input name read as
    from that input (anything else is left for the engine to report)."""
    spec: dict[str, Any] = {"plait": "1"}
    for key in ("name", "description", "inputs"):
        if key in data:
            spec[key] = data[key]
    nodes = data.get("nodes", [])
    spec["nodes"] = _unique(nodes) if isinstance(nodes, list) else nodes
    edges = data.get("edges", [])
    if isinstance(edges, list):
        inputs = data.get("inputs")
        input_names = set(inputs) if isinstance(inputs, dict) else set()
        node_ids = {n["id"] for n in spec["nodes"] if isinstance(n, dict)
                    and isinstance(n.get("id"), str)} if isinstance(spec["nodes"], list) else set()
        spec["edges"] = _unique([_edge(e, node_ids, input_names) for e in edges])
    else:
        spec["edges"] = edges
    return spec


def disallowed_kinds(nodes: object, allowed: Iterable[str], where: str = "") -> list[Problem]:
    """Problems for nodes (nested workflows included) whose kind is not allowed."""
    allowed = set(allowed)
    problems: list[Problem] = []
    if not isinstance(nodes, list):
        return problems
    for i, node in enumerate(nodes):
        if not isinstance(node, dict):
            continue
        location = f"{where}nodes[{i}]" + (f" ({node['id']!r})" if "id" in node else "")
        kind = node.get("kind")
        if isinstance(kind, str) and kind not in allowed:
            problems.append(Problem("kind_not_allowed", f"kind {kind!r} is not allowed here; "
                                    f"use one of {', '.join(sorted(allowed))}",
                                    f"{location}.kind"))
        params = node.get("params")
        child = params.get("workflow") if isinstance(params, dict) else None
        if isinstance(child, dict):
            problems += disallowed_kinds(child.get("nodes"), allowed,
                                         f"{location}.params.workflow.")
    return problems


def loose_ends(spec: WorkflowSpec) -> list[Problem]:
    """What a valid spec may have but a designed workflow should not: inputs nothing reads,
    and nodes (other than outputs) whose value goes nowhere."""
    problems = []
    used_text = json.dumps([n.params for n in spec.nodes], ensure_ascii=False)
    sources = {e.source for e in spec.edges}
    read = {e.source_port for e in spec.edges if e.source == INPUT_SOURCE}
    for name in spec.inputs:
        if name not in read and f"input.{name}" not in used_text:
            problems.append(Problem("unused_input", f"nothing reads the input {name!r}: "
                                    f"connect it (from: {INPUT_SOURCE}.{name}) or remove it",
                                    f"inputs.{name}"))
    for i, node in enumerate(spec.nodes):
        if node.kind != "output" and node.id not in sources:
            problems.append(Problem("unused_node", f"the value of {node.id!r} goes nowhere: "
                                    "connect it to the next step or an output node",
                                    f"nodes[{i}] ({node.id!r})"))
    return problems


def _confidence(data: Mapping[str, Any]) -> tuple[float | None, list[Problem]]:
    value = data.get("confidence")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, [Problem("invalid_confidence", "give a confidence: a number from 0 to 1",
                              "confidence")]
    if not 0 <= value <= 1:
        return None, [Problem("invalid_confidence", f"confidence {value} is not between 0 "
                              "and 1", "confidence")]
    return float(value), []


def check_proposal(text: str, engine: Engine, *, allowed: Sequence[str],
                   min_confidence: float) -> CheckedProposal:
    """Parse and check one reply; every problem is reported at once."""
    data, problems = parse_reply(text)
    checked = CheckedProposal(data=data, problems=problems)
    if data is None:
        return checked
    rationale = data.get("rationale")
    checked.rationale = rationale.strip() if isinstance(rationale, str) else ""
    checked.confidence, problems = _confidence(data)
    checked.problems += disallowed_kinds(data.get("nodes"), allowed)
    spec = spec_data(data)
    found = engine.validate(spec)
    if not found:
        checked.spec = WorkflowSpec.model_validate(spec)
        if "output" in allowed:
            if not any(n.kind == "output" for n in checked.spec.nodes):
                found.append(Problem("no_output", "the workflow has no output node, so a "
                                     "run would produce nothing", "nodes"))
            found += loose_ends(checked.spec)
    checked.problems += found
    checked.problems += problems
    if checked.confidence is not None and checked.confidence < min_confidence:
        checked.problems.append(Problem(
            "low_confidence", f"confidence {checked.confidence:g} is below the required "
            f"{min_confidence:g}; propose a workflow you are surer of (often a simpler one)",
            "confidence"))
    return checked
