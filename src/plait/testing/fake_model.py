"""An in-process fake model for tests of model and agent nodes (no HTTP at all).

Replies come from a script: each entry is a string (a text reply), a ``ToolCallPart`` or a
list of them (tool calls in one reply), a full ``Message``, or a function of the request.
The fake records every request it receives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from plait.llm import (
    Capabilities,
    Finished,
    Message,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextDelta,
    ToolCallPart,
    Usage,
)

__all__ = ["FakeModel", "FakeReply"]

FakeReply = str | ToolCallPart | Sequence[ToolCallPart] | Message | Callable[
    [ModelRequest], "str | Message"]


class FakeModel:
    def __init__(self, replies: Sequence[FakeReply] = (), *, name: str = "mock:fake",
                 capabilities: Capabilities | None = None, tokens_per_reply: int = 10,
                 repeat_last: bool = True) -> None:
        self._name = name
        self._capabilities = capabilities or Capabilities(tool_calling=True, json_mode=True)
        self.replies = list(replies)
        self.requests: list[ModelRequest] = []
        self.tokens_per_reply = tokens_per_reply
        self.repeat_last = repeat_last

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def _next(self, request: ModelRequest) -> Message:
        self.requests.append(request)
        index = len(self.requests) - 1
        if index >= len(self.replies):
            if not self.replies or not self.repeat_last:
                raise AssertionError(f"FakeModel has no reply #{index + 1} scripted")
            index = len(self.replies) - 1
        reply = self.replies[index]
        if callable(reply) and not isinstance(reply, Message | ToolCallPart):
            reply = reply(request)
        if isinstance(reply, Message):
            return reply
        if isinstance(reply, str):
            return Message.assistant(reply)
        if isinstance(reply, ToolCallPart):
            return Message.assistant("", reply)
        return Message.assistant("", *reply)

    def _response(self, message: Message) -> ModelResponse:
        usage = Usage(input_tokens=sum(len(m.text.split()) for m in self.requests[-1].messages),
                      output_tokens=self.tokens_per_reply)
        return ModelResponse(message=message, model=self._name, usage=usage,
                             finish_reason="tool_calls" if message.tool_calls else "stop")

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return self._response(self._next(request))

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        message = self._next(request)
        for word in message.text.split(" "):
            if word:
                yield TextDelta(text=word + " ")
        yield Finished(response=self._response(message))
