"""Google's Gemini API (``generativelanguage``) for :class:`~plait.testing.MockLLMServer`.

- ``POST /v1beta/models/{model}:generateContent``: ``candidates[0].content.parts`` (``text``
  and ``functionCall`` parts, role ``model``), ``finishReason`` (``STOP``, ``MAX_TOKENS``),
  ``usageMetadata``, ``modelVersion``, ``responseId``.
- ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``: the same objects as
  server-sent events (``data: {...}`` with CRLF line ends, no ``[DONE]``: the stream just
  ends); the last carries ``finishReason`` and the full ``usageMetadata``. A function call
  arrives whole in one event. Without ``alt=sse`` the stream is one JSON array, piece by piece.
- ``:countTokens``, ``:embedContent``, ``:batchEmbedContents`` (deterministic vectors,
  ``outputDimensionality`` honoured), ``GET /v1beta/models`` and ``GET /v1beta/models/{model}``.

Every path is also served under ``/v1``. With ``api_key`` set on the server, calls need it in
``x-goog-api-key`` or ``?key=``. Errors are ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from plait.testing.mock_fields import optional_int, prompt_of, required_list, text_of
from plait.testing.mock_http import (
    Handler,
    HTTPRequest,
    HTTPResponder,
    JSONObject,
    Router,
    SSEStyle,
)
from plait.testing.mock_script import LLMRequest, Message, ToolCall, tokenize
from plait.testing.mock_vectors import hash_embedding

if TYPE_CHECKING:
    from plait.testing.mock_llm import MockLLMServer
    from plait.testing.mock_turn import Turn

__all__ = ["gemini_error", "register_gemini"]

GOOGLE_SSE: Final = SSEStyle(space=True, eol=b"\r\n")
_STATUS: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def gemini_error(status: int, message: str) -> JSONObject:
    name = _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message, "status": name}}


async def _authorized(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> bool:
    if server.api_key is None:
        return True
    key = http.headers.get("x-goog-api-key") or http.query_value("key")
    if key == server.api_key:
        return True
    if key:
        await out.send_json(400, out.errors(400, "API key not valid. Please pass a valid API key."))
    else:
        message = "Method doesn't allow unregistered callers. Please use an API key."
        await out.send_json(403, out.errors(403, message))
    return False


def _get(body: Mapping[str, object], camel: str, snake: str) -> object:
    """REST accepts both spellings of a field."""
    return body[camel] if camel in body else body.get(snake)


def _messages(body: Mapping[str, object]) -> tuple[Message, ...]:
    found: list[Message] = []
    system = _get(body, "systemInstruction", "system_instruction")
    if isinstance(system, Mapping):
        found.append(Message("system", text_of(system.get("parts"))))
    if "contents" not in body:
        raise ValueError("* GenerateContentRequest.contents: contents is not specified")
    for content in required_list(body, "contents"):
        if not isinstance(content, Mapping):
            raise ValueError("* GenerateContentRequest.contents: each content is an object")
        role = "assistant" if content.get("role") == "model" else "user"
        texts, calls = [], []
        parts = content.get("parts")
        for part in parts if isinstance(parts, list) else ():
            if not isinstance(part, Mapping):
                continue
            call = _get(part, "functionCall", "function_call")
            result = _get(part, "functionResponse", "function_response")
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(call, Mapping):
                args = call.get("args")
                ref = call.get("id")
                calls.append(
                    ToolCall(
                        str(call.get("name", "")),
                        dict(args) if isinstance(args, Mapping) else {},
                        ref if isinstance(ref, str) else None,
                    )
                )
            elif isinstance(result, Mapping):
                name, ref = result.get("name"), result.get("id")
                found.append(
                    Message(
                        "tool",
                        json.dumps(result.get("response")),
                        tool_call_id=ref if isinstance(ref, str) else None,
                        name=name if isinstance(name, str) else None,
                    )
                )
        if texts or calls:
            found.append(Message(role, "".join(texts), tuple(calls)))
    return tuple(found)


def _tools(body: Mapping[str, object]) -> tuple[str, ...]:
    names = []
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        decls = (
            _get(tool, "functionDeclarations", "function_declarations")
            if isinstance(tool, Mapping)
            else None
        )
        for decl in decls if isinstance(decls, list) else ():
            if isinstance(decl, Mapping) and isinstance(decl.get("name"), str):
                names.append(decl["name"])
    return tuple(names)


def _usage(turn: Turn, output: int) -> JSONObject:
    return {
        "promptTokenCount": turn.input_tokens,
        "candidatesTokenCount": output,
        "totalTokenCount": turn.input_tokens + output,
    }


def _call_part(turn: Turn, index: int) -> JSONObject:
    planned = turn.calls[index]
    call: JSONObject = {"name": planned.name, "args": dict(planned.arguments)}
    if planned.call.id is not None:
        call["id"] = planned.call.id
    return {"functionCall": call}


def _response(turn: Turn, parts: list[JSONObject], last: bool, output: int) -> JSONObject:
    candidate: JSONObject = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if last:
        candidate["finishReason"] = "MAX_TOKENS" if turn.finish == "length" else "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(turn, output)
        if last
        else {"promptTokenCount": turn.input_tokens, "totalTokenCount": turn.input_tokens},
        "modelVersion": turn.request.model,
        "responseId": turn.id("")[:22],
    }


def _generate(stream: bool) -> Handler:
    async def handle(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
        if not await _authorized(server, http, out):
            return
        body = http.json()
        model = http.params["model"]
        messages = _messages(body)
        config = _get(body, "generationConfig", "generation_config")
        limit = (
            optional_int(_get(config, "maxOutputTokens", "max_output_tokens"))
            if isinstance(config, Mapping)
            else None
        )
        request = LLMRequest(
            "gemini",
            "generateContent",
            model,
            prompt_of(messages),
            stream,
            body,
            messages,
            _tools(body),
            limit,
        )
        turn = await server.begin(request, http, out)
        if turn is None:
            return
        if not stream:
            await turn.wait()
            parts: list[JSONObject] = [{"text": turn.text}] if turn.tokens else []
            parts += [_call_part(turn, i) for i in range(len(turn.calls))]
            await out.send_json(200, _response(turn, parts, True, turn.output_tokens))
            return
        pieces: list[list[JSONObject]] = [[{"text": t}] for t in turn.tokens]
        pieces += [[_call_part(turn, i)] for i in range(len(turn.calls))]
        sse = http.query_value("alt") == "sse"
        await out.start_stream(200, "text/event-stream" if sse else "application/json")
        sent = 0
        for n, parts in enumerate(pieces):
            call = n - len(turn.tokens)
            for _ in turn.calls[call].pieces if call >= 0 else ("",):
                await turn.token()
                sent += 1
            response = _response(turn, parts, n == len(pieces) - 1, sent)
            if sse:
                await out.send_sse(response, style=GOOGLE_SSE)
            else:
                await out.send_chunk((b"[" if n == 0 else b",\r\n") + out.dump(response))
        if not sse:
            await out.send_chunk(b"]")
        await out.end_stream()

    return handle


async def _count(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if await _authorized(server, http, out):
        body = http.json()
        messages = _messages(body) if "contents" in body else ()
        await out.send_json(200, {"totalTokens": len(tokenize(prompt_of(messages)))})


def _texts(content: object) -> str:
    if not isinstance(content, Mapping):
        raise ValueError("* EmbedContentRequest.content: content is not specified")
    return text_of(content.get("parts"))


def _embed(batch: bool) -> Handler:
    async def handle(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
        if not await _authorized(server, http, out):
            return
        body = http.json()
        items = required_list(body, "requests") if batch else [body]
        asks = [i for i in items if isinstance(i, Mapping)]
        texts = [_texts(i.get("content")) for i in asks]
        request = LLMRequest(
            "gemini", "embedContent", http.params["model"], "\n".join(texts), False, body
        )
        turn = await server.begin(request, http, out, scripted=False)
        if turn is None:
            return
        await turn.wait()
        vectors = [
            {
                "values": hash_embedding(
                    text,
                    optional_int(_get(ask, "outputDimensionality", "output_dimensionality"))
                    or server.embedding_dims,
                )
            }
            for text, ask in zip(texts, asks, strict=True)
        ]
        await out.send_json(200, {"embeddings": vectors} if batch else {"embedding": vectors[0]})

    return handle


def _card(name: str) -> JSONObject:
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name,
        "description": "plait mock model",
        "inputTokenLimit": 32768,
        "outputTokenLimit": 8192,
        "supportedGenerationMethods": [
            "generateContent",
            "streamGenerateContent",
            "countTokens",
            "embedContent",
        ],
    }


async def _models(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if await _authorized(server, http, out):
        await out.send_json(200, {"models": [_card(m) for m in server.models]})


async def _model(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if not await _authorized(server, http, out):
        return
    name = http.params["model"]
    if name not in server.models:
        await out.send_json(404, out.errors(404, f"models/{name} is not found"))
        return
    await out.send_json(200, _card(name))


def register_gemini(router: Router) -> None:
    """Gemini's generate (whole and streamed), count, embed and model endpoints."""
    for version in ("/v1beta", "/v1"):
        base = f"{version}/models/{{model}}"
        router.add("POST", f"{base}:generateContent", _generate(False), errors=gemini_error)
        router.add("POST", f"{base}:streamGenerateContent", _generate(True), errors=gemini_error)
        router.add("POST", f"{base}:countTokens", _count, errors=gemini_error)
        router.add("POST", f"{base}:embedContent", _embed(False), errors=gemini_error)
        router.add("POST", f"{base}:batchEmbedContents", _embed(True), errors=gemini_error)
    router.add("GET", "/v1beta/models", _models, errors=gemini_error)
    router.add("GET", "/v1beta/models/{model}", _model, errors=gemini_error)
