"""Workflow files: YAML or JSON, with nested workflows referenced by relative path."""

from __future__ import annotations

from pathlib import Path

import yaml

from plait.errors import Problem, SpecError
from plait.graph.spec import WorkflowSpec
from plait.graph.specio import spec_from_data, spec_from_json

__all__ = ["load_spec", "parse_spec"]

_CHILD_KINDS = ("subworkflow", "map", "loop")


def parse_spec(text: str, *, source: str = "<text>", yaml_ok: bool = True) -> WorkflowSpec:
    if not yaml_ok or source.endswith(".json"):
        return spec_from_json(text, source=source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise SpecError([Problem("malformed_yaml", str(problem), where)], source=source) from None
    return spec_from_data(data, source=source)


def load_spec(path: str | Path, *, _seen: tuple[Path, ...] = ()) -> WorkflowSpec:
    """Read a workflow file; child workflows named by path (``workflow: other.yaml``) are
    read relative to it and inlined, so the result is one self-contained spec."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise SpecError([Problem("file_not_found", f"{path} {what}")], source=str(path))
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise SpecError([Problem("unsupported_file", "workflow files end in .yaml, .yml or "
                                 f".json, not {path.suffix or '(no suffix)'!r}")],
                        source=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError([Problem("unreadable_file", str(err))], source=str(path)) from None
    spec = parse_spec(text, source=str(path))
    return _inline_children(spec, path, (*_seen, path.resolve()))


def _inline_children(spec: WorkflowSpec, path: Path, seen: tuple[Path, ...]) -> WorkflowSpec:
    nodes = []
    changed = False
    for i, node in enumerate(spec.nodes):
        ref = node.params.get("workflow")
        if node.kind in _CHILD_KINDS and isinstance(ref, str):
            child_path = (path.parent / ref).resolve()
            if child_path in seen:
                raise SpecError([Problem("recursive_workflow", f"{ref} includes itself",
                                         f"nodes[{i}] ({node.id!r}).params.workflow")],
                                source=str(path))
            child = load_spec(child_path, _seen=seen)
            node = node.model_copy(update={"params": {**node.params,
                                                      "workflow": child.to_json_dict()}})
            changed = True
        nodes.append(node)
    return spec.model_copy(update={"nodes": nodes}) if changed else spec
