"""The shared failure mapping, missing keys and extras, and the registry building providers."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from pydantic import SecretStr

from plait.errors import (
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    UsageError,
)
from plait.llm import Message, Model, ModelRegistry, ModelRequest, ProviderConfig
from plait.llm.providers.anthropic import AnthropicModel
from plait.llm.providers.failures import (
    parse_retry_after,
    provider_message,
    redact,
    status_error,
)
from plait.llm.providers.gemini import GeminiModel
from plait.llm.providers.huggingface import HuggingFaceModel
from plait.llm.providers.ollama import OllamaModel
from plait.llm.providers.openai import AzureOpenAIModel, OpenAIModel

from .conftest import SECRET, Case

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"Retry-After": "3"}, 3.0),
    ({"retry-after": "2.5"}, 2.5),
    ({"retry-after-ms": "1500", "retry-after": "2"}, 1.5),
    ({"Retry-After": format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)},
     30.0),
    ({"Retry-After": format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True)},
     0.0),
    ({"Retry-After": "-4"}, 0.0),
    ({"Retry-After": "soon"}, None),
    ({"Retry-After": "inf"}, None),
    ({}, None),
    (None, None),
])
def test_retry_after_in_seconds_or_as_a_date(headers: dict[str, str] | None,
                                             seconds: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == (
        pytest.approx(seconds) if seconds is not None else None)


def test_retry_after_from_httpx_headers() -> None:
    assert parse_retry_after(httpx.Headers({"RETRY-AFTER": "7"})) == 7.0


@pytest.mark.parametrize("body", [
    {"error": {"message": "the words", "type": "invalid_request_error"}},  # OpenAI
    {"type": "error", "error": {"type": "invalid_request_error", "message": "the words"}},
    [{"error": {"code": 400, "message": "the words", "status": "INVALID_ARGUMENT"}}],  # Gemini
    {"error": "the words"},  # Ollama
    {"error": "the words", "error_type": "validation"},  # TGI
    {"detail": "the words"},
    b'{"error": {"message": "the words"}}',
    "the words",
])
def test_the_provider_message_in_every_shape(body: object) -> None:
    assert provider_message(body) == "the words"


def test_a_long_message_is_shortened() -> None:
    assert len(provider_message("x" * 5000)) < 600


@pytest.mark.parametrize(("status", "kind"), [
    (429, RateLimited), (500, ProviderUnavailable), (502, ProviderUnavailable),
    (503, ProviderUnavailable), (529, ProviderUnavailable), (408, ProviderUnavailable),
    (409, ProviderUnavailable), (200, ProviderUnavailable), (400, ProviderRejected),
    (401, ProviderRejected), (403, ProviderRejected), (404, ProviderRejected),
    (422, ProviderRejected),
])
def test_status_codes_map_onto_the_error_tree(status: int, kind: type) -> None:
    error = status_error("p", status, {"error": "said"}, {"retry-after": "1"})
    assert type(error) is kind
    assert error.status == status
    assert error.provider == "p"
    assert str(error) == f"p: HTTP {status}: said"


def test_secrets_are_blanked_out() -> None:
    key = SecretStr("sk-abcdef123456")
    assert redact("bad key sk-abcdef123456!", [key, None]) == "bad key ***!"
    error = status_error("p", 401, {"error": "bad key sk-abcdef123456"}, secrets=[key])
    assert "sk-abcdef123456" not in str(error)


async def test_a_refused_connection_is_provider_unavailable(case: Case) -> None:
    model = case.build("http://127.0.0.1:9", 2.0)  # the discard port: nothing listens
    try:
        with pytest.raises(ProviderUnavailable, match="connection failed"):
            await model.complete(ModelRequest(messages=(Message.user("hi"),)))
    finally:
        await model.aclose()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(("build", "needs"), [
    (lambda: OpenAIModel("gpt-4o", ProviderConfig()), "OPENAI_API_KEY"),
    (lambda: AzureOpenAIModel("d", ProviderConfig(azure_endpoint="https://x")),
     "AZURE_OPENAI_API_KEY"),
    (lambda: AnthropicModel("claude", ProviderConfig()), "ANTHROPIC_API_KEY"),
    (lambda: GeminiModel("gemini", ProviderConfig()), "GEMINI_API_KEY"),
    (lambda: HuggingFaceModel("org/model", ProviderConfig()), "HF_TOKEN"),
])
def test_a_missing_key_is_a_usage_error_naming_the_variable(build: object, needs: str) -> None:
    with pytest.raises(UsageError, match=needs):
        build()  # type: ignore[operator]


def test_an_openai_compatible_server_needs_no_key() -> None:
    model = OpenAIModel("llama", ProviderConfig(openai_base_url="http://127.0.0.1:8000/v1"))
    assert model.name == "openai:llama"


@pytest.mark.parametrize(("module", "build", "extra"), [
    ("openai", lambda: OpenAIModel("m", ProviderConfig(openai_api_key=SECRET)), "openai"),
    ("anthropic", lambda: AnthropicModel("m", ProviderConfig(anthropic_api_key=SECRET)),
     "anthropic"),
    ("google.genai", lambda: GeminiModel("m", ProviderConfig(gemini_api_key=SECRET)),
     "gemini"),
])
def test_a_missing_sdk_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch, module: str,
                                                  build: object, extra: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(UsageError, match=rf"pip install 'plait\[{extra}\]'"):
        build()  # type: ignore[operator]


def test_the_registry_builds_every_provider() -> None:
    registry = ModelRegistry(ProviderConfig(
        openai_api_key=SECRET, azure_api_key=SECRET, azure_endpoint="https://x.openai.azure.com",
        anthropic_api_key=SECRET, gemini_api_key=SECRET, hf_token=SECRET))
    expected = {
        "openai:gpt-4o-mini": OpenAIModel, "azure:my-deployment": AzureOpenAIModel,
        "anthropic:claude-haiku-4-5": AnthropicModel, "gemini:gemini-2.5-flash": GeminiModel,
        "ollama:llama3.2": OllamaModel, "huggingface:HuggingFaceTB/SmolLM2-1.7B-Instruct":
        HuggingFaceModel}
    for name, cls in expected.items():
        model = registry.get(name)
        assert type(model) is cls
        assert isinstance(model, Model)
        assert model.name == name
        assert registry.get(name) is model
    assert registry.get("openai:gpt-4o").capabilities.vision
