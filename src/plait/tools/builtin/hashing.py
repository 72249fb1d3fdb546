"""Hex digests of text or base64 data: MD5, SHA-1, SHA-256, SHA-512, BLAKE2b."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Literal

from plait.tools.errors import ToolArgumentError
from plait.tools.tool import tool

__all__ = ["hash_tool"]


@tool(name="hash")
def hash_tool(text: str,
              algorithm: Literal["md5", "sha1", "sha256", "sha512", "blake2b"] = "sha256",
              encoding: Literal["utf-8", "base64"] = "utf-8") -> str:
    """Compute the hex digest of a text (MD5 and SHA-1 are for checksums, not security).

    Args:
        text: The data: text, or base64 when encoding is "base64".
        algorithm: md5, sha1, sha256, sha512 or blake2b.
        encoding: "utf-8" to hash the text's UTF-8 bytes, "base64" to hash decoded bytes.
    """
    if encoding == "base64":
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ToolArgumentError.single("text", f"invalid base64: {exc}") from None
    else:
        data = text.encode("utf-8")
    return hashlib.new(algorithm, data, usedforsecurity=False).hexdigest()
