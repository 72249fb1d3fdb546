"""What every provider class shares: its ``provider:model`` name, capabilities, a repr with no
secret in it, the response built from parts, and ``stream()`` built from the provider's deltas.

A provider subclasses :class:`ProviderModel`, sets ``provider`` and ``finish_reasons``, and
writes ``complete()``, ``_deltas()`` (which fills a :class:`StreamEnd`) and ``aclose()``.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from plait.llm.assemble import StreamAssembler
from plait.llm.capabilities import capabilities_for
from plait.llm.messages import Message, TextPart, ToolCallPart
from plait.llm.model import (
    Capabilities,
    Finished,
    FinishReason,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from plait.llm.providers.failures import cut_off
from plait.llm.providers.mapping import finish_reason

__all__ = ["Deltas", "ProviderModel", "StreamEnd"]

Deltas = AsyncGenerator[TextDelta | ToolCallDelta, None]
"""What a provider's ``_deltas()`` yields."""


@dataclass(slots=True)
class StreamEnd:
    """What a provider learns at the end of a stream; ``done`` says it ended properly."""

    done: bool = False
    usage: Usage = field(default_factory=Usage)
    reason: str | None = None


class ProviderModel(ABC):
    """Base of the provider classes (see the module docs)."""

    provider: ClassVar[str] = ""
    finish_reasons: ClassVar[Mapping[str, FinishReason]] = {}

    def __init__(self, model: str, *, base_url: str | None) -> None:
        self.model = model
        self.base_url = base_url
        self._name = f"{self.provider}:{model}"
        self._capabilities = capabilities_for(self._name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r}, base_url={self.base_url!r})"

    @abstractmethod
    async def complete(self, request: ModelRequest) -> ModelResponse:
        """One completion (each provider maps its own API)."""

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        end = StreamEnd()
        return self._stream(self._deltas(request, end), end)

    async def aclose(self) -> None:  # noqa: B027 - optional: not every provider pools
        """Close this event loop's connections."""

    @abstractmethod
    def _deltas(self, request: ModelRequest, end: StreamEnd) -> Deltas:
        """The provider's stream as deltas; it fills ``end`` with usage and finish reason."""

    def _response(self, parts: list[TextPart | ToolCallPart], usage: Usage,
                  reason: str | None) -> ModelResponse:
        """The response of a whole (not streamed) reply; with tool calls it ends in them."""
        calls = any(isinstance(p, ToolCallPart) for p in parts)
        return ModelResponse(message=Message(role="assistant", parts=tuple(parts)),
                             model=self._name, usage=usage,
                             finish_reason=finish_reason(reason, self.finish_reasons,
                                                         tool_calls=calls))

    async def _stream(self, deltas: Deltas,
                      end: StreamEnd) -> AsyncIterator[StreamEvent]:
        """Pass ``deltas`` on, then :class:`Finished` with the assembled response. A stream
        that stops before the provider marked it done (``end.done``) was cut off."""
        assembler = StreamAssembler(self.provider)
        async with contextlib.aclosing(deltas):  # a consumer that stops early frees the call
            async for delta in deltas:
                assembler.add(delta)
                yield delta
        if not end.done:
            raise cut_off(self.provider)
        message = assembler.message()
        yield Finished(response=ModelResponse(
            message=message, model=self._name, usage=end.usage,
            finish_reason=finish_reason(end.reason, self.finish_reasons,
                                        tool_calls=bool(message.tool_calls))))
