"""Ollama's native API for :class:`~plait.testing.MockLLMServer`.

``/api/chat`` and ``/api/generate`` answer from the server's script, as one JSON object when the
request says ``"stream": false`` and as an NDJSON stream otherwise (Ollama streams unless told
not to). A chat reply's tool calls are ``message.tool_calls`` (``{"id", "function": {"index",
"name", "arguments": {...}}}``), sent whole in one chunk when streaming, and the conversation's
``tool`` messages are tool results. ``/api/embed`` (and the older ``/api/embeddings``) answer
deterministic vectors. ``/api/tags`` lists the server's models; ``/api/pull``, ``/api/show``
and ``/api/version`` answer the probes clients send before a call (GraphBit checks
``/api/tags`` before every call and pulls a model it does not see there).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from plait.testing.mock_fields import (
    arguments_of,
    now_iso,
    optional_int,
    prompt_of,
    required_list,
    required_str,
    text_of,
)
from plait.testing.mock_http import Handler, HTTPRequest, HTTPResponder, JSONObject, Router
from plait.testing.mock_script import LLMRequest, Message, ToolCall, tokenize
from plait.testing.mock_vectors import hash_embedding

if TYPE_CHECKING:
    from plait.testing.mock_llm import MockLLMServer
    from plait.testing.mock_turn import PlannedCall

__all__ = ["register_ollama"]


def _messages(body: Mapping[str, object]) -> tuple[Message, ...]:
    found = []
    for raw in required_list(body, "messages"):
        if not isinstance(raw, Mapping):
            continue
        calls = tuple(
            ToolCall(
                str(fn.get("name", "")),
                arguments_of(fn.get("arguments")),
                call.get("id") if isinstance(call.get("id"), str) else None,
            )
            for call in raw.get("tool_calls") or ()
            if isinstance(call, Mapping) and isinstance(fn := call.get("function"), Mapping)
        )
        name = raw.get("tool_name", raw.get("name"))
        ref = raw.get("tool_call_id")
        found.append(
            Message(
                str(raw.get("role", "")),
                text_of(raw.get("content")),
                calls,
                ref if isinstance(ref, str) else None,
                name if isinstance(name, str) else None,
            )
        )
    return tuple(found)


def _tools(body: Mapping[str, object]) -> tuple[str, ...]:
    tools = body.get("tools")
    names = []
    for tool in tools if isinstance(tools, list) else ():
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            names.append(fn["name"])
    return tuple(names)


def _request(endpoint: str, body: Mapping[str, object]) -> LLMRequest:
    model = required_str(body, "model")
    stream = body.get("stream", True) is not False  # Ollama streams unless told not to
    options = body.get("options")
    limit = optional_int(options.get("num_predict")) if isinstance(options, Mapping) else None
    if endpoint == "chat":
        messages = _messages(body)
        prompt = prompt_of(messages)
        tools = _tools(body)
    else:
        text, system = text_of(body.get("prompt")), text_of(body.get("system"))
        prompt = f"system: {system}\n{text}" if system else text
        messages = ((Message("system", system),) if system else ()) + (Message("user", text),)
        tools = ()
    return LLMRequest("ollama", endpoint, model, prompt, stream, body, messages, tools, limit)


def _tool_call(call: PlannedCall, index: int) -> JSONObject:
    function = {"index": index, "name": call.name, "arguments": dict(call.arguments)}
    return {"id": call.id(), "function": function}


def _ollama_call(endpoint: str) -> Handler:
    async def handle(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
        request = _request(endpoint, http.json())
        turn = await server.begin(request, http, out)
        if turn is None:
            return
        model = request.model
        started = time.perf_counter_ns()
        # /api/generate has no tool calls: they are sent as their JSON text
        as_text = endpoint == "generate" and bool(turn.calls)
        if as_text:
            tokens = tokenize(
                json.dumps([{"name": c.name, "arguments": c.arguments} for c in turn.calls])
            )
        else:
            tokens = turn.tokens

        def piece(text: str, done: bool, calls: list[JSONObject] | None = None) -> JSONObject:
            base: JSONObject = {"model": model, "created_at": now_iso()}
            if endpoint == "chat":
                message: JSONObject = {"role": "assistant", "content": text}
                if calls:
                    message["tool_calls"] = calls
                base["message"] = message
            else:
                base["response"] = text
            base["done"] = done
            if done:
                elapsed = time.perf_counter_ns() - started
                base.update(
                    done_reason="length" if turn.finish == "length" else "stop",
                    total_duration=elapsed,
                    load_duration=0,
                    prompt_eval_count=turn.input_tokens,
                    prompt_eval_duration=0,
                    eval_count=turn.output_tokens,
                    eval_duration=elapsed,
                )
                if endpoint == "generate":
                    base["context"] = []
            return base

        calls = [] if as_text else [_tool_call(c, i) for i, c in enumerate(turn.calls)]
        if not request.stream:
            await turn.wait()
            await out.send_json(200, piece("".join(tokens), True, calls))
            return
        await out.start_stream()
        for token in tokens:
            await turn.token()
            await out.send_ndjson(piece(token, False))
        if calls:
            for call in turn.calls:
                for _ in call.pieces:
                    await turn.token()
            await out.send_ndjson(piece("", False, calls))
        await out.send_ndjson(piece("", True))
        await out.end_stream()

    return handle


def _embed(legacy: bool) -> Handler:
    async def handle(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
        body = http.json()
        model = required_str(body, "model")
        raw = body.get("prompt") if legacy else body.get("input")
        texts = (
            [raw]
            if isinstance(raw, str)
            else [t for t in raw if isinstance(t, str)]
            if (isinstance(raw, list))
            else []
        )
        if not texts and not legacy:
            raise ValueError("'input' must be a string or a list of strings")
        request = LLMRequest("ollama", "embed", model, "\n".join(texts), False, body)
        turn = await server.begin(request, http, out, scripted=False)
        if turn is None:
            return
        await turn.wait()
        dims = optional_int(body.get("dimensions")) or server.embedding_dims
        vectors = [hash_embedding(t, dims) for t in texts]
        if legacy:
            await out.send_json(200, {"embedding": vectors[0] if vectors else []})
            return
        await out.send_json(
            200,
            {
                "model": model,
                "embeddings": vectors,
                "total_duration": 0,
                "load_duration": 0,
                "prompt_eval_count": turn.input_tokens,
            },
        )

    return handle


def _model_card(name: str) -> JSONObject:
    full = name if ":" in name else f"{name}:latest"
    return {
        "name": full,
        "model": full,
        "modified_at": "2024-01-01T00:00:00Z",
        "size": 0,
        "digest": hashlib.sha256(full.encode()).hexdigest(),
        "details": {
            "format": "gguf",
            "family": "mock",
            "parameter_size": "0",
            "quantization_level": "none",
        },
    }


async def _ollama_tags(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    await out.send_json(200, {"models": [_model_card(m) for m in server.models]})


async def _ollama_pull(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    if http.json().get("stream", True) is False:
        await out.send_json(200, {"status": "success"})
        return
    await out.start_stream()
    for status in ("pulling manifest", "success"):
        await out.send_ndjson({"status": status})
    await out.end_stream()


async def _ollama_show(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    body = http.json()
    name = str(body.get("model") or body.get("name") or "mock")
    await out.send_json(
        200,
        {
            "modelfile": "",
            "parameters": "",
            "template": "{{ .Prompt }}",
            "details": _model_card(name)["details"],
            "model_info": {},
            "capabilities": ["completion", "tools", "embedding"],
        },
    )


async def _ollama_version(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    await out.send_json(200, {"version": "0.0.0-plait-mock"})


def register_ollama(router: Router) -> None:
    """Ollama's native API: chat, generate, embed, tags, and the pull/show/version probes."""
    router.add("POST", "/api/chat", _ollama_call("chat"))
    router.add("POST", "/api/generate", _ollama_call("generate"))
    router.add("POST", "/api/embed", _embed(legacy=False))
    router.add("POST", "/api/embeddings", _embed(legacy=True))
    router.add("GET", "/api/tags", _ollama_tags)
    router.add("POST", "/api/pull", _ollama_pull)
    router.add("POST", "/api/show", _ollama_show)
    router.add("GET", "/api/version", _ollama_version)
