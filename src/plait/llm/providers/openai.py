"""OpenAI chat completions through the official ``openai`` SDK (the ``openai`` extra):
OpenAI itself, every OpenAI-compatible server (vLLM, LM Studio, llama.cpp server, Ollama's
``/v1``, TGI's ``/v1``) at ``ProviderConfig.openai_base_url``, and Azure OpenAI.

The SDK's own retries are off (``max_retries=0``): plait's retry policies and fallback
chains decide, honouring ``Retry-After``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from pydantic import SecretStr

from plait.errors import OutputInvalid, UsageError
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
from plait.llm.providers.mapping import arguments_object, image_url, tool_json
from plait.llm.providers.transport import PerLoop, sdk_http_client
from plait.llm.registry import ProviderConfig

if TYPE_CHECKING:
    import openai

__all__ = ["AzureOpenAIModel", "OpenAIModel", "chat_messages", "chat_params"]

OPENAI_URL: Final = "https://api.openai.com/v1"
_FINISH: Final[dict[str, FinishReason]] = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls",
    "function_call": "tool_calls", "content_filter": "content_filter"}

JSONObject = dict[str, Any]


def _sdk(model: str) -> Any:
    try:
        import openai
    except ImportError as err:
        raise missing_extra(model, "openai", "openai") from err
    return openai


class OpenAIModel(ProviderModel):
    """A chat model on OpenAI or an OpenAI-compatible server.

    Needs ``openai_api_key`` for OpenAI; a compatible server (``openai_base_url``) may
    need no key. ``provider`` names it in errors and in ``name`` (``"openai:MODEL"``).
    """

    provider = "openai"
    finish_reasons = _FINISH

    def __init__(self, model: str, config: ProviderConfig) -> None:
        super().__init__(model, base_url=None)
        self._config = config
        self._secret, self._base_url = self._credentials(config)
        self.base_url = self._base_url
        self._openai = _sdk(self._name)
        self._clients: PerLoop[openai.AsyncOpenAI] = PerLoop(self._client)

    def _credentials(self, config: ProviderConfig) -> tuple[SecretStr | None, str]:
        if config.openai_api_key is None and config.openai_base_url is None:
            raise UsageError(f"{self._name} needs OPENAI_API_KEY (or OPENAI_BASE_URL for an "
                             "OpenAI-compatible server)")
        return config.openai_api_key, config.openai_base_url or OPENAI_URL

    def _client(self) -> openai.AsyncOpenAI:
        key = self._secret.get_secret_value() if self._secret is not None else "unused"
        client: openai.AsyncOpenAI = self._openai.AsyncOpenAI(
            api_key=key, base_url=self._base_url, timeout=self._config.timeout, max_retries=0,
            http_client=sdk_http_client(self._openai))
        return client

    async def complete(self, request: ModelRequest) -> ModelResponse:
        with sdk_errors(self.provider, self._openai, (self._secret,)):
            completion = await self._clients.get().chat.completions.create(
                **self._params(request))
        if isinstance(completion, str):  # the SDK's answer to a reply that is not JSON
            raise not_json(self.provider, "a text page")
        if not completion.choices:
            raise OutputInvalid("the reply has no choices", provider=self.provider)
        choice = completion.choices[0]
        parts: list[TextPart | ToolCallPart] = []
        if choice.message.content:
            parts.append(TextPart(text=choice.message.content))
        for call in choice.message.tool_calls or ():
            function = getattr(call, "function", None)
            if function is None:
                continue  # a custom (non-function) tool call: plait declares none
            parts.append(ToolCallPart(id=call.id, name=function.name, arguments=arguments_object(
                function.arguments, tool=function.name, provider=self.provider)))
        return self._response(parts, _usage(completion.usage), choice.finish_reason)

    async def aclose(self) -> None:
        client = self._clients.pop()
        if client is not None:
            await client.close()

    async def _deltas(self, request: ModelRequest, end: StreamEnd) -> Deltas:
        with sdk_errors(self.provider, self._openai, (self._secret,)):
            chunks = await self._clients.get().chat.completions.create(
                **self._params(request), stream=True, stream_options={"include_usage": True})
            async with chunks:  # closes the response when the consumer stops early
                async for chunk in chunks:
                    for delta in _chunk_deltas(chunk, end):
                        yield delta

    def _params(self, request: ModelRequest) -> JSONObject:
        return chat_params(request, self.model, max_tokens_key=(
            "max_completion_tokens" if self._base_url == OPENAI_URL else "max_tokens"))


class AzureOpenAIModel(OpenAIModel):
    """A deployment on Azure OpenAI: ``azure:DEPLOYMENT`` with ``azure_endpoint``,
    ``azure_api_key`` and ``azure_api_version``."""

    provider = "azure"

    def _credentials(self, config: ProviderConfig) -> tuple[SecretStr | None, str]:
        if config.azure_api_key is None or config.azure_endpoint is None:
            raise UsageError(f"{self._name} needs AZURE_OPENAI_API_KEY and "
                             "AZURE_OPENAI_ENDPOINT")
        return config.azure_api_key, config.azure_endpoint

    def _client(self) -> openai.AsyncOpenAI:
        assert self._secret is not None
        client: openai.AsyncOpenAI = self._openai.AsyncAzureOpenAI(
            azure_endpoint=self._base_url, azure_deployment=self.model,
            api_version=self._config.azure_api_version,
            api_key=self._secret.get_secret_value(), timeout=self._config.timeout, max_retries=0,
            http_client=sdk_http_client(self._openai))
        return client


def _chunk_deltas(chunk: Any, end: StreamEnd) -> list[TextDelta | ToolCallDelta]:
    """A stream chunk's deltas (of the first choice); its usage and finish reason go to
    ``end``."""
    if chunk.usage is not None:
        end.usage = _usage(chunk.usage)
    deltas: list[TextDelta | ToolCallDelta] = []
    for choice in chunk.choices[:1]:
        if choice.delta.content:
            deltas.append(TextDelta(text=choice.delta.content))
        for call in choice.delta.tool_calls or ():
            function = call.function
            deltas.append(ToolCallDelta(
                index=call.index, id=call.id, name=function.name if function else None,
                arguments=(function.arguments or "") if function else ""))
        if choice.finish_reason is not None:
            end.done, end.reason = True, choice.finish_reason
    return deltas


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens)


def chat_params(request: ModelRequest, model: str, *,
                max_tokens_key: str = "max_tokens") -> JSONObject:
    """The body of a chat-completions request (without ``stream``)."""
    params: JSONObject = {"model": model, "messages": chat_messages(request.messages)}
    if request.tools:
        params["tools"] = [{"type": "function", "function": tool_json(t)}
                           for t in request.tools]
        params["tool_choice"] = request.tool_choice
    if request.response_schema is not None:
        title = request.response_schema.get("title")
        name = "".join(c if c.isalnum() or c in "_-" else "_" for c in str(title or "response"))
        params["response_format"] = {"type": "json_schema", "json_schema": {
            "name": name[:64], "schema": request.response_schema}}
    for key, value in (("temperature", request.temperature), ("seed", request.seed),
                       (max_tokens_key, request.max_tokens), ("stop", list(request.stop))):
        if value is not None and value != []:
            params[key] = value
    return params


def chat_messages(messages: tuple[Message, ...]) -> list[JSONObject]:
    """plait messages as chat-completions messages (each tool result is a message)."""
    out: list[JSONObject] = []
    for message in messages:
        if message.role == "tool":
            out += [{"role": "tool", "tool_call_id": r.call_id, "content": r.content}
                    for r in message.parts if isinstance(r, ToolResultPart)]
        elif message.role == "assistant":
            entry: JSONObject = {"role": "assistant", "content": message.text or None}
            if message.tool_calls:
                entry["tool_calls"] = [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                    for c in message.tool_calls]
            out.append(entry)
        elif any(isinstance(p, ImagePart) for p in message.parts):
            out.append({"role": message.role, "content": [
                {"type": "text", "text": p.text} if isinstance(p, TextPart)
                else {"type": "image_url", "image_url": {"url": image_url(p)}}
                for p in message.parts if isinstance(p, TextPart | ImagePart)]})
        else:
            out.append({"role": message.role, "content": message.text})
    return out
