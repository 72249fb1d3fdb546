"""A chain of models: the next one is tried when one fails with a retryable error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from plait.errors import ModelError, UsageError
from plait.llm.model import Capabilities, Model, ModelRequest, ModelResponse, StreamEvent

__all__ = ["FallbackModel"]


class FallbackModel:
    """Tries ``models`` in order. A non-retryable error (bad request, auth) stops the chain:
    another provider would be wrong too, or the caller must fix something."""

    def __init__(self, models: Sequence[Model]) -> None:
        if not models:
            raise UsageError("a fallback chain needs at least one model")
        self.models = tuple(models)

    @property
    def name(self) -> str:
        return self.models[0].name

    @property
    def capabilities(self) -> Capabilities:
        return self.models[0].capabilities

    async def complete(self, request: ModelRequest) -> ModelResponse:
        last: ModelError | None = None
        for model in self.models:
            try:
                return await model.complete(request)
            except ModelError as err:
                if not err.retryable:
                    raise
                last = err
        assert last is not None
        raise last

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        last: ModelError | None = None
        for model in self.models:
            started = False
            try:
                async for event in model.stream(request):
                    started = True
                    yield event
                return
            except ModelError as err:
                if started or not err.retryable:
                    raise  # never splice two models' outputs into one answer
                last = err
        assert last is not None
        raise last
