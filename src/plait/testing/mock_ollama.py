"""Ollama's native API for :class:`~plait.testing.MockLLMServer`.

``/api/chat`` and ``/api/generate`` answer from the server's script, as one JSON object when the
request says ``"stream": false`` and as an NDJSON stream otherwise (Ollama streams unless told
not to). ``/api/tags`` lists the server's models; ``/api/pull``, ``/api/show`` and
``/api/version`` answer the probes clients send before a call (GraphBit checks ``/api/tags``
before every call and pulls a model it does not see there).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from plait.testing.mock_http import Handler, HTTPRequest, HTTPResponder, JSONObject, Router
from plait.testing.mock_llm import LLMRequest, tokenize

if TYPE_CHECKING:
    from plait.testing.mock_llm import MockLLMServer

__all__ = ["register_ollama"]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _ollama_prompt(endpoint: str, body: Mapping[str, object]) -> str:
    if endpoint == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise ValueError("'messages' must be a list")
        return "\n".join(
            f"{m.get('role', '')}: {m.get('content', '')}" for m in messages if isinstance(m, dict)
        )
    prompt, system = body.get("prompt", ""), body.get("system")
    return f"system: {system}\n{prompt}" if system else str(prompt)


def _ollama_call(endpoint: str) -> Handler:
    async def handle(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
        body = http.json()
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ValueError("'model' is required")
        stream = body.get("stream", True) is not False  # Ollama streams unless told not to
        request = LLMRequest(
            "ollama", endpoint, model, _ollama_prompt(endpoint, body), stream, body
        )
        reply = server.reply_for(request)
        if reply.status != 200:
            await out.send_json(reply.status, {"error": reply.text})
            return
        ttft, per_token = server.delays(reply)
        tokens = tokenize(reply.text)
        started = time.perf_counter_ns()

        def piece(text: str, done: bool) -> JSONObject:
            base: JSONObject = {"model": model, "created_at": _now()}
            if endpoint == "chat":
                base["message"] = {"role": "assistant", "content": text}
            else:
                base["response"] = text
            base["done"] = done
            if done:
                elapsed = time.perf_counter_ns() - started
                base.update(
                    done_reason="stop",
                    total_duration=elapsed,
                    load_duration=0,
                    prompt_eval_count=len(tokenize(request.prompt)),
                    prompt_eval_duration=0,
                    eval_count=len(tokens),
                    eval_duration=elapsed,
                )
                if endpoint == "generate":
                    base["context"] = []
            return base

        if not stream:
            delay = ttft + per_token * (len(tokens) - 1)
            if delay > 0:
                await asyncio.sleep(delay)
            await out.send_json(200, piece(reply.text, True))
            return
        await out.start_stream()
        for i, token in enumerate(tokens):
            delay = ttft if i == 0 else per_token
            if delay > 0:
                await asyncio.sleep(delay)
            await out.send_ndjson(piece(token, False))
        await out.send_ndjson(piece("", True))
        await out.end_stream()

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
        },
    )


async def _ollama_version(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    await out.send_json(200, {"version": "0.0.0-plait-mock"})


def register_ollama(router: Router) -> None:
    """Ollama's native API: chat, generate, tags, and the pull/show/version probes."""
    router.add("POST", "/api/chat", _ollama_call("chat"))
    router.add("POST", "/api/generate", _ollama_call("generate"))
    router.add("GET", "/api/tags", _ollama_tags)
    router.add("POST", "/api/pull", _ollama_pull)
    router.add("POST", "/api/show", _ollama_show)
    router.add("GET", "/api/version", _ollama_version)
