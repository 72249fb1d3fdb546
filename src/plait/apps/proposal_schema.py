"""The JSON schema of a proposal, built from the node-kind registry.

Each allowed kind is one alternative with that kind's params schema (structural keywords
only: the descriptions go in the prompt, bounds are checked by the engine), so a model with
constrained decoding (the local model, through a llama.cpp grammar) cannot name another kind,
invent a param, or name a function or tool that is not registered. Strings and lists have
upper bounds: a small model that starts repeating itself is cut short by the grammar instead
of filling its whole token budget.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from plait.nodes.defaults import Engine
from plait.types import JsonValue, PortType

__all__ = ["DEFAULT_KINDS", "MAX_NODES", "params_schema", "proposal_schema"]

DEFAULT_KINDS = ("transform", "condition", "llm", "agent", "map", "loop", "output", "delay")
"""The kinds a generated workflow may use unless told otherwise."""

_JSON = dict[str, JsonValue]
_KEEP = ("type", "properties", "required", "items", "enum", "const", "anyOf",
         "additionalProperties")
_NAME_PATTERN = "^[a-z][a-z0-9_]{0,39}$"
_REF_PATTERN = "^[$A-Za-z0-9_.]{1,80}$"
_TEXT = 400
"""Longest string the schema allows (templates, prompts): a small model constrained by a
grammar would otherwise fill its whole token budget with one string."""
MAX_NODES = 16


def _text(longest: int) -> _JSON:
    return {"type": "string", "maxLength": longest}


def _defs(child_kinds: Sequence[str], max_nodes: int) -> _JSON:
    """Shared pieces, referenced rather than repeated (the local model reads the schema)."""
    return {
        "name": {"type": "string", "pattern": _NAME_PATTERN},
        "ref": {"type": "string", "pattern": _REF_PATTERN},
        "inputs": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["type"], "additionalProperties": False,
            "properties": {"type": {"enum": [t.value for t in PortType]},
                           "description": _text(200)}}},
        "edges": {"type": "array", "maxItems": max_nodes + max_nodes // 2, "items": {
            "type": "object", "required": ["from", "to"], "additionalProperties": False,
            "properties": {"from": {"$ref": "#/$defs/ref"}, "to": {"$ref": "#/$defs/ref"},
                           "branch": _text(40)}}},
        # a nested workflow (map, loop), kept generic so that the schema does not recurse
        "workflow": {"type": "object", "required": ["name", "inputs", "nodes", "edges"],
                     "additionalProperties": False, "properties": {
                         "name": {"$ref": "#/$defs/name"}, "inputs": {"$ref": "#/$defs/inputs"},
                         "nodes": {"type": "array", "maxItems": max_nodes, "items": {
                             "type": "object", "required": ["id", "kind", "params"],
                             "additionalProperties": False, "properties": {
                                 "id": {"$ref": "#/$defs/name"},
                                 "kind": {"enum": list(child_kinds)},
                                 "params": {"type": "object"}}}},
                         "edges": {"$ref": "#/$defs/edges"}}},
    }


def _simplify(node: Any, defs: Mapping[str, Any], seen: frozenset[str]) -> Any:
    """``node`` with local refs inlined, nullable unions unwrapped and everything but the
    structural keywords dropped (descriptions go in the prompt; bounds are checked by the
    engine). A ref to the workflow spec becomes a ref to the generic nested workflow."""
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.rsplit("/", 1)[1]
        if name == "WorkflowSpec":
            return {"$ref": "#/$defs/workflow"}
        if name in seen or name not in defs:
            return {}
        return _simplify(defs[name], defs, seen | {name})
    options = node.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
        if len(kept) == 1:
            return _simplify(kept[0], defs, seen)
    out: dict[str, Any] = {}
    for key in _KEEP:
        if key not in node:
            continue
        value = node[key]
        if key == "properties":
            out[key] = {k: _simplify(v, defs, seen) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _simplify(value, defs, seen)
        elif key == "anyOf":
            out[key] = [_simplify(v, defs, seen) for v in value]
        else:
            out[key] = copy.deepcopy(value)
    if out.get("additionalProperties") == {}:
        del out["additionalProperties"]
    if out.get("type") == "string" and "enum" not in out:
        out["maxLength"] = _TEXT
    return out


def params_schema(engine: Engine, kind: str) -> _JSON:
    """The structural JSON schema of ``kind``'s params, for constrained decoding (a nested
    workflow is ``{"$ref": "#/$defs/workflow"}``, defined by :func:`proposal_schema`).
    Names of functions and of an agent's tools are limited to the registered ones."""
    found = engine.kinds.get(kind)
    if found is None:
        raise KeyError(kind)
    raw = found.Params.model_json_schema()
    simple: _JSON = _simplify(raw, raw.get("$defs", {}), frozenset())
    simple.setdefault("type", "object")
    properties = simple.get("properties")
    if isinstance(properties, dict):
        functions: list[JsonValue] = list(engine.functions.names())
        if isinstance(properties.get("function"), dict) and functions:
            properties["function"] = {"enum": functions}
        tools = properties.get("tools")
        if kind == "agent" and isinstance(tools, dict):
            names: list[JsonValue] = list(engine.tools.names())
            tools["items"] = {"enum": names} if names else {"type": "string", "maxLength": 0}
    return simple


def proposal_schema(engine: Engine, allowed: Sequence[str], *, max_nodes: int = MAX_NODES
                    ) -> _JSON:
    """The JSON schema a proposal must satisfy: one node alternative per allowed kind, at
    most ``max_nodes`` nodes (and half as many more edges): a small model that starts
    repeating itself is cut short by the grammar instead of filling its whole budget."""
    alternatives: list[JsonValue] = [
        {"type": "object", "required": ["id", "kind", "params"], "additionalProperties": False,
         "properties": {"id": {"$ref": "#/$defs/name"}, "kind": {"const": name},
                        "params": params_schema(engine, name)}}
        for name in allowed]
    node: JsonValue = alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
    child_kinds = [k for k in allowed
                   if not getattr(engine.kinds.get(k), "container", False)]
    return {
        "type": "object",
        "required": ["name", "description", "inputs", "nodes", "edges", "confidence",
                     "rationale"],
        "additionalProperties": False,
        "properties": {
            "name": {"$ref": "#/$defs/name"},
            "description": _text(160),
            "inputs": {"$ref": "#/$defs/inputs"},
            "nodes": {"type": "array", "minItems": 1, "maxItems": max_nodes, "items": node},
            "edges": {"$ref": "#/$defs/edges"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "rationale": _text(200),
        },
        "$defs": _defs(child_kinds, max_nodes),
    }
