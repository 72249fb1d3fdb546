"""Vector store backends, all implementing :class:`plait.rag.types.VectorStore`.

==============================  ================================================================
``memory://``                   :class:`~plait.rag.stores.memory.MemoryVectorStore`: exact,
                                in memory, for tests and throwaway collections
a directory path (or            :class:`~plait.rag.stores.embedded.EmbeddedVectorStore`: the
``file://`` URL)                default; HNSW (FAISS) + BM25 + SQLite in one directory
``postgresql://...``            :class:`~plait.rag.stores.pgvector.PgVectorStore`: PostgreSQL
                                with pgvector
``chroma://PATH``               :class:`~plait.rag.stores.chroma.ChromaStore`: Chroma's
                                embedded client in PATH
==============================  ================================================================

:func:`open_store` picks one from a URL or path; backends are imported only when asked for.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import cast
from urllib.parse import unquote, urlsplit

from plait.errors import UsageError
from plait.rag.types import VectorStore

__all__ = ["open_store"]


def open_store(url_or_path: str | Path) -> VectorStore:
    """The vector store a URL or path names (see the module docstring for the forms)."""
    if isinstance(url_or_path, Path):
        return _build("plait.rag.stores.embedded", "EmbeddedVectorStore", url_or_path)
    text = str(url_or_path).strip()
    if not text:
        raise UsageError("open_store needs a URL or a directory path, got ''")
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme == "memory":
        return _build("plait.rag.stores.memory", "MemoryVectorStore")
    if scheme in ("postgresql", "postgres"):
        return _build("plait.rag.stores.pgvector", "PgVectorStore", text)
    if scheme == "chroma":
        return _build("plait.rag.stores.chroma", "ChromaStore", _path_of(text, "chroma"))
    if scheme == "file":
        return _build("plait.rag.stores.embedded", "EmbeddedVectorStore", _path_of(text, "file"))
    if scheme:
        raise UsageError(f"unknown vector store URL scheme {scheme!r} in {text!r}; use "
                         "memory://, postgresql://..., chroma://PATH, file://PATH or a path")
    return _build("plait.rag.stores.embedded", "EmbeddedVectorStore", Path(text))


def _path_of(url: str, scheme: str) -> Path:
    rest = unquote(url.split("://", 1)[1])
    if not rest:
        raise UsageError(f"{scheme}:// needs a directory, e.g. {scheme}://data/vectors")
    return Path(rest)


def _build(module: str, name: str, *args: object) -> VectorStore:
    cls = getattr(importlib.import_module(module), name)
    return cast(VectorStore, cls(*args))
