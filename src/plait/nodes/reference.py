"""The workflow spec reference, rendered as Markdown from the node kinds' params schemas.

``docs/reference/spec.md`` is this module's output; a test fails when they differ::

    python -m plait.nodes.reference > docs/reference/spec.md

Everything here is pure: the same registries give the same text.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml
from pydantic import BaseModel

from plait.graph.registry import FunctionRegistry, KindRegistry, NodeKind, Ports
from plait.graph.spec import EdgeSpec, InputSpec, NodeSpec, RetrySpec, RunSettings, WorkflowSpec

__all__ = ["REGENERATE", "spec_reference"]

REGENERATE = "python -m plait.nodes.reference > docs/reference/spec.md"

Schema = dict[str, Any]

_CHILD = {"name": "child", "inputs": {"text": {"type": "string"}},
          "nodes": [{"id": "shout", "kind": "transform", "params": {"function": "upper"}},
                    {"id": "result", "kind": "output"}],
          "edges": [{"from": "$input.text", "to": "shout"}, {"from": "shout", "to": "result"}]}
_ITEM_CHILD = {**_CHILD, "name": "per_item", "inputs": {"item": {"type": "string"}},
               "edges": [{"from": "$input.item", "to": "shout"},
                         {"from": "shout", "to": "result"}]}
_BODY = {"name": "halve", "inputs": {"n": {"type": "integer"}},
         "nodes": [{"id": "half", "kind": "transform", "params": {"expression": "value // 2"}},
                   {"id": "n", "kind": "output"}],
         "edges": [{"from": "$input.n", "to": "half"}, {"from": "half", "to": "n"}]}

EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "code": [{"id": "score", "kind": "code", "params": {"function": "my_app.score"}}],
    "condition": [
        {"id": "is_long", "kind": "condition", "params": {"expression": "value | length > 280"}},
    ],
    "delay": [{"id": "pause", "kind": "delay", "params": {"seconds": 0.5}}],
    "human_input": [
        {"id": "approve", "kind": "human_input",
         "params": {"prompt": "Publish '{{ value }}'?",
                    "answer_schema": {"type": "string", "enum": ["yes", "no"]},
                    "answer_timeout": 86400, "default": "no"}},
    ],
    "loop": [{"id": "halve_until_small", "kind": "loop",
              "params": {"workflow": _BODY, "max_iterations": 10, "until": "n < 10"}}],
    "map": [{"id": "shout_each", "kind": "map",
             "params": {"workflow": _ITEM_CHILD, "item_input": "item", "concurrency": 4,
                        "output": "result"}}],
    "output": [{"id": "answer", "kind": "output"},
               {"id": "answer_out", "kind": "output", "params": {"name": "answer"}}],
    "subworkflow": [{"id": "shout", "kind": "subworkflow",
                     "params": {"workflow": _CHILD, "output": "result"}},
                    {"id": "from_file", "kind": "subworkflow",
                     "params": {"workflow": "steps/child.yaml"}}],
    "transform": [
        {"id": "greet", "kind": "transform", "params": {"template": "Hello {{ value }}!"}},
        {"id": "initials", "kind": "transform",
         "params": {"expression": "value.split() | map('first') | join"}},
        {"id": "words", "kind": "transform", "params": {"function": "word_count"}},
    ],
}
"""Example nodes of the built-in kinds. Kinds without an entry get one built from their
schema's required fields."""

_FIELD_NOTES: dict[str, dict[str, str]] = {
    "WorkflowSpec": {
        "plait": "the spec format version",
        "name": "the workflow's name",
        "description": "what the workflow does",
        "inputs": "the workflow's inputs by name (see InputSpec); edges read them as "
                  "`$input.NAME`",
        "nodes": "the nodes (see NodeSpec)",
        "edges": "the edges (see EdgeSpec)",
        "settings": "run settings (see RunSettings)",
    },
    "InputSpec": {
        "type": "the value's type, checked when a run starts",
        "description": "what the input means",
        "default": "the value used when the run does not give one",
        "required": "whether a run must give it (inputs with a default never must)",
    },
    "NodeSpec": {
        "id": "unique in the workflow; no `.` and no leading `$`",
        "kind": "a registered node kind (see below)",
        "params": "the kind's parameters, validated by its params model",
        "retry": "retry policy (see RetrySpec); none means one attempt",
        "join": "`all`: a skipped input skips the node; `any`: run if at least one input "
                "delivered, skip only when all were skipped",
        "label": "a display name",
    },
    "EdgeSpec": {
        "source": "the source node id, or `$input` for a workflow input",
        "target": "the target node id",
        "source_port": "`output` (the whole value), a field of a mapping output, or the input "
                       "name when the source is `$input`",
        "target_port": "the target's input port; empty means the kind's primary input (or the "
                       "source node id for kinds without one)",
        "kind": "`data` carries a value; `control` only orders; `conditional` is taken when "
                "the source's branch label equals `branch`",
        "branch": "the branch label a conditional edge follows (`true`/`false` for booleans)",
    },
    "RetrySpec": {
        "max_attempts": "attempts in all, the first included",
        "initial_delay": "seconds before the second attempt",
        "multiplier": "growth of the delay per attempt",
        "max_delay": "the delay's upper bound, in seconds",
    },
    "RunSettings": {
        "profile": "the profile whose run defaults (fail-fast, retry-delay cap, dropping "
                   "intermediate outputs) this workflow's runs use; the engine keeps its "
                   "limits",
        "fail_fast": "stop the run at the first failure (default) or let independent branches "
                     "finish",
        "max_concurrency": "at most this many of one run's nodes execute at once, within the "
                           "engine's limits",
    },
}


# -- schema rendering --------------------------------------------------------------------

def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _rst_to_md(text: str) -> str:
    return inspect.cleandoc(text).replace("``", "`")


def _ref_name(schema: Schema) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _type(schema: Schema, defs: Mapping[str, Schema]) -> str:
    """A short human form of a JSON schema type."""
    if "anyOf" in schema:
        parts = [_type(s, defs) for s in schema["anyOf"] if s.get("type") != "null"]
        text = " or ".join(dict.fromkeys(parts))
        nullable = any(s.get("type") == "null" for s in schema["anyOf"])
        return f"{text} (optional)" if nullable else text
    name = _ref_name(schema)
    if name is not None:
        target = defs.get(name, {})
        if "enum" in target:
            return " \\| ".join(f"`{v}`" for v in target["enum"])
        if name == "JsonValue":
            return "any JSON value"
        if name == "WorkflowSpec":
            return "workflow (inline, or a file path in YAML/JSON files)"
        return name
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), defs)}"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"mapping of {_type(extra, defs)}"
        return "object"
    text = str(kind) if kind else "any"
    bounds = []
    for key, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                    ("exclusiveMaximum", "<"), ("minLength", "length >=")):
        if key in schema:
            bounds.append(f"{op} {schema[key]}")
    return f"{text}, {', '.join(bounds)}" if bounds else text


def _default(name: str, schema: Schema, required: Iterable[str]) -> str:
    if name in required:
        return "*required*"
    if "default" not in schema:
        return ""
    return f"`{json.dumps(schema['default'])}`"


def _description(field: Schema, defs: Mapping[str, Schema], note: str) -> str:
    """The field's own description, else the page's note, else its type's docstring."""
    text = field.get("description") or note
    if not text:
        for option in [field, *field.get("anyOf", [])]:
            name = _ref_name(option)
            if name is not None and defs.get(name, {}).get("description"):
                text = defs[name]["description"].split("\n\n")[0]
                break
    return _cell(_rst_to_md(text or ""))


def _fields_table(schema: Schema, notes: Mapping[str, str] | None = None) -> list[str]:
    props: dict[str, Schema] = schema.get("properties", {})
    if not props:
        return ["*(no parameters)*"]
    defs: dict[str, Schema] = schema.get("$defs", {})
    required = schema.get("required", [])
    notes = notes or {}
    lines = ["| name | type | default | description |", "|---|---|---|---|"]
    for name, field in props.items():
        lines.append(f"| `{name}` | {_type(field, defs)} | {_default(name, field, required)} "
                     f"| {_description(field, defs, notes.get(name, ''))} |")
    return lines


# -- node kinds ----------------------------------------------------------------------------

def _examples(kind: NodeKind[BaseModel]) -> list[dict[str, Any]]:
    if kind.name in EXAMPLES:
        return EXAMPLES[kind.name]
    schema = kind.Params.model_json_schema()
    params = {name: f"<{name}>" for name in schema.get("required", [])}
    return [{"id": f"my_{kind.name}", "kind": kind.name, **({"params": params} if params
                                                            else {})}]


def _ports_of(kind: NodeKind[BaseModel], node: Mapping[str, Any]) -> tuple[Ports, set[str]]:
    """The ports of an example node, and the input names that come from a child workflow."""
    params = kind.Params.model_validate(node.get("params", {}))
    child: set[str] = set()
    for value in dict(params).values():
        if isinstance(value, WorkflowSpec):
            child.update(value.inputs)
    return kind.ports(params), child


def _ports_section(kind: NodeKind[BaseModel], examples: list[dict[str, Any]]) -> list[str]:
    lines = []
    if kind.primary_input:
        lines.append(f"- Primary input: `{kind.primary_input}` (where an edge without a "
                     "target port lands).")
    else:
        lines.append("- No primary input: edges name their target port (`to: node.port`).")
    computed = []
    for node in examples:
        try:
            computed.append((node["id"], *_ports_of(kind, node)))
        except (ValueError, TypeError):  # placeholder params of an unknown kind
            continue
    if not computed:
        return lines
    _, ports, child = computed[0]
    static = {name: port for name, port in ports.inputs.items() if name not in child}
    if static:
        items = ", ".join(
            f"`{name}` ({port.type.value}{', optional' if not port.required else ''})"
            for name, port in sorted(static.items()))
        lines.append(f"- Inputs: {items}.")
    if child:
        lines.append("- Inputs from the child workflow: one port per input it declares "
                     "(required unless it has a default).")
    if ports.open_inputs:
        lines.append("- Open inputs: any port name is accepted (typed `any`); templates and "
                     "expressions see each one as a variable, functions as a keyword argument.")
    elif not static and not child:
        lines.append("- Inputs: none.")
    outputs = dict.fromkeys(p.output.value for _, p, _ in computed)
    if len(outputs) == 1:
        lines.append(f"- Output: `{next(iter(outputs))}`.")
    else:
        per = "; ".join(f"`{p.output.value}` for `{node_id}`" for node_id, p, _ in computed)
        lines.append(f"- Output: depends on the params ({per}).")
    return lines


def _yaml_block(nodes: list[dict[str, Any]]) -> list[str]:
    text = yaml.safe_dump(nodes, sort_keys=False, default_flow_style=False, width=88,
                          allow_unicode=True)
    return ["```yaml", *text.rstrip("\n").splitlines(), "```"]


def _kind_section(kind: NodeKind[BaseModel]) -> list[str]:
    schema = kind.Params.model_json_schema()
    examples = _examples(kind)
    lines = [f"### `{kind.name}`", ""]
    if kind.description:
        lines += [kind.description, ""]
    doc = schema.get("description")
    if doc:
        lines += [_rst_to_md(doc), ""]
    lines += ["**Ports**", "", *_ports_section(kind, examples), "",
              "**Params**", "", *_fields_table(schema), "",
              "**Example**", "", *_yaml_block(examples), ""]
    return lines


# -- functions -----------------------------------------------------------------------------

_FUNCTION_NOTES: dict[str, str] = {
    "identity": "returns `value` unchanged",
    "json_dumps": "`value` as JSON text (keys sorted)",
    "json_loads": "the value of the JSON text `value`",
    "length": "the length of a string, list or mapping",
    "lines": "the non-blank lines of a text, as a list",
    "lower": "the text in lower case",
    "sleep": "waits `seconds`, then returns `value`",
    "sum": "the sum of a list of numbers",
    "upper": "the text in upper case",
    "word_count": "the number of whitespace-separated words",
}
"""Descriptions of built-in functions whose docstring is empty."""


def _arguments(fn: Callable[..., object]) -> str:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return ""
    shown = []
    for p in params:
        if p.name == "ctx":
            continue
        stars = ("*" if p.kind is p.VAR_POSITIONAL else
                 "**" if p.kind is p.VAR_KEYWORD else "")
        default = "" if p.default is p.empty else f"={p.default!r}"
        shown.append(f"`{stars}{p.name}{default}`")
    return ", ".join(shown)


def _functions_section(functions: FunctionRegistry) -> list[str]:
    lines = ["## Built-in functions", "",
             "Name them in `function:` params of `transform`, `condition` and `code` nodes. "
             "A function gets the node's input ports as keyword arguments.", "",
             "| name | arguments | runs | description |", "|---|---|---|---|"]
    for name in functions.names():
        item = functions.get(name)
        assert item is not None
        runs = "async" if item.is_async else ("inline" if item.inline else "worker thread")
        doc = (inspect.getdoc(item.fn) or _FUNCTION_NOTES.get(name, "")).split("\n\n")[0]
        lines.append(f"| `{name}` | {_arguments(item.fn) or '(none)'} | {runs} | "
                     f"{_cell(doc)} |")
    return [*lines, ""]


# -- the page ------------------------------------------------------------------------------

_INTRO = """\
<!-- Generated by `{regenerate}`. Do not edit by hand. -->

# Workflow spec reference

A workflow is versioned plain JSON (`"plait": "1"`), written as YAML or JSON files or built
with `plait.Flow`; all three produce the same canonical spec. This page is generated from the
models of `plait.graph.spec` and from the params schema of every registered node kind.
"""

_EDGE_SHORTHAND = """\
In files, an edge may be written `{from: SOURCE[.PORT], to: TARGET[.PORT]}`. A source port
after the dot selects one field of a mapping output (`from: review.score`); `$input.NAME` is
the workflow input `NAME`. Giving `branch` makes the edge conditional; `branch: true` and
`branch: false` mean the labels `"true"` and `"false"`.
"""

_TOP_MODELS: tuple[tuple[str, type[BaseModel], str], ...] = (
    ("WorkflowSpec", WorkflowSpec, "The top level of a workflow file."),
    ("InputSpec", InputSpec, "One entry of `inputs`."),
    ("NodeSpec", NodeSpec, "One entry of `nodes`."),
    ("EdgeSpec", EdgeSpec, "One entry of `edges`."),
    ("RetrySpec", RetrySpec, "A node's `retry`."),
    ("RunSettings", RunSettings, "The workflow's `settings`."),
)


def spec_reference(kinds: KindRegistry, *, functions: FunctionRegistry | None = None) -> str:
    """The spec reference as Markdown: top-level fields, every kind in ``kinds`` (name,
    description, ports, params, an example) and, if given, the ``functions`` specs may name."""
    lines = [_INTRO.format(regenerate=REGENERATE), "## Contents", ""]
    lines += [f"- [{name}](#{name.lower()})" for name, _, _ in _TOP_MODELS]
    lines.append("- [Node kinds](#node-kinds): " + ", ".join(
        f"[`{kind.name}`](#{kind.name})" for kind in kinds))
    if functions is not None:
        lines.append("- [Built-in functions](#built-in-functions)")
    lines += ["", "## Spec", ""]
    for name, model, what in _TOP_MODELS:
        schema = model.model_json_schema()
        lines += [f"### {name}", "", what, ""]
        doc = schema.get("description")
        if doc:
            lines += [_rst_to_md(doc), ""]
        lines += [*_fields_table(schema, _FIELD_NOTES.get(name)), ""]
        if model is EdgeSpec:
            lines += [_EDGE_SHORTHAND]
    lines += ["## Node kinds", "",
              "Each node names its kind; `params` are checked against the kind's params model "
              "when the workflow is validated.", ""]
    for kind in kinds:
        lines += _kind_section(kind)
    if functions is not None:
        lines += _functions_section(functions)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    from plait.nodes import builtin_functions, default_registry

    sys.stdout.write(spec_reference(default_registry(), functions=builtin_functions()))


if __name__ == "__main__":
    main()
