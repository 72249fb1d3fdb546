"""Request and response pieces the providers share: the system prompt, images, tool
declarations and arguments, finish reasons."""

from __future__ import annotations

import json
from collections.abc import Mapping

from plait.errors import UsageError
from plait.llm.messages import ImagePart, Message
from plait.llm.model import FinishReason, ToolSpec
from plait.llm.providers.failures import invalid_json
from plait.types import JsonValue

__all__ = [
    "arguments_object",
    "finish_reason",
    "image_base64",
    "image_url",
    "split_system",
    "tool_json",
]


def split_system(messages: tuple[Message, ...]) -> tuple[str, list[Message]]:
    """The system prompt (all system messages' text, joined) and the other messages."""
    system = [m.text for m in messages if m.role == "system"]
    return "\n\n".join(t for t in system if t), [m for m in messages if m.role != "system"]


def image_url(part: ImagePart) -> str:
    """The image as a URL: its own, or a ``data:`` URL of its bytes."""
    if part.url:
        return part.url
    if part.data:
        return f"data:{part.media_type};base64,{part.data}"
    raise UsageError("an image part needs a url or base64 data")


def image_base64(part: ImagePart, provider: str) -> tuple[str, str]:
    """``(media_type, base64 data)`` for providers that take only inline bytes."""
    if part.data:
        return part.media_type, part.data
    if part.url and part.url.startswith("data:") and ";base64," in part.url:
        header, _, data = part.url.partition(";base64,")
        return header.removeprefix("data:") or part.media_type, data
    raise UsageError(f"{provider} takes images as base64 data, not by URL; "
                     "pass ImagePart(data=...)")


def tool_json(tool: ToolSpec) -> dict[str, JsonValue]:
    """A tool as the function declaration most APIs take: name, description, parameters."""
    return {"name": tool.name, "description": tool.description, "parameters": tool.parameters}


def arguments_object(raw: object, *, tool: str, provider: str) -> dict[str, JsonValue]:
    """Tool-call arguments (a JSON string or an already-parsed object) as an object."""
    value: object = raw
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError as err:
            raise invalid_json(provider, f"the arguments of tool call {tool!r}", err) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_json(provider, f"the arguments of tool call {tool!r}",
                           ValueError("not a JSON object"))
    return value


def finish_reason(raw: str | None, table: Mapping[str, FinishReason], *,
                  tool_calls: bool) -> FinishReason:
    """A provider's stop reason in plait's words; a reply with tool calls ends in them."""
    if tool_calls:
        return "tool_calls"
    if raw is None:
        return "stop"
    return table.get(raw, "other")
