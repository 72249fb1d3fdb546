"""Reading the fields of request bodies, shared by the protocol modules of the mock server.

Every reader raises ``ValueError`` with a message fit for the client: the server turns it into
a 400 in the called API's error shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from plait.testing.mock_script import Message

__all__ = [
    "arguments_of",
    "now_iso",
    "optional_int",
    "prompt_of",
    "required_list",
    "required_str",
    "text_of",
]


def required_str(body: Mapping[str, object], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{key}' is required")
    return value


def required_list(body: Mapping[str, object], key: str) -> list[object]:
    value = body.get(key)
    if not isinstance(value, list):
        raise ValueError(f"'{key}' must be a list")
    return value


def optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def text_of(content: object) -> str:
    """The text of a message content: a string, or the ``text`` of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        text = content.get("text")
        return text if isinstance(text, str) else ""
    if isinstance(content, Sequence):
        return "".join(text_of(part) for part in content if isinstance(part, Mapping))
    return json.dumps(content)


def arguments_of(raw: object) -> dict[str, object]:
    """Tool-call arguments sent as an object or as a JSON string (OpenAI's way)."""
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str) and raw.strip():
        try:
            value = json.loads(raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def prompt_of(messages: Sequence[Message]) -> str:
    """The conversation as ``role: text`` lines: what the default reply hashes."""
    return "\n".join(f"{m.role}: {m.text}" for m in messages)


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
