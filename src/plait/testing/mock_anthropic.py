"""Anthropic's Messages API for :class:`~plait.testing.MockLLMServer`.

- ``POST /v1/messages``: a ``message`` object (``content`` blocks of ``text`` and
  ``tool_use``, ``stop_reason`` ``end_turn`` / ``max_tokens`` / ``tool_use``, ``usage``), or
  with ``"stream": true`` server-sent events, each ``event: <type>`` + ``data: {...}``:
  ``message_start``, then per block ``content_block_start``, ``content_block_delta``
  (``text_delta``, or ``input_json_delta`` pieces of a tool's input), ``content_block_stop``
  (a ``ping`` after the first block starts), then ``message_delta`` (stop reason and output
  tokens) and ``message_stop``.
- ``POST /v1/messages/count_tokens`` and ``GET /v1/models`` (when ``anthropic-version`` is
  sent; without it the path is OpenAI's).

Like the real API, a call needs a key, in ``x-api-key`` or as ``Authorization: Bearer`` (as
recent SDKs send it; 401 without, or when the server has a key and it differs), and
``anthropic-version`` (400 without), and ``model``, ``max_tokens`` and
``messages`` in the body. Errors are ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from plait.testing.mock_fields import (
    optional_int,
    prompt_of,
    required_list,
    required_str,
    text_of,
)
from plait.testing.mock_http import HTTPRequest, HTTPResponder, JSONObject, Router
from plait.testing.mock_script import LLMRequest, Message, ToolCall, tokenize

if TYPE_CHECKING:
    from plait.testing.mock_llm import MockLLMServer
    from plait.testing.mock_turn import Turn

__all__ = ["anthropic_error", "register_anthropic"]

_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
_STOP: Final = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def anthropic_error(status: int, message: str) -> JSONObject:
    kind = _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": "req_plaitmock",
    }


async def _checked(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> bool:
    bearer = http.headers.get("authorization", "")
    key = http.headers.get("x-api-key") or (
        bearer[7:].strip() if bearer[:7].lower() == "bearer " else ""
    )
    if not key:
        await out.send_json(401, out.errors(401, "x-api-key header is required"))
        return False
    if server.api_key is not None and key != server.api_key:
        await out.send_json(401, out.errors(401, "invalid x-api-key"))
        return False
    if not http.headers.get("anthropic-version"):
        await out.send_json(400, out.errors(400, "anthropic-version: header is required"))
        return False
    return True


def _messages(body: Mapping[str, object]) -> tuple[Message, ...]:
    found: list[Message] = []
    system = text_of(body.get("system"))
    if system:
        found.append(Message("system", system))
    for raw in required_list(body, "messages"):
        if not isinstance(raw, Mapping):
            raise ValueError("messages: each message must be an object")
        role, content = str(raw.get("role", "")), raw.get("content")
        if not isinstance(content, list):
            found.append(Message(role, text_of(content)))
            continue
        texts, calls = [], []
        for block in content:
            if not isinstance(block, Mapping):
                continue
            kind = block.get("type")
            if kind == "text":
                texts.append(text_of(block))
            elif kind == "tool_use":
                args = block.get("input")
                calls.append(
                    ToolCall(
                        str(block.get("name", "")),
                        dict(args) if isinstance(args, Mapping) else {},
                        str(block.get("id", "")) or None,
                    )
                )
            elif kind == "tool_result":
                ref = block.get("tool_use_id")
                found.append(
                    Message(
                        "tool",
                        text_of(block.get("content")),
                        tool_call_id=ref if isinstance(ref, str) else None,
                    )
                )
        if texts or calls or role != "user":
            found.append(Message(role, "".join(texts), tuple(calls)))
    return tuple(found)


def _tools(body: Mapping[str, object]) -> tuple[str, ...]:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return ()
    return tuple(
        t["name"] for t in tools if isinstance(t, Mapping) and isinstance(t.get("name"), str)
    )


def _request(http: HTTPRequest, endpoint: str) -> LLMRequest:
    body = http.json()
    model = required_str(body, "model")
    limit = optional_int(body.get("max_tokens"))
    if endpoint == "messages" and limit is None:
        raise ValueError("max_tokens: Field required")
    messages = _messages(body)
    return LLMRequest(
        "anthropic",
        endpoint,
        model,
        prompt_of(messages),
        body.get("stream") is True,
        body,
        messages,
        _tools(body),
        limit,
    )


def _usage(turn: Turn, output: int) -> JSONObject:
    return {
        "input_tokens": turn.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output,
    }


def _message(turn: Turn, content: list[JSONObject], stop: str | None, output: int) -> JSONObject:
    return {
        "id": turn.id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": turn.request.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": _usage(turn, output),
    }


async def _messages_call(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if not await _checked(server, http, out):
        return
    request = _request(http, "messages")
    turn = await server.begin(request, http, out)
    if turn is None:
        return
    headers = [("request-id", "req_plaitmock")]
    stop = _STOP[turn.finish]
    if not request.stream:
        await turn.wait()
        content: list[JSONObject] = [{"type": "text", "text": turn.text}] if turn.tokens else []
        content += [
            {"type": "tool_use", "id": c.id("toolu_"), "name": c.name, "input": dict(c.arguments)}
            for c in turn.calls
        ]
        await out.send_json(200, _message(turn, content, stop, turn.output_tokens), headers)
        return

    async def event(kind: str, **fields: object) -> None:
        await out.send_sse({"type": kind, **fields}, event=kind)

    await out.start_stream(200, "text/event-stream; charset=utf-8", headers)
    await turn.token()  # message_start waits for the first piece, like the real API
    paced = False  # so the first piece needs no wait of its own

    async def pace() -> None:
        nonlocal paced
        if paced:
            await turn.token()
        paced = True

    await event("message_start", message=_message(turn, [], None, 1))
    index = 0
    if turn.tokens:
        await event("content_block_start", index=0, content_block={"type": "text", "text": ""})
        await event("ping")
        for token in turn.tokens:
            await pace()
            await event("content_block_delta", index=0, delta={"type": "text_delta", "text": token})
        await event("content_block_stop", index=0)
        index = 1
    for call in turn.calls:
        block = {"type": "tool_use", "id": call.id("toolu_"), "name": call.name, "input": {}}
        await event("content_block_start", index=index, content_block=block)
        if index == 0:
            await event("ping")
        for piece in call.pieces:
            await pace()
            await event(
                "content_block_delta",
                index=index,
                delta={"type": "input_json_delta", "partial_json": piece},
            )
        await event("content_block_stop", index=index)
        index += 1
    await event(
        "message_delta",
        delta={"stop_reason": stop, "stop_sequence": None},
        usage={"output_tokens": turn.output_tokens},
    )
    await event("message_stop")
    await out.end_stream()


async def _count_tokens(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if await _checked(server, http, out):
        request = _request(http, "count_tokens")
        await out.send_json(200, {"input_tokens": len(tokenize(request.prompt))})


async def _models(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if not await _checked(server, http, out):
        return
    data = [
        {"type": "model", "id": m, "display_name": m, "created_at": "2024-01-01T00:00:00Z"}
        for m in server.models
    ]
    await out.send_json(
        200,
        {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        },
    )


def _is_anthropic(http: HTTPRequest) -> bool:
    return "anthropic-version" in http.headers


def register_anthropic(router: Router) -> None:
    """Anthropic's messages (whole and streamed), token counting and model listing."""
    router.add("POST", "/v1/messages", _messages_call, errors=anthropic_error)
    router.add("POST", "/v1/messages/count_tokens", _count_tokens, errors=anthropic_error)
    router.add("GET", "/v1/models", _models, errors=anthropic_error, when=_is_anthropic)
