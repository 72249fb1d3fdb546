"""OpenAI's API for :class:`~plait.testing.MockLLMServer` (also vLLM's, LM Studio's, TGI's, ...).

- ``POST /v1/chat/completions``: a ``chat.completion`` object, or with ``"stream": true`` a
  ``text/event-stream`` of ``chat.completion.chunk`` events (``data: {...}`` + blank line): a
  first delta with the role, content deltas, tool-call deltas (the first of each call carries
  ``index``, ``id``, ``type`` and the name, the next ones pieces of ``arguments``), a last
  delta ``{}`` with ``finish_reason`` (``stop``, ``length``, ``tool_calls``), then, when
  ``stream_options.include_usage``, a chunk with ``choices: []`` and the usage (every chunk
  before it has ``usage: null``), and ``data: [DONE]``.
- ``POST /v1/completions``: the legacy text completions, whole or streamed.
- ``POST /v1/embeddings``: deterministic vectors (:func:`~plait.testing.hash_embedding`),
  ``dimensions`` honoured, ``encoding_format: "base64"`` as float32 (the SDK's default).
- ``GET /v1/models`` and ``GET /v1/models/{model}``.

With ``api_key`` set on the server, calls need ``Authorization: Bearer <key>`` (or Azure's
``api-key`` header). Errors are ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from plait.testing.mock_fields import (
    arguments_of,
    optional_int,
    prompt_of,
    required_list,
    required_str,
    text_of,
)
from plait.testing.mock_http import HTTPRequest, HTTPResponder, JSONObject, Router
from plait.testing.mock_script import LLMRequest, Message, ToolCall
from plait.testing.mock_vectors import encode_base64, hash_embedding

if TYPE_CHECKING:
    from plait.testing.mock_llm import MockLLMServer
    from plait.testing.mock_turn import Turn

__all__ = ["openai_error", "register_openai"]

SSE: Final = "text/event-stream; charset=utf-8"
FINGERPRINT: Final = "fp_plaitmock"
_TYPES: Final = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def openai_error(status: int, message: str) -> JSONObject:
    kind, code = _TYPES.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


async def authorized(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> bool:
    """Check ``Authorization: Bearer`` when the server has a key; answer 401 if wrong."""
    if server.api_key is None:
        return True
    given = http.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if server.api_key in (given, http.headers.get("api-key")):
        return True
    message = "Incorrect API key provided." if given else "You didn't provide an API key."
    await out.send_json(401, out.errors(401, message))
    return False


def _messages(body: Mapping[str, object]) -> tuple[Message, ...]:
    if "messages" not in body:
        raise ValueError("Missing required parameter: 'messages'.")
    found = []
    for raw in required_list(body, "messages"):
        if not isinstance(raw, Mapping):
            raise ValueError("each message must be an object")
        role = str(raw.get("role", ""))
        role = {"developer": "system", "function": "tool"}.get(role, role)
        calls = tuple(
            ToolCall(str(fn.get("name", "")), arguments_of(fn.get("arguments")), call.get("id"))
            for call in raw.get("tool_calls") or ()
            if isinstance(call, Mapping) and isinstance(fn := call.get("function"), Mapping)
        )
        name = raw.get("name")
        found.append(
            Message(
                role,
                text_of(raw.get("content")),
                calls,
                raw.get("tool_call_id") if isinstance(raw.get("tool_call_id"), str) else None,
                name if isinstance(name, str) else None,
            )
        )
    return tuple(found)


def _tools(body: Mapping[str, object]) -> tuple[str, ...]:
    names = []
    tools, functions = body.get("tools"), body.get("functions")
    for tool in [
        *(tools if isinstance(tools, list) else ()),
        *(functions if isinstance(functions, list) else ()),
    ]:
        if isinstance(tool, Mapping):
            fn = tool.get("function", tool)
            if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
                names.append(fn["name"])
    return tuple(names)


def usage(turn: Turn) -> JSONObject:
    return {
        "prompt_tokens": turn.input_tokens,
        "completion_tokens": turn.output_tokens,
        "total_tokens": turn.input_tokens + turn.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _model(body: Mapping[str, object]) -> str:
    if "model" not in body:
        raise ValueError("you must provide a model parameter")
    return required_str(body, "model")


async def _chat(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if not await authorized(server, http, out):
        return
    body = http.json()
    model = _model(body)
    messages = _messages(body)
    stream = body.get("stream") is True
    limit = optional_int(body.get("max_completion_tokens")) or optional_int(body.get("max_tokens"))
    request = LLMRequest(
        "openai", "chat", model, prompt_of(messages), stream, body, messages, _tools(body), limit
    )
    turn = await server.begin(request, http, out)
    if turn is None:
        return
    cid, created = turn.id("chatcmpl-"), int(time.time())
    if not stream:
        await turn.wait()
        message: JSONObject = {
            "role": "assistant",
            "content": turn.text if turn.tokens else None,
            "refusal": None,
        }
        if turn.calls:
            message["tool_calls"] = [
                {
                    "id": c.id(),
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_json},
                }
                for c in turn.calls
            ]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": turn.finish}
        payload = {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [choice],
            "usage": usage(turn),
            "system_fingerprint": FINGERPRINT,
        }
        await out.send_json(200, payload)
        return
    options = body.get("stream_options")
    with_usage = isinstance(options, Mapping) and options.get("include_usage") is True

    async def chunk(delta: JSONObject | None, finish: str | None = None) -> None:
        payload: JSONObject = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if with_usage:
            payload["usage"] = usage(turn) if delta is None else None
        await out.send_sse(payload)

    await out.start_stream(200, SSE)
    first = True
    for token in turn.tokens:
        await turn.token()
        if first:
            await chunk({"role": "assistant", "content": "", "refusal": None})
            first = False
        await chunk({"content": token})
    for i, call in enumerate(turn.calls):
        for j, piece in enumerate(call.pieces):
            await turn.token()
            if first:
                await chunk({"role": "assistant", "content": None, "refusal": None})
                first = False
            if j == 0:
                head = {"name": call.name, "arguments": ""}
                await chunk(
                    {
                        "tool_calls": [
                            {"index": i, "id": call.id(), "type": "function", "function": head}
                        ]
                    }
                )
            await chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    await chunk({}, turn.finish)
    if with_usage:
        await chunk(None)
    await out.send_sse("[DONE]")
    await out.end_stream()


async def _completions(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if not await authorized(server, http, out):
        return
    body = http.json()
    model = _model(body)
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        prompt = "".join(p for p in prompt if isinstance(p, str))
    text = prompt if isinstance(prompt, str) else ""
    stream = body.get("stream") is True
    request = LLMRequest(
        "openai",
        "completions",
        model,
        text,
        stream,
        body,
        (Message("user", text),),
        max_tokens=optional_int(body.get("max_tokens")),
    )
    turn = await server.begin(request, http, out)
    if turn is None:
        return
    cid, created = turn.id("cmpl-"), int(time.time())
    finish = "length" if turn.finish == "length" else "stop"
    answer = turn.text or "".join(c.arguments_json for c in turn.calls)

    def payload(piece: str, done: str | None) -> JSONObject:
        choice = {"text": piece, "index": 0, "logprobs": None, "finish_reason": done}
        return {
            "id": cid,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [choice],
            "system_fingerprint": FINGERPRINT,
        }

    if not stream:
        await turn.wait()
        whole = payload(answer, finish)
        whole["usage"] = {k: v for k, v in usage(turn).items() if not k.endswith("_details")}
        await out.send_json(200, whole)
        return
    await out.start_stream(200, SSE)
    for token in turn.tokens or [answer]:
        await turn.token()
        await out.send_sse(payload(token, None))
    await out.send_sse(payload("", finish))
    await out.send_sse("[DONE]")
    await out.end_stream()


async def _embeddings(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if not await authorized(server, http, out):
        return
    body = http.json()
    model = _model(body)
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw):
        texts = [" ".join(map(str, raw))]
    elif isinstance(raw, list) and raw:
        texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in raw]
    else:
        raise ValueError("'input' must be a non-empty string or array")
    dims = optional_int(body.get("dimensions")) or server.embedding_dims
    request = LLMRequest("openai", "embeddings", model, "\n".join(texts), False, body)
    turn = await server.begin(request, http, out, scripted=False)
    if turn is None:
        return
    await turn.wait()
    base64 = body.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(texts):
        vector = hash_embedding(text, dims)
        data.append(
            {
                "object": "embedding",
                "index": i,
                "embedding": encode_base64(vector) if base64 else vector,
            }
        )
    tokens = turn.input_tokens
    await out.send_json(
        200,
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
    )


def _card(name: str) -> JSONObject:
    return {"id": name, "object": "model", "created": 1704067200, "owned_by": "plait-mock"}


async def _models(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if await authorized(server, http, out):
        await out.send_json(200, {"object": "list", "data": [_card(m) for m in server.models]})


async def _model_card(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if not await authorized(server, http, out):
        return
    name = http.params["model"]
    if name not in server.models:
        message = f"The model '{name}' does not exist or you do not have access to it."
        await out.send_json(404, out.errors(404, message))
        return
    await out.send_json(200, _card(name))


def _not_anthropic(http: HTTPRequest) -> bool:
    return "anthropic-version" not in http.headers


def register_openai(router: Router) -> None:
    """OpenAI's chat completions, completions, embeddings and models."""
    router.add("POST", "/v1/chat/completions", _chat, errors=openai_error)
    router.add("POST", "/v1/completions", _completions, errors=openai_error)
    router.add("POST", "/v1/embeddings", _embeddings, errors=openai_error)
    router.add("GET", "/v1/models", _models, errors=openai_error, when=_not_anthropic)
    router.add("GET", "/v1/models/{model}", _model_card, errors=openai_error, when=_not_anthropic)
