"""Hugging Face Text Generation Inference's own API for :class:`~plait.testing.MockLLMServer`.

TGI also serves the OpenAI-compatible ``/v1/chat/completions`` (see ``mock_openai``); these are
its native routes:

- ``POST /generate``: ``{"generated_text": ...}``, plus ``details`` (``finish_reason``
  ``eos_token`` / ``length``, ``generated_tokens``, ``seed``, ``prefill``, ``tokens``) when
  ``parameters.details`` is true.
- ``POST /generate_stream``: server-sent events framed the way TGI frames them
  (``data:{...}``, no space), one per token: ``{"index", "token": {"id", "text", "logprob",
  "special"}, "generated_text": null, "details": null, "top_tokens": null}``; the last one
  carries ``generated_text`` and ``details``.
- ``POST /``: either of the two, by the body's ``stream`` (a list when not streamed).
- ``GET /info`` and ``GET /health``.
- ``POST /embed``: Text Embeddings Inference (TEI), TGI's sibling for embedding models:
  ``{"inputs": str | [str], "dimensions"?: int}`` -> one deterministic vector per input
  (:func:`~plait.testing.hash_embedding`), always a list of lists. More than
  :data:`TEI_MAX_CLIENT_BATCH` inputs get 413, as TEI's default ``--max-client-batch-size``
  does; with ``api_key`` set, a call needs ``Authorization: Bearer KEY``. TEI's errors are
  ``{"error": ..., "error_type": "Validation" | "Overloaded" | "Unhealthy" | ...}``.

Tool-call replies have no place in this API: they are sent as their JSON text. Errors are
``{"error": "...", "error_type": "validation" | "overloaded" | "generation"}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from plait.testing.mock_fields import optional_int
from plait.testing.mock_http import (
    Handler,
    HTTPRequest,
    HTTPResponder,
    JSONObject,
    Router,
    SSEStyle,
)
from plait.testing.mock_script import LLMRequest, Message, tokenize
from plait.testing.mock_vectors import hash_embedding

if TYPE_CHECKING:
    from plait.testing.mock_llm import MockLLMServer
    from plait.testing.mock_turn import Turn

__all__ = ["TEI_MAX_CLIENT_BATCH", "register_tgi", "tei_error", "tgi_error"]

TGI_SSE: Final = SSEStyle(space=False)
TEI_MAX_CLIENT_BATCH: Final = 32
_TEI_KINDS: Final = {400: "Empty", 413: "Validation", 422: "Tokenizer", 429: "Overloaded",
                     503: "Unhealthy"}


def tgi_error(status: int, message: str) -> JSONObject:
    kind = "overloaded" if status in (429, 503) else "generation" if status >= 500 else "validation"
    return {"error": message, "error_type": kind}


def tei_error(status: int, message: str) -> JSONObject:
    kind = _TEI_KINDS.get(status, "Backend" if status >= 500 else "Validation")
    return {"error": message, "error_type": kind}


async def _embed(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    given = http.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if server.api_key is not None and given != server.api_key:
        await out.send_json(401, tei_error(401, "Unauthorized"))
        return
    body = http.json()
    raw = body.get("inputs")
    texts = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("`inputs` must be a non-empty string or list of strings")
    if len(texts) > TEI_MAX_CLIENT_BATCH:
        message = f"batch size {len(texts)} > maximum allowed batch size {TEI_MAX_CLIENT_BATCH}"
        await out.send_json(413, tei_error(413, message))
        return
    model = server.models[0] if server.models else "mock"
    request = LLMRequest("tei", "embed", model, "\n".join(texts), False, body)
    turn = await server.begin(request, http, out, scripted=False)
    if turn is None:
        return
    await turn.wait()
    dims = optional_int(body.get("dimensions")) or server.embedding_dims
    await out.send_json(200, [hash_embedding(text, dims) for text in texts])


def _token(text: str) -> JSONObject:
    digest = hashlib.blake2b(text.encode(), digest_size=4).digest()
    return {
        "id": int.from_bytes(digest, "big") % 32000,
        "text": text,
        "logprob": -0.25,
        "special": False,
    }


def _text(turn: Turn) -> list[str]:
    if turn.reply.tool_calls and not turn.reply.text:
        calls = [{"name": c.name, "arguments": dict(c.arguments)} for c in turn.calls]
        return tokenize(json.dumps(calls))
    return turn.tokens


def _details(turn: Turn, tokens: list[str], *, whole: bool) -> JSONObject:
    details: JSONObject = {
        "finish_reason": "length" if turn.finish == "length" else "eos_token",
        "generated_tokens": len(tokens),
        "seed": None,
    }
    if whole:
        details["prefill"] = []
        details["tokens"] = [_token(t) for t in tokens]
    else:
        details["input_length"] = turn.input_tokens
    return details


def _call(mode: str) -> Handler:
    """``mode``: ``generate``, ``stream``, or ``compat`` (``POST /``, chosen by the body)."""

    async def handle(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
        body = http.json()
        inputs = body.get("inputs")
        if not isinstance(inputs, str):
            raise ValueError("Input validation error: `inputs` must be a string")
        params = body.get("parameters")
        params = params if isinstance(params, Mapping) else {}
        stream = mode == "stream" or (mode == "compat" and body.get("stream") is True)
        model = server.models[0] if server.models else "mock"
        request = LLMRequest(
            "tgi",
            "generate",
            model,
            inputs,
            stream,
            body,
            (Message("user", inputs),),
            max_tokens=optional_int(params.get("max_new_tokens")),
        )
        turn = await server.begin(request, http, out)
        if turn is None:
            return
        tokens = _text(turn)
        if not stream:
            await turn.wait()
            answer: JSONObject = {"generated_text": "".join(tokens)}
            if params.get("details") is True:
                answer["details"] = _details(turn, tokens, whole=True)
            await out.send_json(200, [answer] if mode == "compat" else answer)
            return
        await out.start_stream(200, "text/event-stream")
        for i, token in enumerate(tokens):
            await turn.token()
            last = i == len(tokens) - 1
            await out.send_sse(
                {
                    "index": i + 1,
                    "token": _token(token),
                    "generated_text": "".join(tokens) if last else None,
                    "details": _details(turn, tokens, whole=False) if last else None,
                    "top_tokens": None,
                },
                style=TGI_SSE,
            )
        await out.end_stream()

    return handle


async def _info(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    await out.send_json(
        200,
        {
            "model_id": server.models[0] if server.models else "mock",
            "model_sha": None,
            "model_pipeline_tag": "text-generation",
            "max_concurrent_requests": 128,
            "max_input_tokens": 4095,
            "max_total_tokens": 4096,
            "router": "text-generation-router",
            "version": "0.0.0-plait-mock",
        },
    )


async def _health(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
    await out.send_body(200, b"", "text/plain")


def register_tgi(router: Router) -> None:
    """TGI's ``/generate``, ``/generate_stream``, ``/``, ``/info`` and ``/health``, and
    TEI's ``/embed``."""
    router.add("POST", "/generate", _call("generate"), errors=tgi_error)
    router.add("POST", "/generate_stream", _call("stream"), errors=tgi_error)
    router.add("POST", "/", _call("compat"), errors=tgi_error)
    router.add("GET", "/info", _info, errors=tgi_error)
    router.add("GET", "/health", _health, errors=tgi_error)
    router.add("POST", "/embed", _embed, errors=tei_error)
