"""UUIDs: random (version 4) or derived from a namespace and a name (versions 3 and 5)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field

from plait.tools.errors import ToolArgumentError
from plait.tools.tool import tool

__all__ = ["uuid_tool"]

_NAMESPACES = {"dns": uuid.NAMESPACE_DNS, "url": uuid.NAMESPACE_URL,
               "oid": uuid.NAMESPACE_OID, "x500": uuid.NAMESPACE_X500}


@tool(name="uuid")
def uuid_tool(version: Literal[3, 4, 5] = 4, count: Annotated[int, Field(ge=1, le=100)] = 1,
              namespace: str | None = None, name: str | None = None) -> list[str]:
    """Generate UUIDs: random ones (version 4), or the same UUID every time for a namespace
    and a name (versions 3 and 5).

    Args:
        version: 4 for random; 5 (SHA-1) or 3 (MD5) for name-based.
        count: How many random UUIDs to return (name-based UUIDs are always one).
        namespace: For versions 3 and 5: "dns", "url", "oid", "x500" or a UUID.
        name: For versions 3 and 5: the name to derive the UUID from.
    """
    if version == 4:
        return [str(uuid.uuid4()) for _ in range(count)]
    if namespace is None or name is None:
        raise ToolArgumentError.single("name", f"version {version} needs a namespace and a name")
    try:
        space = _NAMESPACES.get(namespace.lower()) or uuid.UUID(namespace)
    except ValueError:
        raise ToolArgumentError.single(
            "namespace", f"{namespace!r} is not dns, url, oid, x500 or a UUID") from None
    made = uuid.uuid5(space, name) if version == 5 else uuid.uuid3(space, name)
    return [str(made)]
