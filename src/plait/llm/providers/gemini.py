"""Google Gemini through the official ``google-genai`` SDK (the ``gemini`` extra):
``generateContent`` and ``streamGenerateContent`` (SSE), tools as ``functionDeclarations``
and structured output as a response schema.

Tool parameters and response schemas are sent as full JSON Schema
(``parametersJsonSchema``, ``responseJsonSchema``): the older ``parameters`` and
``responseSchema`` take only an OpenAPI subset, which refuses what pydantic writes
(``$defs``, ``additionalProperties``). The SDK gets its own ``httpx`` client (never
aiohttp, whose implicit retries sleep for seconds) and no retries: plait's policies decide.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

import httpx

from plait.errors import UsageError
from plait.llm.assemble import StreamAssembler
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
from plait.llm.providers.failures import (
    TRANSPORT_ERRORS,
    invalid_json,
    missing_extra,
    status_error,
    transport_error,
)
from plait.llm.providers.mapping import image_base64, split_system
from plait.llm.providers.transport import PerLoop, html_guard, ssl_context
from plait.llm.registry import ProviderConfig

if TYPE_CHECKING:
    from google import genai

__all__ = ["GeminiModel"]

PROVIDER: Final = "gemini"
_FINISH: Final[dict[str, FinishReason]] = {
    "STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
    "RECITATION": "content_filter", "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter"}
_MODE: Final = {"auto": "AUTO", "required": "ANY", "none": "NONE"}

JSONObject = dict[str, Any]


class GeminiModel(ProviderModel):
    """A Gemini model: ``gemini:gemini-2.5-flash`` with ``gemini_api_key``."""

    provider = PROVIDER
    finish_reasons = _FINISH

    def __init__(self, model: str, config: ProviderConfig) -> None:
        super().__init__(model, base_url=config.gemini_base_url)
        if config.gemini_api_key is None:
            raise UsageError(f"{self._name} needs GEMINI_API_KEY")
        self._secret = secret = config.gemini_api_key
        try:
            from google import genai as sdk
            from google.genai import errors
        except ImportError as err:
            raise missing_extra(self._name, "google-genai", "gemini") from err
        self._errors: Any = errors

        def client() -> tuple[genai.Client, httpx.AsyncClient]:
            http = httpx.AsyncClient(timeout=config.timeout, verify=ssl_context(),
                                     event_hooks={"response": [html_guard(PROVIDER)]})
            options: Any = {"timeout": int(config.timeout * 1000), "httpx_async_client": http}
            if self.base_url:
                options["base_url"] = self.base_url
            return sdk.Client(api_key=secret.get_secret_value(), vertexai=False,
                              http_options=options), http

        self._clients: PerLoop[tuple[genai.Client, httpx.AsyncClient]] = PerLoop(client)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        contents, config = self._params(request)
        with self._sdk_errors():
            reply = await self._clients.get()[0].aio.models.generate_content(
                model=self.model, contents=contents, config=config)
        deltas, reason = _candidate(reply, calls=0)
        assembler = StreamAssembler(PROVIDER)  # joins the text parts, parses the arguments
        for delta in deltas:
            assembler.add(delta)
        parts = [p for p in assembler.message().parts if isinstance(p, TextPart | ToolCallPart)]
        return self._response(parts, _usage(reply), reason)

    async def aclose(self) -> None:
        clients = self._clients.pop()
        if clients is not None:
            await clients[0].aio.aclose()
            await clients[1].aclose()  # the SDK leaves a client it was given open

    async def _deltas(self, request: ModelRequest, end: StreamEnd) -> Deltas:
        contents, config = self._params(request)
        calls = 0
        with self._sdk_errors():
            chunks: Any = await self._clients.get()[0].aio.models.generate_content_stream(
                model=self.model, contents=contents, config=config)
            # an async generator (typed as an iterator): closing it ends the call
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    deltas, reason = _candidate(chunk, calls=calls)
                    for delta in deltas:
                        calls += isinstance(delta, ToolCallDelta)
                        yield delta
                    if chunk.usage_metadata is not None:
                        end.usage = _usage(chunk)
                    if reason is not None:
                        end.done, end.reason = True, reason

    @contextlib.contextmanager
    def _sdk_errors(self) -> Iterator[None]:
        errors = self._errors
        try:
            yield
        except errors.APIError as err:
            headers = getattr(err.response, "headers", None)
            body = err.details if err.details is not None else err.message
            raise status_error(PROVIDER, err.code, body, headers,
                               secrets=(self._secret,)) from None
        except TRANSPORT_ERRORS as err:
            raise transport_error(PROVIDER, err, secrets=(self._secret,)) from None
        except (json.JSONDecodeError, errors.UnknownApiResponseError) as err:
            raise invalid_json(PROVIDER, "the reply", ValueError(str(err))) from None

    def _params(self, request: ModelRequest) -> tuple[Any, Any]:
        """``contents`` and ``config`` (plain dicts the SDK validates)."""
        system, turns = split_system(request.messages)
        config: JSONObject = {"automatic_function_calling": {"disable": True}}
        if system:
            config["system_instruction"] = system
        if request.tools:
            config["tools"] = [{"function_declarations": [
                {"name": t.name, "description": t.description,
                 "parameters_json_schema": t.parameters} for t in request.tools]}]
            config["tool_config"] = {
                "function_calling_config": {"mode": _MODE[request.tool_choice]}}
        if request.response_schema is not None:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = request.response_schema
        for key, value in (("temperature", request.temperature), ("seed", request.seed),
                           ("max_output_tokens", request.max_tokens),
                           ("stop_sequences", list(request.stop) or None)):
            if value is not None:
                config[key] = value
        return [_content(m) for m in turns], config


def _content(message: Message) -> JSONObject:
    role = "model" if message.role == "assistant" else "user"
    return {"role": role, "parts": [_part(p) for p in message.parts
                                    if not (isinstance(p, TextPart) and not p.text)]}


def _part(part: TextPart | ImagePart | ToolCallPart | ToolResultPart) -> JSONObject:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, ToolCallPart):
        return {"function_call": {"id": part.id, "name": part.name, "args": part.arguments}}
    if isinstance(part, ToolResultPart):
        key = "error" if part.is_error else "result"
        return {"function_response": {"id": part.call_id, "name": part.name,
                                      "response": {key: part.content}}}
    if part.url and not part.url.startswith("data:"):
        return {"file_data": {"file_uri": part.url, "mime_type": part.media_type}}
    media_type, data = image_base64(part, PROVIDER)
    return {"inline_data": {"mime_type": media_type, "data": base64.b64decode(data)}}


def _candidate(reply: Any, *, calls: int) -> tuple[list[TextDelta | ToolCallDelta], str | None]:
    """The first candidate's text and tool calls (numbered from ``calls``) as deltas, and its
    finish reason (None while a stream goes on)."""
    deltas: list[TextDelta | ToolCallDelta] = []
    candidates = reply.candidates or []
    if not candidates:
        blocked = getattr(reply.prompt_feedback, "block_reason", None)
        return deltas, "SAFETY" if blocked else None
    candidate = candidates[0]
    content = candidate.content
    for part in (content.parts if content is not None else None) or []:
        if part.function_call is not None:
            call = part.function_call
            deltas.append(ToolCallDelta(index=calls, id=call.id or f"call_{calls}",
                                        name=call.name or "",
                                        arguments=json.dumps(call.args or {})))
            calls += 1
        elif part.text and not part.thought:
            deltas.append(TextDelta(text=part.text))
    reason = candidate.finish_reason
    return deltas, (getattr(reason, "value", reason) if reason is not None else None)


def _usage(reply: Any) -> Usage:
    """Output tokens include thinking tokens (billed as output)."""
    meta = reply.usage_metadata
    if meta is None:
        return Usage()
    return Usage(input_tokens=meta.prompt_token_count or 0,
                 output_tokens=(meta.candidates_token_count or 0)
                 + (meta.thoughts_token_count or 0))
