"""Hosted and self-hosted embedding APIs, over plain ``httpx`` (no SDK needed).

================  ============================================  =================  ==========
provider          endpoint (``base_url`` default)               texts per request  key
================  ============================================  =================  ==========
``openai``        ``POST /embeddings``                          256 (API: 2048)    Bearer
                  (``https://api.openai.com/v1``; any
                  OpenAI-compatible server: vLLM, LM Studio,
                  Ollama's ``/v1``, TEI's ``/v1``)
``ollama``        ``POST /api/embed`` (``http://127.0.0.1:11434``)  32             none
``tei``           ``POST /embed`` (``http://127.0.0.1:8080``)   32 (TEI's default  Bearer
                                                                client limit)      (optional)
``gemini``        ``POST /v1beta/models/{m}:batchEmbedContents``  100 (API: 100)   x-goog-
                  (``https://generativelanguage.googleapis.com``)                  api-key
================  ============================================  =================  ==========

OpenAI batches also stop at 250,000 characters, under the API's 300,000 tokens per request.
Gemini is told the text's role (``RETRIEVAL_DOCUMENT`` / ``RETRIEVAL_QUERY``); the others
embed both kinds alike.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np

from plait.rag.embeddings.base import EmbedderConfig, EmbedKind
from plait.rag.embeddings.http import HTTPEmbedder, JSONObject

if TYPE_CHECKING:
    from plait.rag.types import Vectors

__all__ = ["GeminiEmbedder", "OllamaEmbedder", "OpenAIEmbedder", "TEIEmbedder"]

_GEMINI_TASK: Final = {"document": "RETRIEVAL_DOCUMENT", "query": "RETRIEVAL_QUERY"}


def _vector(value: object) -> Sequence[float] | Vectors:
    """A list of numbers, or OpenAI's base64 little-endian float32."""
    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value), dtype="<f4")
    if not isinstance(value, list) or not value:
        raise ValueError("a vector is a non-empty list of numbers")
    return value


class OpenAIEmbedder(HTTPEmbedder):
    """OpenAI's ``/embeddings`` (``text-embedding-3-small``, ...) or any server speaking it.
    Vectors travel as base64 (a server that ignores it and sends numbers works too)."""

    provider = "openai"
    default_base_url = "https://api.openai.com/v1"
    default_batch_size = 256
    max_batch_size = 2048
    default_max_batch_chars = 250_000

    def path(self) -> str:
        return "/embeddings"

    def body(self, texts: Sequence[str], kind: EmbedKind) -> JSONObject:
        body: JSONObject = {"model": self.model, "input": list(texts),
                            "encoding_format": "base64"}
        if self.config.dimensions:
            body["dimensions"] = self.config.dimensions
        return body

    def parse(self, data: object, count: int) -> Sequence[Sequence[float] | Vectors]:
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ValueError("no 'data' list")
        items = sorted(data["data"], key=lambda item: int(item.get("index", 0)))
        return [_vector(item["embedding"]) for item in items]


class OllamaEmbedder(HTTPEmbedder):
    """Ollama's ``/api/embed`` (``nomic-embed-text``, ``mxbai-embed-large``, ...). Texts
    longer than the model's context are truncated by Ollama."""

    provider = "ollama"
    default_base_url = "http://127.0.0.1:11434"
    default_batch_size = 32

    def path(self) -> str:
        return "/api/embed"

    def body(self, texts: Sequence[str], kind: EmbedKind) -> JSONObject:
        body: JSONObject = {"model": self.model, "input": list(texts), "truncate": True}
        if self.config.dimensions:
            body["dimensions"] = self.config.dimensions
        return body

    def parse(self, data: object, count: int) -> Sequence[Sequence[float] | Vectors]:
        if not isinstance(data, dict) or not isinstance(data.get("embeddings"), list):
            raise ValueError("no 'embeddings' list")
        return [_vector(v) for v in data["embeddings"]]


class TEIEmbedder(HTTPEmbedder):
    """Hugging Face Text Embeddings Inference's ``/embed`` (a local server or an Inference
    Endpoint; ``api_key`` is its token). ``model`` names the model the server was started
    with: TEI serves one. Texts over the model's limit are truncated by the server."""

    provider = "tei"
    default_base_url = "http://127.0.0.1:8080"
    default_batch_size = 32

    def path(self) -> str:
        return "/embed"

    def body(self, texts: Sequence[str], kind: EmbedKind) -> JSONObject:
        body: JSONObject = {"inputs": list(texts), "normalize": True, "truncate": True}
        if self.config.dimensions:
            body["dimensions"] = self.config.dimensions
        return body

    def parse(self, data: object, count: int) -> Sequence[Sequence[float] | Vectors]:
        if not isinstance(data, list):
            raise ValueError("expected a list of vectors")
        return [_vector(v) for v in data]


class GeminiEmbedder(HTTPEmbedder):
    """Google Gemini's ``batchEmbedContents`` (``text-embedding-004``,
    ``gemini-embedding-001``), with the task type set from ``kind``."""

    provider = "gemini"
    default_base_url = "https://generativelanguage.googleapis.com"
    default_batch_size = 100
    max_batch_size = 100

    def __init__(self, model: str, config: EmbedderConfig | None = None) -> None:
        super().__init__(model.removeprefix("models/"), config)

    def path(self) -> str:
        return f"/v1beta/models/{self.model}:batchEmbedContents"

    def auth_headers(self) -> dict[str, str]:
        key = self.config.api_key
        return {"x-goog-api-key": key.get_secret_value()} if key else {}

    def body(self, texts: Sequence[str], kind: EmbedKind) -> JSONObject:
        asks: list[JSONObject] = []
        for text in texts:
            ask: JSONObject = {"model": f"models/{self.model}",
                               "content": {"parts": [{"text": text}]},
                               "taskType": _GEMINI_TASK[kind]}
            if self.config.dimensions:
                ask["outputDimensionality"] = self.config.dimensions
            asks.append(ask)
        return {"requests": asks}

    def parse(self, data: object, count: int) -> Sequence[Sequence[float] | Vectors]:
        if not isinstance(data, dict) or not isinstance(data.get("embeddings"), list):
            raise ValueError("no 'embeddings' list")
        return [_vector(item["values"]) for item in data["embeddings"]]
