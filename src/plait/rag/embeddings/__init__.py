"""Embedders: texts in, float32 vectors out (the :class:`~plait.rag.types.Embedder` protocol).

- :class:`LocalEmbedder`: the embedded default, all-MiniLM-L6-v2 (384 dims) on the CPU,
  offline, in a worker thread (``local`` / ``local:all-MiniLM-L6-v2``);
- :class:`OpenAIEmbedder` (and OpenAI-compatible servers), :class:`OllamaEmbedder`,
  :class:`TEIEmbedder` (Hugging Face Text Embeddings Inference), :class:`GeminiEmbedder`:
  hosted models over ``httpx``, batched, retried, failures mapped onto plait's model errors;
- :class:`HashEmbedder`: model-free feature hashing, for tests and machines without torch;
- :class:`CachedEmbedder`: any of them with a persistent SQLite cache;
- :func:`embedder_from_id` builds one from its id; :func:`check_compatible` guards a
  collection against another model's vectors.

Importing this package loads neither torch nor a model: the local model loads on first use.
"""

from plait.rag.embeddings.base import (
    EmbedderConfig,
    EmbedderOptions,
    EmbedKind,
    check_compatible,
    resolve_dim,
)
from plait.rag.embeddings.cache import CachedEmbedder, CacheStats
from plait.rag.embeddings.factory import PROVIDERS, canonical_id, embedder_from_id, parse_id
from plait.rag.embeddings.hashing import HashEmbedder
from plait.rag.embeddings.http import HTTPEmbedder
from plait.rag.embeddings.local import DEFAULT_MODEL, LocalEmbedder, default_model_path
from plait.rag.embeddings.providers import (
    GeminiEmbedder,
    OllamaEmbedder,
    OpenAIEmbedder,
    TEIEmbedder,
)

__all__ = [
    "DEFAULT_MODEL",
    "PROVIDERS",
    "CacheStats",
    "CachedEmbedder",
    "EmbedKind",
    "EmbedderConfig",
    "EmbedderOptions",
    "GeminiEmbedder",
    "HTTPEmbedder",
    "HashEmbedder",
    "LocalEmbedder",
    "OllamaEmbedder",
    "OpenAIEmbedder",
    "TEIEmbedder",
    "canonical_id",
    "check_compatible",
    "default_model_path",
    "embedder_from_id",
    "parse_id",
    "resolve_dim",
]
