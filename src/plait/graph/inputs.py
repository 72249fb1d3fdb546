"""Checking a run's inputs against the workflow's declared inputs (all problems at once)."""

from __future__ import annotations

from collections.abc import Mapping

from plait.errors import InputError, Problem
from plait.graph.spec import WorkflowSpec
from plait.types import PortType

__all__ = ["resolve_inputs", "value_type_ok"]

_CHECKS: dict[PortType, tuple[type, ...]] = {
    PortType.STRING: (str,),
    PortType.NUMBER: (int, float),
    PortType.INTEGER: (int,),
    PortType.BOOLEAN: (bool,),
    PortType.LIST: (list, tuple),
    PortType.OBJECT: (Mapping,),
}


def value_type_ok(expected: PortType, value: object) -> bool:
    if expected is PortType.ANY or value is None:
        return True
    if isinstance(value, bool) and expected in (PortType.NUMBER, PortType.INTEGER):
        return False
    return isinstance(value, _CHECKS[expected])


def resolve_inputs(spec: WorkflowSpec, given: Mapping[str, object]) -> dict[str, object]:
    """Given inputs plus defaults; raises :class:`InputError` listing every problem."""
    declared = spec.inputs
    if not declared:
        if given:
            raise InputError([Problem("unknown_input", f"unknown input {name!r}: workflow "
                                      f"{spec.name!r} declares no inputs", f"inputs.{name}")
                              for name in given])
        return {}
    resolved: dict[str, object] = {}
    problems: list[Problem] = []
    for name, inp in declared.items():
        if name in given:
            value = given[name]
            if not value_type_ok(inp.type, value):
                problems.append(Problem("type_mismatch", f"expected {inp.type.value}, got "
                                        f"{type(value).__name__}", f"inputs.{name}"))
            resolved[name] = value
        elif inp.default is not None or not inp.required:
            resolved[name] = inp.default
        else:
            problems.append(Problem("missing_input", "required input is missing",
                                    f"inputs.{name}"))
    for name in given:
        if name not in declared:
            problems.append(Problem("unknown_input", f"unknown input; declared: "
                                    f"{', '.join(declared)}", f"inputs.{name}"))
    if problems:
        raise InputError(problems)
    return resolved
