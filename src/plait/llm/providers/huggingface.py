"""Hugging Face: Text Generation Inference (TGI) and Inference Endpoints.

Two APIs, chosen by ``ProviderConfig.hf_base_url`` (``HF_BASE_URL``):

- a URL ending in ``/v1`` (or none: the serverless router ``https://router.huggingface.co/v1``)
  is OpenAI-compatible chat: the server applies the model's chat template, tools and
  ``response_format`` work. This goes through :class:`~plait.llm.providers.openai.OpenAIModel`
  (the ``openai`` extra);
- any other URL is TGI's own ``/generate`` and ``/generate_stream`` (SSE), over plain
  ``httpx``: the conversation is rendered with a ChatML template, structured output is TGI's
  JSON ``grammar``, and there is no native tool calling.

``hf_token`` (``HF_TOKEN``) is sent as a bearer token when set.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Final

from pydantic import SecretStr

from plait.errors import UsageError
from plait.llm.messages import ImagePart, Message, TextPart
from plait.llm.model import (
    FinishReason,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextDelta,
    Usage,
)
from plait.llm.providers.base import Deltas, ProviderModel, StreamEnd
from plait.llm.providers.failures import invalid_json
from plait.llm.providers.mapping import image_url
from plait.llm.providers.openai import OpenAIModel
from plait.llm.providers.transport import JSONTransport, sse_data
from plait.llm.registry import ProviderConfig

__all__ = ["HuggingFaceChatModel", "HuggingFaceModel", "chatml"]

PROVIDER: Final = "huggingface"
ROUTER_URL: Final = "https://router.huggingface.co/v1"
_FINISH: Final[dict[str, FinishReason]] = {
    "eos_token": "stop", "stop_sequence": "stop", "length": "length"}

JSONObject = dict[str, object]


class HuggingFaceChatModel(OpenAIModel):
    """The OpenAI-compatible chat API of TGI, Inference Endpoints or the HF router."""

    provider = PROVIDER

    def _credentials(self, config: ProviderConfig) -> tuple[SecretStr | None, str]:
        return config.hf_token, config.hf_base_url or ROUTER_URL


class HuggingFaceModel(ProviderModel):
    """``huggingface:MODEL`` on TGI / Inference Endpoints (see the module docs for the API)."""

    provider = PROVIDER
    finish_reasons = _FINISH

    def __init__(self, model: str, config: ProviderConfig) -> None:
        base_url = (config.hf_base_url or ROUTER_URL).rstrip("/")
        super().__init__(model, base_url=base_url)
        if config.hf_base_url is None and config.hf_token is None:
            raise UsageError(f"{self._name} needs HF_TOKEN (or HF_BASE_URL for your own "
                             "TGI server)")
        self._chat = HuggingFaceChatModel(model, config) if base_url.endswith("/v1") else None
        token = config.hf_token
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        self._http = JSONTransport(PROVIDER, base_url, timeout=config.timeout, headers=headers,
                                   secrets=(token,))

    def __repr__(self) -> str:
        api = "chat" if self._chat is not None else "generate"
        return f"HuggingFaceModel({self._name!r}, base_url={self.base_url!r}, api={api!r})"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if self._chat is not None:
            return await self._chat.complete(request)
        data, headers = await self._http.post("/generate", self._body(request))
        if isinstance(data, list) and data:  # the serverless API answers with a list
            data = data[0]
        if not isinstance(data, dict) or not isinstance(data.get("generated_text"), str):
            raise invalid_json(PROVIDER, "the reply", ValueError("no 'generated_text'"))
        details = data.get("details") if isinstance(data.get("details"), dict) else {}
        assert isinstance(details, dict)
        text: str = data["generated_text"]
        return self._response([TextPart(text=text)] if text else [],
                              _usage(details, headers.get("x-prompt-tokens")),
                              _str(details.get("finish_reason")))

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        if self._chat is not None:
            return self._chat.stream(request)
        return super().stream(request)

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._chat is not None:
            await self._chat.aclose()

    async def _deltas(self, request: ModelRequest, end: StreamEnd) -> Deltas:
        headers: dict[str, str] = {}
        lines = self._http.lines("/generate_stream", self._body(request),
                                 headers_seen=headers.update)
        async with contextlib.aclosing(lines):
            async for data in sse_data(lines):
                try:
                    event = json.loads(data)
                except ValueError as err:
                    raise invalid_json(PROVIDER, "a stream event", err) from None
                if not isinstance(event, dict):
                    raise invalid_json(PROVIDER, "a stream event", ValueError("not an object"))
                token = event.get("token")
                if isinstance(token, dict) and token.get("text") and not token.get("special"):
                    yield TextDelta(text=str(token["text"]))
                if event.get("generated_text") is not None:
                    details = event.get("details") if isinstance(event.get("details"), dict) else {}
                    assert isinstance(details, dict)
                    end.done, end.usage = True, _usage(details, headers.get("x-prompt-tokens"))
                    end.reason = _str(details.get("finish_reason"))

    def _body(self, request: ModelRequest) -> JSONObject:
        if request.tools and request.tool_choice != "none":
            raise UsageError(f"{self._name}: TGI's /generate has no tool calling; point "
                             "HF_BASE_URL at the server's OpenAI-compatible /v1 instead")
        parameters: JSONObject = {"details": True, "return_full_text": False}
        if request.temperature:  # TGI wants it > 0; 0 means greedy, its default
            parameters.update(temperature=request.temperature, do_sample=True)
        for key, value in (("max_new_tokens", request.max_tokens), ("seed", request.seed),
                           ("stop", list(request.stop) or None)):
            if value is not None:
                parameters[key] = value
        if request.response_schema is not None:
            parameters["grammar"] = {"type": "json", "value": request.response_schema}
        return {"inputs": chatml(request.messages), "parameters": parameters}


def chatml(messages: tuple[Message, ...]) -> str:
    """The conversation in the ChatML template, ending with an open assistant turn. Tool
    calls are shown as JSON and images as Markdown (how TGI's vision models take them)."""
    turns = []
    for message in messages:
        text = "".join(
            p.text if isinstance(p, TextPart)
            else f"![]({image_url(p)})" if isinstance(p, ImagePart)
            else json.dumps(p.model_dump(exclude={"type"}))
            for p in message.parts)
        turns.append(f"<|im_start|>{message.role}\n{text}<|im_end|>\n")
    return "".join(turns) + "<|im_start|>assistant\n"


def _usage(details: JSONObject, prompt_tokens: str | None) -> Usage:
    """Output tokens from ``details``; input tokens from TGI's ``x-prompt-tokens`` header."""
    generated = details.get("generated_tokens")
    prefill = details.get("prefill")
    prompt = (int(prompt_tokens) if prompt_tokens and prompt_tokens.isdigit()
              else len(prefill) if isinstance(prefill, list) else 0)
    return Usage(input_tokens=prompt,
                 output_tokens=generated if isinstance(generated, int) else 0)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
