"""Anthropic's Messages API through the official ``anthropic`` SDK (the ``anthropic`` extra).

The system prompt goes apart from the messages; tool calls and results are ``tool_use`` and
``tool_result`` blocks (results ride in a user turn; consecutive turns of one role merge, as
the API wants them alternating); structured output is ``output_config.format``. The SDK's own
retries are off: plait's retry policies and fallback chains decide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from plait.errors import UsageError
from plait.llm.messages import ImagePart, Message, TextPart, ToolCallPart, ToolResultPart
from plait.llm.model import (
    FinishReason,
    ModelRequest,
    ModelResponse,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from plait.llm.providers.base import Deltas, ProviderModel, StreamEnd
from plait.llm.providers.failures import missing_extra, not_json, sdk_errors
from plait.llm.providers.mapping import arguments_object, image_base64, split_system
from plait.llm.providers.transport import PerLoop, sdk_http_client
from plait.llm.registry import ProviderConfig

if TYPE_CHECKING:
    import anthropic

__all__ = ["AnthropicModel"]

PROVIDER: Final = "anthropic"
DEFAULT_MAX_TOKENS: Final = 4096
"""The API requires ``max_tokens``; this is sent when the request sets none."""
_FINISH: Final[dict[str, FinishReason]] = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "tool_use": "tool_calls", "refusal": "content_filter"}
_TOOL_CHOICE: Final = {"auto": "auto", "required": "any", "none": "none"}

JSONObject = dict[str, Any]


class AnthropicModel(ProviderModel):
    """A Claude model: ``anthropic:claude-haiku-4-5`` with ``anthropic_api_key``."""

    provider = PROVIDER
    finish_reasons = _FINISH

    def __init__(self, model: str, config: ProviderConfig) -> None:
        super().__init__(model, base_url=config.anthropic_base_url or "https://api.anthropic.com")
        if config.anthropic_api_key is None:
            raise UsageError(f"{self._name} needs ANTHROPIC_API_KEY")
        self._secret = secret = config.anthropic_api_key
        try:
            import anthropic as sdk
        except ImportError as err:
            raise missing_extra(self._name, "anthropic", "anthropic") from err
        self._sdk = sdk
        self._clients: PerLoop[anthropic.AsyncAnthropic] = PerLoop(lambda: sdk.AsyncAnthropic(
            api_key=secret.get_secret_value(), base_url=self.base_url,
            timeout=config.timeout, max_retries=0, http_client=sdk_http_client(sdk)))

    async def complete(self, request: ModelRequest) -> ModelResponse:
        with sdk_errors(PROVIDER, self._sdk, (self._secret,)):
            reply = await self._clients.get().messages.create(**self._params(request))
        if isinstance(reply, str):  # the SDK's answer to a reply that is not JSON
            raise not_json(PROVIDER, "a text page")
        parts: list[TextPart | ToolCallPart] = []
        for block in reply.content:
            if block.type == "text" and block.text:
                parts.append(TextPart(text=block.text))
            elif block.type == "tool_use":
                parts.append(ToolCallPart(id=block.id, name=block.name, arguments=arguments_object(
                    block.input, tool=block.name, provider=PROVIDER)))
        return self._response(parts, _usage(reply.usage), reply.stop_reason)

    async def aclose(self) -> None:
        client = self._clients.pop()
        if client is not None:
            await client.close()

    async def _deltas(self, request: ModelRequest, end: StreamEnd) -> Deltas:
        calls: dict[int, int] = {}  # content block index -> tool call number
        with sdk_errors(PROVIDER, self._sdk, (self._secret,)):
            events = await self._clients.get().messages.create(**self._params(request),
                                                               stream=True)
            async with events:  # closes the response when the consumer stops early
                async for event in events:
                    delta = _event_delta(event, end, calls)
                    if delta is not None:
                        yield delta

    def _params(self, request: ModelRequest) -> JSONObject:
        system, turns = split_system(request.messages)
        params: JSONObject = {"model": self.model, "messages": _messages(turns),
                              "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS}
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = [{"name": t.name, "description": t.description,
                                "input_schema": t.parameters} for t in request.tools]
            params["tool_choice"] = {"type": _TOOL_CHOICE[request.tool_choice]}
        if request.response_schema is not None:
            params["output_config"] = {"format": {"type": "json_schema",
                                                  "schema": request.response_schema}}
        if request.temperature is not None:  # the SDK dropped it; older models still take it
            params["extra_body"] = {"temperature": request.temperature}
        if request.stop:
            params["stop_sequences"] = list(request.stop)
        return params


def _messages(turns: list[Message]) -> list[JSONObject]:
    """Turns as Anthropic messages: tool results in user turns, same-role turns merged."""
    out: list[JSONObject] = []
    for message in turns:
        role = "assistant" if message.role == "assistant" else "user"
        blocks = [_block(part) for part in message.parts
                  if not (isinstance(part, TextPart) and not part.text)]
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _block(part: TextPart | ImagePart | ToolCallPart | ToolResultPart) -> JSONObject:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if isinstance(part, ToolResultPart):
        return {"type": "tool_result", "tool_use_id": part.call_id, "content": part.content,
                "is_error": part.is_error}
    if part.url and not part.url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    media_type, data = image_base64(part, PROVIDER)
    return {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                        "data": data}}


def _event_delta(event: Any, end: StreamEnd,
                 calls: dict[int, int]) -> TextDelta | ToolCallDelta | None:
    """A stream event's delta, if it has one; usage, stop reason and the end go to ``end``.
    ``calls`` numbers the tool-use blocks by their content block index."""
    if event.type == "message_start":
        end.usage = _usage(event.message.usage)
    elif event.type == "content_block_start":
        block = event.content_block
        if block.type == "tool_use":
            calls[event.index] = len(calls)
            return ToolCallDelta(index=calls[event.index], id=block.id, name=block.name)
        if block.type == "text" and block.text:
            return TextDelta(text=block.text)
    elif event.type == "content_block_delta":
        delta = event.delta
        if delta.type == "text_delta":
            return TextDelta(text=delta.text)
        if delta.type == "input_json_delta" and event.index in calls:
            return ToolCallDelta(index=calls[event.index], arguments=delta.partial_json)
    elif event.type == "message_delta":
        end.reason = event.delta.stop_reason
        end.usage = Usage(input_tokens=end.usage.input_tokens,
                          output_tokens=event.usage.output_tokens)
    elif event.type == "message_stop":
        end.done = True
    return None


def _usage(usage: Any) -> Usage:
    """Input tokens include those read from and written to the prompt cache."""
    cached = (getattr(usage, "cache_creation_input_tokens", 0) or 0) + (
        getattr(usage, "cache_read_input_tokens", 0) or 0)
    return Usage(input_tokens=(usage.input_tokens or 0) + cached,
                 output_tokens=usage.output_tokens or 0)
