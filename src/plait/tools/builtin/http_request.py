"""HTTP requests to allowlisted hosts (restricted). The rules are :mod:`plait.tools.network`'s."""

from __future__ import annotations

import base64
import contextlib
import json as jsonlib
from collections.abc import Mapping, Sequence
from typing import Literal

from plait.tools.errors import ToolArgumentError
from plait.tools.network import NetworkPolicy, as_policy, fetch
from plait.tools.security import SecurityLevel
from plait.tools.tool import Tool
from plait.types import JsonValue

__all__ = ["HttpRequestTool", "is_text"]

_TEXT_TYPES = ("json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "csv")


def is_text(content_type: str, content: bytes = b"") -> bool:
    """Whether a body is text: by its content type, or (with none) if it decodes as UTF-8."""
    if not content_type:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    return content_type.startswith("text/") or any(t in content_type for t in _TEXT_TYPES)


class HttpRequestTool(Tool):
    """Send an HTTP request to an allowed host and return the status, headers and body."""

    name = "http_request"
    level = SecurityLevel.RESTRICTED

    def __init__(self, allowlist: NetworkPolicy | Sequence[str], *,
                 default_headers: Mapping[str, str] | None = None,
                 name: str | None = None) -> None:
        self.policy = as_policy(allowlist)
        self.default_headers = dict(default_headers or {})
        super().__init__(name=name)

    async def run(self, url: str,
                  method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
                                  "OPTIONS"] = "GET",
                  headers: dict[str, str] | None = None, body: str | None = None,
                  json: JsonValue = None) -> dict[str, object]:
        """Send a request.

        Args:
            url: An http or https URL whose host is allowed.
            method: The HTTP method.
            headers: Extra request headers.
            body: A text body to send.
            json: A JSON body to send (sets Content-Type: application/json); don't combine
                with body.
        """
        sent = {**self.default_headers, **(headers or {})}
        content: bytes | None = None
        if body is not None and json is not None:
            raise ToolArgumentError.single("json", "give either body or json, not both")
        if body is not None:
            content = body.encode("utf-8")
        elif json is not None:
            content = jsonlib.dumps(json).encode("utf-8")
            if not any(k.lower() == "content-type" for k in sent):
                sent["Content-Type"] = "application/json"
        response = await fetch(self.policy, method, url, headers=sent, content=content)
        result: dict[str, object] = {
            "status": response.status, "reason": response.reason, "url": response.url,
            "headers": response.headers, "content_type": response.content_type}
        if not response.content:
            result["body"] = ""
        elif is_text(response.content_type, response.content):
            text = response.text()
            result["body"] = text
            if "json" in response.content_type:
                with contextlib.suppress(ValueError):
                    result["json"] = jsonlib.loads(text)
        else:
            result["body"] = base64.b64encode(response.content).decode("ascii")
            result["body_encoding"] = "base64"
        return result
