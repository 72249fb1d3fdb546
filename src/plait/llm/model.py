"""The one model protocol: a request, a response, and a stream of deltas ending in the
response. Every provider (hosted, local, mock, fallback chain, recorder) implements it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from plait.llm.messages import Message
from plait.types import JsonValue

__all__ = [
    "Capabilities",
    "FinishReason",
    "Finished",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "ToolSpec",
    "Usage",
]

FinishReason: TypeAlias = Literal["stop", "length", "tool_calls", "content_filter", "other"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _empty_object() -> dict[str, JsonValue]:
    return {"type": "object", "properties": {}}


class ToolSpec(_Model):
    """What a model is told about a tool: its name, purpose and JSON-schema parameters."""

    name: str
    description: str = ""
    parameters: dict[str, JsonValue] = Field(default_factory=lambda: _empty_object())


class ModelRequest(_Model):
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: Literal["auto", "none", "required"] = "auto"
    response_schema: dict[str, JsonValue] | None = Field(
        None, description="JSON schema the reply must satisfy (structured output)")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    stop: tuple[str, ...] = ()
    seed: int | None = None


class Usage(_Model):
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(input_tokens=self.input_tokens + other.input_tokens,
                     output_tokens=self.output_tokens + other.output_tokens)


class ModelResponse(_Model):
    message: Message
    model: str
    """The ``provider:model`` that produced it (after any fallback)."""
    usage: Usage = Field(default_factory=Usage)
    finish_reason: FinishReason = "stop"

    @property
    def text(self) -> str:
        return self.message.text


class TextDelta(_Model):
    type: Literal["text_delta"] = "text_delta"
    text: str


class ToolCallDelta(_Model):
    """A piece of a tool call being streamed: ``index`` identifies the call."""

    type: Literal["tool_call_delta"] = "tool_call_delta"
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class Finished(_Model):
    type: Literal["finished"] = "finished"
    response: ModelResponse


StreamEvent: TypeAlias = TextDelta | ToolCallDelta | Finished


class Capabilities(_Model):
    tool_calling: bool = False
    json_mode: bool = False
    vision: bool = False
    streaming: bool = True
    context_length: int = 4096


@runtime_checkable
class Model(Protocol):
    """A language model. ``name`` is its ``provider:model`` string."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """One completion. Raises :class:`plait.errors.ModelError` subclasses on failure."""
        ...

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Deltas as they arrive; the last event is :class:`Finished` with the response."""
        ...
