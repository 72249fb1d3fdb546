"""Embedders by name: ``embedder_from_id("openai:text-embedding-3-small")``.

An id is ``provider:model``, optionally ``@dimensions`` (``openai:text-embedding-3-small@256``):
the same string an embedder reports as its ``model_id``, so a collection's recorded id builds
its embedder again. ``local`` alone is the embedded default, ``hash`` alone is ``hash:384``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Final, Unpack

from plait.errors import UsageError
from plait.rag.embeddings.base import DEFAULT_LOCAL_ID, EmbedderConfig, EmbedderOptions

if TYPE_CHECKING:
    from plait.rag.embeddings.http import HTTPEmbedder
    from plait.rag.types import Embedder

__all__ = ["PROVIDERS", "canonical_id", "embedder_from_id", "parse_id"]

PROVIDERS: Final = ("local", "openai", "ollama", "tei", "gemini", "hash")
_LOCAL_OPTIONS: Final = frozenset({"batch_size", "normalize"})
_EXAMPLES: Final = ("'local', 'openai:text-embedding-3-small', 'ollama:nomic-embed-text', "
                    "'tei:BAAI/bge-small-en-v1.5', 'gemini:text-embedding-004', 'hash:384'")


def parse_id(spec: str) -> tuple[str, str, int | None]:
    """``(provider, model, dimensions)`` of an embedder id, with the defaults filled in."""
    text = spec.strip()
    provider, sep, model = text.partition(":")
    provider = provider.lower()
    if provider not in PROVIDERS:
        if not sep:
            raise UsageError(f"embedder {spec!r} must be written 'provider:model', e.g. "
                             f"{_EXAMPLES}")
        raise UsageError(f"unknown embedding provider {provider!r} in {spec!r}: one of "
                         f"{', '.join(PROVIDERS)} (e.g. {_EXAMPLES})")
    dims: int | None = None
    head, at, tail = model.rpartition("@")
    if at and tail.isdigit() and head:
        model, dims = head, int(tail)
        if dims < 1:
            raise UsageError(f"embedder {spec!r}: dimensions must be >= 1")
    if provider == "local":
        if dims is not None:
            raise UsageError(f"embedder {spec!r}: the local model has a fixed size")
        model = model or DEFAULT_LOCAL_ID.partition(":")[2]
        if model.lower() == DEFAULT_LOCAL_ID.partition(":")[2].lower():
            model = DEFAULT_LOCAL_ID.partition(":")[2]
    elif provider == "hash":
        if not (model or "384").isdigit() or dims is not None:
            raise UsageError(f"embedder {spec!r}: write 'hash' or 'hash:DIM', e.g. 'hash:384'")
        model = model or "384"
    elif provider == "gemini":
        model = model.removeprefix("models/")
    if not model:
        raise UsageError(f"embedder {spec!r} names no model, e.g. {_EXAMPLES}")
    return provider, model, dims


def canonical_id(spec: str) -> str:
    """The id an embedder built from ``spec`` reports (``local`` -> ``local:all-MiniLM-L6-v2``);
    a spec that does not parse is returned as it is (ids recorded by other tools)."""
    try:
        provider, model, dims = parse_id(spec)
    except UsageError:
        return spec
    return f"{provider}:{model}" + (f"@{dims}" if dims else "")


def embedder_from_id(spec: str, config: EmbedderConfig | None = None, *,
                     cache: str | Path | None = None,
                     **options: Unpack[EmbedderOptions]) -> Embedder:
    """The embedder ``spec`` names, configured by ``config`` and/or keyword ``options`` (the
    fields of :class:`EmbedderConfig`: ``api_key``, ``base_url``, ``batch_size``, ...).
    ``cache`` wraps it in a :class:`~plait.rag.embeddings.CachedEmbedder` at that file.

    Raises :class:`~plait.errors.UsageError` for an unknown provider or an option the
    provider does not take.
    """
    provider, model, dims = parse_id(spec)
    if dims is not None:
        if options.get("dimensions") not in (None, dims):
            raise UsageError(f"embedder {spec!r} says @{dims}, but dimensions="
                             f"{options.get('dimensions')}")
        options["dimensions"] = dims
    embedder: Embedder
    if provider in ("local", "hash"):
        extra = sorted(set(options) - _LOCAL_OPTIONS) if provider == "local" else sorted(
            options)
        if extra:
            raise UsageError(f"the {provider} embedder takes no {', '.join(extra)} option")
        if provider == "local":
            from plait.rag.embeddings.local import LocalEmbedder

            base = config or EmbedderConfig()
            embedder = LocalEmbedder(
                model, batch_size=options.get("batch_size") or base.batch_size or 32,
                normalize=options.get("normalize", base.normalize))
        else:
            from plait.rag.embeddings.hashing import HashEmbedder

            embedder = HashEmbedder(int(model))
    else:
        settings = dataclasses.replace(config or EmbedderConfig(), **options)
        embedder = _http(provider)(model, settings)
    if cache is not None:
        from plait.rag.embeddings.cache import CachedEmbedder

        return CachedEmbedder(embedder, cache)
    return embedder


def _http(provider: str) -> type[HTTPEmbedder]:
    from plait.rag.embeddings import providers

    return {"openai": providers.OpenAIEmbedder, "ollama": providers.OllamaEmbedder,
            "tei": providers.TEIEmbedder, "gemini": providers.GeminiEmbedder}[provider]
