"""Assembling a stream of deltas into the final message (shared by every provider)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from plait.errors import OutputInvalid
from plait.llm.messages import Message, TextPart, ToolCallPart
from plait.llm.model import (
    Finished,
    FinishReason,
    ModelResponse,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
)

__all__ = ["StreamAssembler", "collect"]


class StreamAssembler:
    """Feed it deltas; :meth:`message` joins text and tool-call argument pieces."""

    def __init__(self, provider: str = "") -> None:
        self.provider = provider
        self.text: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}

    def add(self, delta: TextDelta | ToolCallDelta) -> None:
        if isinstance(delta, TextDelta):
            self.text.append(delta.text)
            return
        call = self.calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
        if delta.id:
            call["id"] = delta.id
        if delta.name:
            call["name"] = delta.name
        call["arguments"] += delta.arguments

    def message(self) -> Message:
        parts: list[TextPart | ToolCallPart] = []
        text = "".join(self.text)
        if text:
            parts.append(TextPart(text=text))
        for index in sorted(self.calls):
            call = self.calls[index]
            try:
                arguments = json.loads(call["arguments"]) if call["arguments"].strip() else {}
            except json.JSONDecodeError as err:
                raise OutputInvalid(f"tool call {call['name']!r} has malformed JSON arguments: "
                                    f"{err.msg}", provider=self.provider) from None
            if not isinstance(arguments, dict):
                raise OutputInvalid(f"tool call {call['name']!r} arguments are not an object",
                                    provider=self.provider)
            parts.append(ToolCallPart(id=call["id"] or f"call_{index}", name=call["name"],
                                      arguments=arguments))
        return Message(role="assistant", parts=tuple(parts))

    def response(self, model: str, usage: Usage | None = None,
                 finish_reason: FinishReason | None = None) -> ModelResponse:
        message = self.message()
        reason: FinishReason = finish_reason or ("tool_calls" if message.tool_calls else "stop")
        return ModelResponse(message=message, model=model, usage=usage or Usage(),
                             finish_reason=reason)


async def collect(stream: AsyncIterator[StreamEvent]) -> ModelResponse:
    """Drain a stream and return its final response."""
    async for event in stream:
        if isinstance(event, Finished):
            return event.response
    raise OutputInvalid("the stream ended without a final response")
