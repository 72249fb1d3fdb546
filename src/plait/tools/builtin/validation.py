"""Validate data against a JSON Schema (any draft the ``jsonschema`` library knows; the
``$schema`` key picks it, 2020-12 otherwise). References resolve only inside the schema:
nothing is fetched."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field

from plait.tools.errors import ToolArgumentError
from plait.tools.tool import tool
from plait.types import JsonValue

__all__ = ["validate_json_tool"]


def _pointer(parts: Iterable[object]) -> str:
    path = "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in parts)
    return path or "/"


@tool(name="validate_json")
def validate_json_tool(data: JsonValue, schema: dict[str, JsonValue],
                       max_errors: Annotated[int, Field(ge=1, le=1000)] = 50,
                       check_formats: bool = True) -> dict[str, object]:
    """Check data against a JSON Schema and list every violation with its location.

    Args:
        data: The JSON data to check.
        schema: The JSON Schema.
        max_errors: Report at most this many errors.
        check_formats: Also check "format" keywords (date-time, email, ipv4, uri...).
    """
    import jsonschema  # imported on first use: it takes longer to import than all of plait
    from jsonschema.exceptions import SchemaError
    from referencing import Registry
    from referencing.exceptions import Unresolvable

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ToolArgumentError.single(
            "schema", f"not a valid JSON Schema: {exc.message} at {_pointer(exc.path)}"
        ) from None
    checker = cls.FORMAT_CHECKER if check_formats else None
    validator = cls(schema, format_checker=checker, registry=Registry())
    errors: list[dict[str, object]] = []
    total = 0
    try:
        for error in sorted(validator.iter_errors(data), key=lambda e: _pointer(e.path)):
            total += 1
            if len(errors) < max_errors:
                errors.append({"path": _pointer(error.path), "message": error.message,
                               "keyword": str(error.validator),
                               "schema_path": _pointer(error.schema_path)})
    except Unresolvable as exc:
        raise ToolArgumentError.single("schema", f"unresolvable reference: {exc}") from None
    return {"valid": total == 0, "error_count": total, "errors": errors}
