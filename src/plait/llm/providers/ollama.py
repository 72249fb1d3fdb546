"""Ollama's native chat API (``POST /api/chat``): NDJSON streaming, tools, and ``format`` set
to the JSON schema for structured output. Plain HTTP (``httpx``); no SDK needed.

``ollama:llama3.2`` talks to ``ProviderConfig.ollama_base_url`` (``OLLAMA_HOST``,
default ``http://127.0.0.1:11434``). For Ollama's OpenAI-compatible ``/v1`` use
``openai:MODEL`` with ``OPENAI_BASE_URL=http://127.0.0.1:11434/v1`` instead.
"""

from __future__ import annotations

import contextlib
import json
from typing import Final

from plait.errors import ProviderUnavailable
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
from plait.llm.providers.failures import invalid_json
from plait.llm.providers.mapping import arguments_object, image_base64, tool_json
from plait.llm.providers.transport import JSONTransport
from plait.llm.registry import ProviderConfig

__all__ = ["OllamaModel"]

PROVIDER: Final = "ollama"
_FINISH: Final[dict[str, FinishReason]] = {"stop": "stop", "length": "length"}

JSONObject = dict[str, object]


class OllamaModel(ProviderModel):
    """A model served by Ollama (or anything speaking its ``/api/chat``)."""

    provider = PROVIDER
    finish_reasons = _FINISH

    def __init__(self, model: str, config: ProviderConfig) -> None:
        super().__init__(model, base_url=config.ollama_base_url)
        self._http = JSONTransport(PROVIDER, config.ollama_base_url, timeout=config.timeout)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        data, _ = await self._http.post("/api/chat", self._body(request, stream=False))
        if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
            raise invalid_json(PROVIDER, "the reply", ValueError("no 'message' object"))
        parts: list[TextPart | ToolCallPart] = []
        message: JSONObject = data["message"]
        if message.get("content"):
            parts.append(TextPart(text=str(message["content"])))
        parts += [ToolCallPart(id=call_id, name=name, arguments=arguments_object(
                      args, tool=name, provider=PROVIDER))
                  for call_id, name, args in _tool_calls(message, start=0)]
        return self._response(parts, _usage(data), _str(data.get("done_reason")))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _deltas(self, request: ModelRequest, end: StreamEnd) -> Deltas:
        calls = 0
        lines = self._http.lines("/api/chat", self._body(request, stream=True))
        async with contextlib.aclosing(lines):
            async for line in lines:
                try:
                    chunk = json.loads(line)
                except ValueError as err:
                    raise invalid_json(PROVIDER, "a stream chunk", err) from None
                if not isinstance(chunk, dict):
                    raise invalid_json(PROVIDER, "a stream chunk", ValueError("not an object"))
                if "error" in chunk:
                    raise ProviderUnavailable(f"error in stream: {chunk['error']}",
                                              provider=PROVIDER)
                message = chunk.get("message")
                if isinstance(message, dict):
                    if message.get("content"):
                        yield TextDelta(text=str(message["content"]))
                    for call_id, name, args in _tool_calls(message, start=calls):
                        yield ToolCallDelta(index=calls, id=call_id, name=name,
                                            arguments=args if isinstance(args, str)
                                            else json.dumps(args))
                        calls += 1
                if chunk.get("done"):
                    end.done, end.usage = True, _usage(chunk)
                    end.reason = _str(chunk.get("done_reason"))

    def _body(self, request: ModelRequest, *, stream: bool) -> JSONObject:
        body: JSONObject = {"model": self.model, "stream": stream,
                            "messages": [m for msg in request.messages for m in _messages(msg)]}
        if request.tools and request.tool_choice != "none":
            body["tools"] = [{"type": "function", "function": tool_json(t)} for t in request.tools]
        if request.response_schema is not None:
            body["format"] = request.response_schema
        options = {key: value for key, value in (
            ("temperature", request.temperature), ("num_predict", request.max_tokens),
            ("stop", list(request.stop) or None), ("seed", request.seed)) if value is not None}
        if options:
            body["options"] = options
        return body


def _messages(message: Message) -> list[JSONObject]:
    """One plait message as Ollama messages (each tool result is a message of its own)."""
    if message.role == "tool":
        return [{"role": "tool", "content": r.content, "tool_name": r.name}
                for r in message.parts if isinstance(r, ToolResultPart)]
    out: JSONObject = {"role": message.role, "content": message.text}
    images = [image_base64(p, PROVIDER)[1] for p in message.parts if isinstance(p, ImagePart)]
    if images:
        out["images"] = images
    if message.tool_calls:
        out["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}}
                             for c in message.tool_calls]
    return [out]


def _tool_calls(message: JSONObject, *, start: int) -> list[tuple[str, str, object]]:
    """``(id, name, arguments)`` of the message's tool calls (Ollama often sends no id)."""
    found: list[tuple[str, str, object]] = []
    calls = message.get("tool_calls")
    for offset, call in enumerate(calls if isinstance(calls, list) else []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise invalid_json(PROVIDER, "a tool call", ValueError("no 'function' object"))
        name = str(function.get("name", ""))
        found.append((str(call.get("id") or f"call_{start + offset}"), name,
                      function.get("arguments")))
    return found


def _usage(data: JSONObject) -> Usage:
    return Usage(input_tokens=_int(data.get("prompt_eval_count")),
                 output_tokens=_int(data.get("eval_count")))


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
