"""Turning plain data and JSON text into a :class:`WorkflowSpec` (YAML lives in plait.nodes)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import ValidationError

from plait.errors import Problem, SpecError
from plait.graph.compiler import pydantic_problems
from plait.graph.spec import WorkflowSpec

__all__ = ["spec_from_data", "spec_from_json"]


def spec_from_data(data: object, *, source: str = "") -> WorkflowSpec:
    """Validate the shape of plain data as a spec; raises :class:`SpecError` with every
    problem and its location."""
    if isinstance(data, WorkflowSpec):
        return data
    if not isinstance(data, Mapping):
        raise SpecError([Problem("not_an_object", "a workflow must be a mapping (an object "
                                 f"with 'name' and 'nodes'), got {type(data).__name__}")],
                        source=source)
    try:
        return WorkflowSpec.model_validate(dict(data))
    except ValidationError as err:
        raise SpecError(pydantic_problems(err, ""), source=source) from None


def spec_from_json(text: str, *, source: str = "") -> WorkflowSpec:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SpecError([Problem("malformed_json", err.msg,
                                 f"line {err.lineno}, column {err.colno}")],
                        source=source) from None
    return spec_from_data(data, source=source)
