"""Query JSON data with JMESPath (https://jmespath.org), through the ``jmespath`` library."""

from __future__ import annotations

import contextlib
import json

import jmespath
from jmespath.exceptions import JMESPathError

from plait.tools.errors import ToolArgumentError
from plait.tools.tool import tool
from plait.types import JsonValue

__all__ = ["json_query_tool"]


@tool(name="json_query")
def json_query_tool(data: JsonValue, query: str) -> JsonValue:
    """Select and reshape JSON data with a JMESPath expression, e.g. "items[?price > `10`].name"
    or "length(users)".

    Args:
        data: The JSON data (a JSON text holding an object or array is parsed first).
        query: A JMESPath expression.
    """
    if isinstance(data, str) and data.lstrip()[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            data = json.loads(data)
    try:
        compiled = jmespath.compile(query)
    except JMESPathError as exc:
        raise ToolArgumentError.single("query", f"invalid JMESPath expression: {exc}") from None
    try:
        result: JsonValue = compiled.search(data)
    except JMESPathError as exc:
        raise ToolArgumentError.single("query", f"the query failed: {exc}") from None
    return result
