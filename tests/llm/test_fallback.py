"""A fallback chain over real providers on two mock servers: the next model is tried on a
retryable error, the chain stops on a rejection, and streams never splice two models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plait.errors import ProviderRejected, ProviderUnavailable, RateLimited
from plait.llm import FallbackModel, Message, ModelRequest, ProviderConfig, collect
from plait.llm.providers.anthropic import AnthropicModel
from plait.llm.providers.ollama import OllamaModel
from plait.llm.providers.openai import OpenAIModel
from plait.testing import Fault, MockLLMServer, Script

from .conftest import KEY, SECRET

ASK = ModelRequest(messages=(Message.user("hello"),))


@pytest.fixture
def servers() -> Iterator[tuple[MockLLMServer, MockLLMServer]]:
    with MockLLMServer(["from openai"], api_key=KEY) as first, \
            MockLLMServer(["from anthropic"], api_key=KEY) as second:
        yield first, second


def chain(first: MockLLMServer, second: MockLLMServer) -> FallbackModel:
    return FallbackModel([
        OpenAIModel("mock", ProviderConfig(openai_api_key=SECRET, openai_base_url=f"{first.url}/v1",
                                           timeout=0.5)),  # what the timeout fault waits
        AnthropicModel("mock", ProviderConfig(anthropic_api_key=SECRET,
                                              anthropic_base_url=second.url)),
    ])


@pytest.mark.parametrize("fault", [Fault.rate_limit(1), Fault.server_error(),
                                   Fault.timeout(), Fault.cut_stream(0)])
async def test_a_retryable_failure_moves_to_the_next_model(
        servers: tuple[MockLLMServer, MockLLMServer], fault: Fault) -> None:
    first, second = servers
    first.script = Script([fault])
    model = chain(first, second)
    response = await model.complete(ASK)
    assert response.text == "from anthropic"
    assert response.model == "anthropic:mock"
    assert len(first.requests) == 1
    assert len(second.requests) == 1


async def test_a_rejection_stops_the_chain(servers: tuple[MockLLMServer, MockLLMServer]) -> None:
    first, second = servers
    first.script = Script([Fault.error(401, "bad key")])
    with pytest.raises(ProviderRejected, match="bad key"):
        await chain(first, second).complete(ASK)
    assert second.requests == []


async def test_the_last_error_is_raised_when_every_model_fails(
        servers: tuple[MockLLMServer, MockLLMServer]) -> None:
    first, second = servers
    first.script = Script([Fault.server_error()])
    second.script = Script([Fault.rate_limit(3)])
    with pytest.raises(RateLimited) as caught:
        await chain(first, second).complete(ASK)
    assert caught.value.retry_after == 3


async def test_a_stream_falls_back_before_its_first_event(
        servers: tuple[MockLLMServer, MockLLMServer]) -> None:
    first, second = servers
    first.script = Script([Fault.unavailable()])
    response = await collect(chain(first, second).stream(ASK))
    assert response.text == "from anthropic"


async def test_a_stream_that_fails_midway_is_not_spliced(
        servers: tuple[MockLLMServer, MockLLMServer]) -> None:
    first, second = servers
    with MockLLMServer(["one two three four five six"], faults=[Fault.cut_stream(4)]) as broken:
        model = FallbackModel([
            OllamaModel("mock", ProviderConfig(ollama_base_url=broken.url)), chain(first, second)])
        with pytest.raises(ProviderUnavailable):
            await collect(model.stream(ASK))
    assert second.requests == []
