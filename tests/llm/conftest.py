"""One case per provider, each pointed at the mock LLM server on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from plait.llm import Model, ProviderConfig
from plait.llm.providers.anthropic import AnthropicModel
from plait.llm.providers.gemini import GeminiModel
from plait.llm.providers.huggingface import HuggingFaceModel
from plait.llm.providers.ollama import OllamaModel
from plait.llm.providers.openai import OpenAIModel
from plait.testing import Fault, MockLLMServer
from plait.testing.mock_script import ScriptItem

KEY = "sk-plait-test-0123456789abcdef"
SECRET = SecretStr(KEY)
FAST_TIMEOUT = 0.1
"""Seconds before a hanging call is given up (the timeout fault)."""

JSON = dict[str, Any]


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[str, float], Model]
    """(mock server URL, timeout) -> the model under test."""
    path: str
    """Where its model calls arrive on the mock server (part of the path)."""
    tools: bool
    """Whether its API has native tool calling."""
    schema_of: Callable[[JSON], object]
    """Where a request body carries the structured-output schema."""
    keyed: bool = True
    """Whether it sends an API key (Ollama has none)."""


def _openai_schema(body: JSON) -> object:
    return body["response_format"]["json_schema"]["schema"]


CASES = [
    Case("openai", lambda url, t: OpenAIModel("mock", ProviderConfig(
        openai_api_key=SECRET, openai_base_url=f"{url}/v1", timeout=t)),
         "/v1/chat/completions", True, _openai_schema),
    Case("anthropic", lambda url, t: AnthropicModel("mock", ProviderConfig(
        anthropic_api_key=SECRET, anthropic_base_url=url, timeout=t)),
         "/v1/messages", True, lambda body: body["output_config"]["format"]["schema"]),
    Case("gemini", lambda url, t: GeminiModel("mock", ProviderConfig(
        gemini_api_key=SECRET, gemini_base_url=url, timeout=t)),
         "/models/mock:", True,
         lambda body: body["generationConfig"]["responseJsonSchema"]),
    Case("ollama", lambda url, t: OllamaModel("mock", ProviderConfig(
        ollama_base_url=url, timeout=t)),
         "/api/chat", True, lambda body: body["format"], keyed=False),
    Case("huggingface-tgi", lambda url, t: HuggingFaceModel("mock", ProviderConfig(
        hf_token=SECRET, hf_base_url=url, timeout=t)),
         "/generate", False, lambda body: body["parameters"]["grammar"]["value"]),
    Case("huggingface-chat", lambda url, t: HuggingFaceModel("mock", ProviderConfig(
        hf_token=SECRET, hf_base_url=f"{url}/v1", timeout=t)),
         "/v1/chat/completions", True, _openai_schema),
]
TOOL_CASES = [c for c in CASES if c.tools]


@pytest.fixture(params=CASES, ids=lambda c: c.id)
def case(request: pytest.FixtureRequest) -> Case:
    param: Case = request.param
    return param


@pytest.fixture(params=TOOL_CASES, ids=lambda c: c.id)
def tool_case(request: pytest.FixtureRequest) -> Case:
    param: Case = request.param
    return param


@contextlib.asynccontextmanager
async def serving(case: Case, script: Iterable[ScriptItem] = (), *,
                  faults: Iterable[Fault | None] | None = None,
                  timeout: float = 10.0) -> AsyncIterator[tuple[MockLLMServer, Model]]:
    """A mock server (which checks the API key) and the case's model pointed at it; the
    model's connections close before the server stops."""
    with MockLLMServer(list(script), faults=faults, api_key=KEY) as server:
        model = case.build(server.url, timeout)
        try:
            yield server, model
        finally:
            await model.aclose()  # type: ignore[attr-defined]


def calls_to(server: MockLLMServer, case: Case) -> list[JSON]:
    """The JSON bodies of the model calls the case's model made."""
    return [x.body for x in server.exchanges
            if case.path in x.path and isinstance(x.body, dict)]
