"""The one place plait reads its environment. Entry points (CLI, server) build
``Settings.from_env()`` and pass what they need down; library code never reads ``os.environ``.

==========================  =====================================================
variable                    setting
==========================  =====================================================
``PLAIT_HOME``              data directory (default ``~/.plait``)
``PLAIT_MODEL``             default ``provider:model`` (else: a hosted provider whose
                            key is set, else the embedded local model)
``PLAIT_LOG_LEVEL``         log level of the entry points (default ``WARNING``)
``PLAIT_DATABASE_URL``      runs, checkpoints, state, sessions, artifacts (default
                            ``sqlite:///$PLAIT_HOME/plait.db``; or ``postgresql://...``)
``PLAIT_RAG_STORE``         the vector store: a directory (embedded, default
                            ``$PLAIT_HOME/rag``), ``postgresql://...`` or ``chroma://DIR``
``PLAIT_EMBEDDER``          the embedding model (default ``local:all-MiniLM-L6-v2``)
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

import dataclasses
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
    database_url: str | None = None
    rag_store: str | None = None
    embedder: str = "local:all-MiniLM-L6-v2"
    providers: ProviderConfig = ProviderConfig()
    """Keys and endpoints of the model providers (secrets stay ``SecretStr``)."""

    @property
    def ollama_host(self) -> str:
        return self.providers.ollama_base_url

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
            database_url=_text(env, "PLAIT_DATABASE_URL"),
            rag_store=_text(env, "PLAIT_RAG_STORE"),
            embedder=_text(env, "PLAIT_EMBEDDER") or "local:all-MiniLM-L6-v2",
            providers=ProviderConfig(
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
                ollama_base_url=ollama,
            ),
        )

    @property
    def database(self) -> str:
        """Where runs and state live: ``PLAIT_DATABASE_URL``, else SQLite under the home."""
        return self.database_url or f"sqlite:///{self.home / 'plait.db'}"

    @property
    def vector_store(self) -> str:
        """The RAG store location: ``PLAIT_RAG_STORE``, else the embedded store under home."""
        return self.rag_store or str(self.home / "rag")

    @property
    def embedding_cache(self) -> Path:
        return self.home / "cache" / "embeddings.sqlite"

    def provider_config(self, *, model: str | None = None) -> ProviderConfig:
        """The model layer's view of these settings; ``model`` overrides the default."""
        return dataclasses.replace(self.providers, default_model=model or self.model)
