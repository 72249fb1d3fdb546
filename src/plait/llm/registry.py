"""``"provider:model"`` strings to models, and which model is the default.

Provider names resolve through the explicit table below (never by importing a path taken
from data). With no keys configured the default is the embedded local model, so plait works
offline; a hosted provider becomes the default when its key is present, and
``default_model`` overrides both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr

from plait.errors import UsageError
from plait.llm.model import Model

__all__ = [
    "LOCAL_DEFAULT",
    "ModelRegistry",
    "ProviderConfig",
    "ProviderFactory",
    "parse_model_string",
]

LOCAL_DEFAULT = "local:smollm2-135m-instruct"


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """Keys and endpoints of the providers (built from ``plait.settings.Settings`` by the
    entry points; secrets stay ``SecretStr``)."""

    default_model: str | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    azure_api_key: SecretStr | None = None
    azure_endpoint: str | None = None
    azure_api_version: str = "2024-10-21"
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = None
    hf_token: SecretStr | None = None
    hf_base_url: str | None = None
    ollama_base_url: str = "http://127.0.0.1:11434"
    timeout: float = 60.0
    local_threads: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


ProviderFactory = Callable[[str, ProviderConfig], Model]


def parse_model_string(text: str) -> tuple[str, str]:
    """``"openai:gpt-4o-mini"`` -> ``("openai", "gpt-4o-mini")``."""
    provider, sep, model = text.partition(":")
    if not sep or not provider or not model:
        raise UsageError(f"model {text!r} must be written 'provider:model', e.g. "
                         f"'openai:gpt-4o-mini' or {LOCAL_DEFAULT!r}")
    return provider, model


def _openai(model: str, config: ProviderConfig) -> Model:
    from plait.llm.providers.openai import OpenAIModel

    return OpenAIModel(model, config)


def _azure(model: str, config: ProviderConfig) -> Model:
    from plait.llm.providers.openai import AzureOpenAIModel

    return AzureOpenAIModel(model, config)


def _anthropic(model: str, config: ProviderConfig) -> Model:
    from plait.llm.providers.anthropic import AnthropicModel

    return AnthropicModel(model, config)


def _ollama(model: str, config: ProviderConfig) -> Model:
    from plait.llm.providers.ollama import OllamaModel

    return OllamaModel(model, config)


def _gemini(model: str, config: ProviderConfig) -> Model:
    from plait.llm.providers.gemini import GeminiModel

    return GeminiModel(model, config)


def _huggingface(model: str, config: ProviderConfig) -> Model:
    from plait.llm.providers.huggingface import HuggingFaceModel

    return HuggingFaceModel(model, config)


def _local(model: str, config: ProviderConfig) -> Model:
    from plait.llm.local import LocalModel

    return LocalModel(model, config)


BUILTIN_PROVIDERS: dict[str, ProviderFactory] = {
    "openai": _openai,
    "azure": _azure,
    "anthropic": _anthropic,
    "ollama": _ollama,
    "gemini": _gemini,
    "huggingface": _huggingface,
    "local": _local,
}


class ModelRegistry:
    """Creates (once) and hands out models by ``provider:model`` string."""

    def __init__(self, config: ProviderConfig | None = None,
                 providers: dict[str, ProviderFactory] | None = None) -> None:
        self.config = config or ProviderConfig()
        self._providers = dict(BUILTIN_PROVIDERS)
        self._providers.update(providers or {})
        self._models: dict[str, Model] = {}

    def register_provider(self, name: str, factory: ProviderFactory) -> None:
        self._providers[name] = factory

    def register_model(self, model: Model) -> None:
        """Serve this model object under its ``name`` (tests, custom clients)."""
        self._models[model.name] = model

    def providers(self) -> list[str]:
        return sorted(self._providers)

    def knows(self, text: str) -> bool:
        """Whether ``text`` names a registered model or a model of a known provider."""
        if text in self._models:
            return True
        provider, _, model = text.partition(":")
        return bool(model) and provider in self._providers

    def get(self, text: str | None = None) -> Model:
        """The model for ``text``, or the default model when ``text`` is None."""
        name = text or self.default_model_string()
        model = self._models.get(name)
        if model is None:
            provider, model_name = parse_model_string(name)
            factory = self._providers.get(provider)
            if factory is None:
                raise UsageError(f"unknown model provider {provider!r} in {name!r}; known: "
                                 f"{', '.join(self.providers())}")
            model = self._models[name] = factory(model_name, self.config)
        return model

    def default_model_string(self) -> str:
        config = self.config
        if config.default_model:
            return config.default_model
        if config.openai_api_key is not None:
            return "openai:gpt-4o-mini"
        if config.anthropic_api_key is not None:
            return "anthropic:claude-haiku-4-5"
        if config.gemini_api_key is not None:
            return "gemini:gemini-2.0-flash"
        return LOCAL_DEFAULT
