"""What the model is told: the proposal format, how values flow along edges, and each
allowed kind with its params (from the kind registry's params schemas); and how problems
are sent back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from plait.errors import Problem
from plait.graph.spec import INPUT_SOURCE
from plait.nodes.defaults import Engine
from plait.types import JsonValue, PortType

__all__ = ["kind_catalogue", "repair_prompt", "system_prompt"]

_JSON = dict[str, JsonValue]


def _type_text(schema: Mapping[str, Any]) -> str:
    options = schema.get("anyOf")
    if isinstance(options, list):
        names = [_type_text(o) for o in options if o.get("type") != "null"]
        return " or ".join(dict.fromkeys(names)) or "any"
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[1]
        return "workflow" if name == "WorkflowSpec" else "any"
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type_text(schema.get('items', {}))}"
    return str(kind) if kind else "any"


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


def _plain(text: str) -> str:
    return text.replace("``", "'")


def kind_catalogue(engine: Engine, allowed: Sequence[str], *, compact: bool = False
                   ) -> list[str]:
    """One paragraph per allowed kind: what it does and its params, from the registry's
    params schemas. ``compact`` (for small models) describes only the required params and
    names the optional ones."""
    lines = []
    for name in allowed:
        kind = engine.kinds.get(name)
        if kind is None:
            continue
        schema = kind.Params.model_json_schema()
        head = f"- {name}: {kind.description}"
        doc = schema.get("description")
        if doc:
            head += f" {_plain(_first_sentence(doc))}"
        lines.append(head)
        required = set(schema.get("required", []))
        optional: list[str] = []
        for pname, pschema in schema.get("properties", {}).items():
            need = "required" if pname in required else "optional"
            if compact and need == "optional" and not (doc and pname in doc):
                optional.append(pname)
                continue
            about = pschema.get("description", "")
            if pname == "function":
                about += f" (one of: {', '.join(engine.functions.names())})"
            elif pname == "tools" and name == "agent":
                about += f" (available: {', '.join(engine.tools.names()) or 'none'})"
            elif pname == "workflow":
                about = ("a nested workflow {name, inputs, nodes, edges}; its inputs "
                         "receive the values")
            lines.append(f"    {pname} ({_type_text(pschema)}, {need}): "
                         f"{_plain(about)}".rstrip(": "))
        if optional:
            lines.append(f"    optional: {', '.join(optional)}")
    return lines


def _example(allowed: Sequence[str]) -> str | None:
    if "output" not in allowed:
        return None
    if "llm" in allowed:
        step: _JSON = {"id": "summary", "kind": "llm",
                       "params": {"prompt": "Summarize in one sentence: {{ value }}"}}
    elif "transform" in allowed:
        step = {"id": "summary", "kind": "transform",
                "params": {"template": "Summary: {{ value | truncate(80) }}"}}
    else:
        return None
    example = {
        "name": "summarize", "description": "Summarize a text in one sentence.",
        "inputs": {"text": {"type": "string", "description": "the text to summarize"}},
        "nodes": [step, {"id": "result", "kind": "output", "params": {}}],
        "edges": [{"from": "$input.text", "to": "summary"}, {"from": "summary", "to": "result"}],
        "confidence": 0.9, "rationale": "One step does the work; the output publishes it.",
    }
    return json.dumps(example, ensure_ascii=False)


def system_prompt(engine: Engine, allowed: Sequence[str], *, compact: bool = False) -> str:
    """The instructions: the proposal format, how values flow, and the allowed kinds.
    ``compact`` (for models with a small context) leaves out the optional params'
    descriptions."""
    types = ", ".join(t.value for t in PortType)
    parts = [
        "You design workflows for plait. A workflow is a graph: nodes do the work and edges "
        "carry values from one node to the next.",
        "Reply with one JSON object with these fields:\n"
        "  name: a short snake_case name\n"
        "  description: one sentence\n"
        f'  inputs: {{"<input name>": {{"type": "<{types}>", "description": "..."}}}}\n'
        '  nodes: [{"id": "<snake_case id>", "kind": "<a kind below>", "params": {...}}]\n'
        '  edges: [{"from": "<node id or $input.NAME>", "to": "<node id>"}], with '
        '"branch": "true" or "false" on edges leaving a condition\n'
        "  confidence: from 0 to 1, how sure you are that the workflow does what is asked\n"
        "  rationale: one short sentence on why it is built this way",
        "How values flow:\n"
        f'- an edge from "{INPUT_SOURCE}.NAME" brings the workflow input NAME to a node;\n'
        "- a node receives the value of an edge as `value`; an edge to \"node.PORT\" "
        "delivers it as PORT instead, so a node with several inputs gets distinct ports;\n"
        "- templates and expressions are Jinja: {{ value }}, and {{ input.NAME }} for a "
        "workflow input;\n"
        "- each result of the workflow ends in an output node.",
        "Node kinds (use only these):\n" + "\n".join(
            kind_catalogue(engine, allowed, compact=compact)),
    ]
    example = _example(allowed)
    if example is not None:
        parts.append(f"Example of the format:\n{example}")
    return "\n\n".join(parts)


def repair_prompt(problems: Sequence[Problem], *, most: int = 12, shown: bool = True) -> str:
    """The problems to send back (at most ``most`` of them, so the prompt stays small);
    ``shown``: whether the model sees its proposal again just before."""
    lines = ["That proposal has these problems:" if shown
             else "Your previous proposal for this objective had these problems:"]
    lines += [f"- {p.location + ': ' if p.location else ''}{p.message} [{p.code}]"
              for p in problems[:most]]
    if len(problems) > most:
        lines.append(f"- and {len(problems) - most} more")
    lines.append("Reply with a corrected, complete proposal: one JSON object in the same "
                 "format." if shown else "Reply with a new, complete proposal without these "
                 "problems: one JSON object in the same format.")
    return "\n".join(lines)
