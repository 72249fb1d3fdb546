"""``ingest``: bring a collection up to date with files, directories or documents —
incrementally (unchanged documents are skipped by content hash, changed ones replaced, and
files gone from an ingested directory removed).

The ``source`` input is a path, a list of paths, or documents: strings or objects
``{"id": ..., "text": ..., "metadata": {...}}``. The output is the report::

    {"added": 3, "updated": 0, "unchanged": 12, "removed": 1, "failed": 0, "skipped": 0,
     "chunks": 41, "seconds": 2.1, "failures": []}
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import ClassVar, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plait.errors import Problem, UsageError
from plait.graph.context import RunContext
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Port, Ports
from plait.graph.spec import NodeSpec
from plait.nodes.knowledge import Knowledge
from plait.rag.chunkers import DEFAULT_CHUNKING, chunker_from_config
from plait.rag.ingest import Ingestor
from plait.rag.types import Document, MetaValue
from plait.types import JsonValue, PortType

__all__ = ["IngestKind", "IngestParams", "as_documents"]


class IngestParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    collection: str = Field(description="the collection to fill (created on first use)")
    tenant: str | None = Field(None, description="the tenant (default: the engine's)")
    namespace: str = Field("default", description="the collection's namespace")
    chunking: dict[str, JsonValue] = Field(
        default_factory=lambda: cast(dict[str, JsonValue], dict(DEFAULT_CHUNKING)),
        description='how to split documents, e.g. {"strategy": "markdown", "size": 800}')
    include: list[str] | None = Field(None, description="glob patterns of files to load from "
                                      "directories (default: every supported type)")
    exclude: list[str] = Field(default_factory=list, description="glob patterns to skip")
    prune: bool | None = Field(None, description="remove documents that are gone (default: "
                               "when ingesting a directory)")
    reembed: bool = Field(False, description="re-embed the collection if it was built with "
                          "another embedding model")

    @field_validator("chunking")
    @classmethod
    def _chunking(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        chunker_from_config(value)  # raises a UsageError listing the problems
        return value


def _meta(value: object, where: str) -> dict[str, MetaValue]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}.metadata must be an object")
    out: dict[str, MetaValue] = {}
    for key, item in value.items():
        if item is not None and not isinstance(item, str | int | float | bool):
            raise UsageError(f"{where}.metadata.{key}: values must be scalars")
        out[str(key)] = item
    return out


def as_documents(items: list[object]) -> list[Document]:
    """Documents from strings (id = a hash of the text) or ``{"id", "text", "metadata"}``."""
    docs = []
    for i, item in enumerate(items):
        where = f"source[{i}]"
        if isinstance(item, str):
            digest = hashlib.sha256(item.encode()).hexdigest()[:16]
            docs.append(Document(id=f"text:{digest}", text=item, metadata={"source": "input"}))
        elif isinstance(item, Mapping):
            text = item.get("text")
            if not isinstance(text, str):
                raise UsageError(f"{where}.text must be a string")
            doc_id = item.get("id")
            if doc_id is None:
                doc_id = f"text:{hashlib.sha256(text.encode()).hexdigest()[:16]}"
            meta = _meta(item.get("metadata"), where)
            meta.setdefault("source", str(doc_id))
            docs.append(Document(id=str(doc_id), text=text, metadata=meta))
        else:
            raise UsageError(f"{where}: expected a string or an object with 'text'")
    return docs


class _Ingest(BoundNode):
    def __init__(self, params: IngestParams, knowledge: Knowledge) -> None:
        self.params = params
        self.knowledge = knowledge

    async def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        p = self.params
        source = inputs.get("source")
        paths: list[str] | None = None
        docs: list[Document] | None = None
        if isinstance(source, str):
            paths = [source]
        elif isinstance(source, list) and source and all(isinstance(s, str) for s in source) \
                and not any("\n" in s for s in source):
            paths = list(source)
        elif isinstance(source, list):
            docs = as_documents(source)
        else:
            raise UsageError("ingest needs 'source': a path, a list of paths, or documents "
                             f"(strings or objects with 'text'); got {type(source).__name__}")
        k = self.knowledge
        ingestor = Ingestor(k.store(), k.embedder(), chunker_from_config(p.chunking),
                            k.ref(p.collection, tenant=p.tenant, namespace=p.namespace),
                            reembed=p.reembed, include=p.include, exclude=p.exclude)
        report = await ingestor.ingest(paths if paths is not None else docs or [],
                                       prune=p.prune)
        return {**report.summary(), "failures": [str(f) for f in report.failed]}


class IngestKind(NodeKind[IngestParams]):
    name: ClassVar[str] = "ingest"
    Params = IngestParams
    description: ClassVar[str] = ("Load, chunk, embed and store documents into a collection, "
                                  "incrementally.")
    primary_input: ClassVar[str | None] = "source"

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    def ports(self, params: IngestParams) -> Ports:
        return Ports(inputs={"source": Port(PortType.ANY, description="a path, paths, or "
                                            "documents")}, output=PortType.OBJECT)

    def check(self, node: NodeSpec, params: IngestParams, env: BindEnv,
              location: str) -> list[Problem]:
        if not params.collection.strip():
            return [Problem("invalid_param", "collection must not be empty",
                            f"{location}.collection")]
        return []

    def bind(self, node: NodeSpec, params: IngestParams, env: BindEnv) -> BoundNode:
        return _Ingest(params, self.knowledge)
