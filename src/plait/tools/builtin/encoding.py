"""Base64: encode text, decode to text (or keep the base64 of binary data)."""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from plait.tools.errors import ToolArgumentError
from plait.tools.tool import tool

__all__ = ["base64_tool"]


@tool(name="base64")
def base64_tool(operation: Literal["encode", "decode"], text: str,
                url_safe: bool = False) -> str:
    """Encode text as base64, or decode base64 to text.

    Args:
        operation: "encode" (UTF-8 text to base64) or "decode" (base64 to UTF-8 text).
        text: The text to encode or the base64 to decode.
        url_safe: Use the URL-safe alphabet ('-' and '_' instead of '+' and '/').
    """
    if operation == "encode":
        data = text.encode("utf-8")
        return (base64.urlsafe_b64encode(data) if url_safe else base64.b64encode(data)
                ).decode("ascii")
    cleaned = "".join(text.split())
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        data = (base64.urlsafe_b64decode(cleaned) if url_safe
                else base64.b64decode(cleaned, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ToolArgumentError.single("text", f"invalid base64: {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolArgumentError.single(
            "text", "the decoded bytes are not UTF-8 text", code="not_text") from None
