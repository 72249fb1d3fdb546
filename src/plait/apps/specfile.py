"""Writing a spec as a workflow file people read: YAML with only what differs from the
defaults, edges in their ``{from, to, branch}`` form, and an optional comment header.

The text is checked to load back into the very same spec; if a shorthand ever lost
something, the full canonical form is written instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

from plait.graph.spec import EdgeKind, EdgeSpec, WorkflowSpec
from plait.nodes.loader import parse_spec

__all__ = ["spec_json", "spec_yaml"]


def _edge(edge: EdgeSpec) -> dict[str, Any]:
    source = edge.source if edge.source_port == "output" else f"{edge.source}.{edge.source_port}"
    target = edge.target if edge.target_port is None else f"{edge.target}.{edge.target_port}"
    data: dict[str, Any] = {"from": source, "to": target}
    if edge.branch is not None:
        data["branch"] = edge.branch
        if edge.kind is not EdgeKind.CONDITIONAL:
            data["kind"] = edge.kind.value
    elif edge.kind is not EdgeKind.DATA:
        data["kind"] = edge.kind.value
    return data


def _short(spec: WorkflowSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"plait": spec.plait, "name": spec.name}
    if spec.description:
        data["description"] = spec.description
    if spec.inputs:
        data["inputs"] = {name: inp.model_dump(mode="json", exclude_defaults=True)
                          for name, inp in spec.inputs.items()}
    data["nodes"] = [node.model_dump(mode="json", exclude_defaults=True) for node in spec.nodes]
    for node in data["nodes"]:
        node.setdefault("params", {})
    data["edges"] = [_edge(e) for e in spec.edges]
    settings = spec.settings.model_dump(mode="json", exclude_defaults=True)
    if settings:
        data["settings"] = settings
    return data


class _Dumper(yaml.SafeDumper):
    """Block style throughout; text with line breaks as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(data: dict[str, Any]) -> str:
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100)
    return text


def _comment(lines: Sequence[str]) -> str:
    out = []
    for line in lines:
        for part in line.splitlines() or [""]:
            out.append(f"# {part}".rstrip())
    return "\n".join(out) + "\n" if out else ""


def spec_yaml(spec: WorkflowSpec, *, header: Sequence[str] = ()) -> str:
    """``spec`` as a YAML workflow file that loads back into the same spec."""
    body = _dump(_short(spec))
    if parse_spec(body, source="generated.yaml").digest() != spec.digest():
        body = _dump(spec.to_json_dict())
    return _comment(header) + body


def spec_json(spec: WorkflowSpec) -> str:
    return json.dumps(spec.to_json_dict(), indent=2, ensure_ascii=False) + "\n"
