"""The one place plait reads its environment. Entry points (CLI, server) build
``Settings.from_env()`` and pass what they need down; library code never reads ``os.environ``.

==========================  =====================================================
variable                    setting
==========================  =====================================================
``PLAIT_HOME``              data directory (default ``~/.plait``)
``PLAIT_MODEL``             default ``provider:model`` (else: a hosted provider whose
                            key is set, else the embedded local model)
``PLAIT_LOG_LEVEL``         log level of the entry points (default ``WARNING``)
``OPENAI_API_KEY``          OpenAI key; ``OPENAI_BASE_URL`` for compatible servers
``AZURE_OPENAI_API_KEY``    Azure OpenAI key; ``AZURE_OPENAI_ENDPOINT``,
                            ``OPENAI_API_VERSION``
``ANTHROPIC_API_KEY``       Anthropic key; ``ANTHROPIC_BASE_URL``
``GEMINI_API_KEY``          Google Gemini key (or ``GOOGLE_API_KEY``); ``GEMINI_BASE_URL``
``HF_TOKEN``                Hugging Face token; ``HF_BASE_URL`` (a TGI/Inference endpoint)
``OLLAMA_HOST``             Ollama's address (default ``http://127.0.0.1:11434``)
==========================  =====================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from plait.llm import ProviderConfig

__all__ = ["Settings"]


def _secret(env: Mapping[str, str], *names: str) -> SecretStr | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return SecretStr(value)
    return None


def _text(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    home: Path
    model: str | None = None
    log_level: str = "WARNING"
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
    ollama_host: str = "http://127.0.0.1:11434"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        ollama = _text(env, "OLLAMA_HOST") or "http://127.0.0.1:11434"
        if "://" not in ollama:
            ollama = f"http://{ollama}"
        return cls(
            home=Path(_text(env, "PLAIT_HOME") or Path.home() / ".plait"),
            model=_text(env, "PLAIT_MODEL"),
            log_level=(_text(env, "PLAIT_LOG_LEVEL") or "WARNING").upper(),
            openai_api_key=_secret(env, "OPENAI_API_KEY"),
            openai_base_url=_text(env, "OPENAI_BASE_URL"),
            azure_api_key=_secret(env, "AZURE_OPENAI_API_KEY"),
            azure_endpoint=_text(env, "AZURE_OPENAI_ENDPOINT"),
            azure_api_version=_text(env, "OPENAI_API_VERSION") or "2024-10-21",
            anthropic_api_key=_secret(env, "ANTHROPIC_API_KEY"),
            anthropic_base_url=_text(env, "ANTHROPIC_BASE_URL"),
            gemini_api_key=_secret(env, "GEMINI_API_KEY", "GOOGLE_API_KEY"),
            gemini_base_url=_text(env, "GEMINI_BASE_URL"),
            hf_token=_secret(env, "HF_TOKEN"),
            hf_base_url=_text(env, "HF_BASE_URL"),
            ollama_host=ollama,
        )

    def provider_config(self, *, model: str | None = None) -> ProviderConfig:
        """The model layer's view of these settings; ``model`` overrides the default."""
        return ProviderConfig(
            default_model=model or self.model,
            openai_api_key=self.openai_api_key, openai_base_url=self.openai_base_url,
            azure_api_key=self.azure_api_key, azure_endpoint=self.azure_endpoint,
            azure_api_version=self.azure_api_version,
            anthropic_api_key=self.anthropic_api_key,
            anthropic_base_url=self.anthropic_base_url,
            gemini_api_key=self.gemini_api_key, gemini_base_url=self.gemini_base_url,
            hf_token=self.hf_token, hf_base_url=self.hf_base_url,
            ollama_base_url=self.ollama_host)
