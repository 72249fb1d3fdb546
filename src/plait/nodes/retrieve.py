"""``retrieve``: the chunks of a collection that best match a query — vector, keyword (BM25) or
hybrid search, with an optional metadata filter and MMR diversity.

The output is a list of hits as plain JSON (``n`` numbers them from 1 for citations)::

    [{"n": 1, "id": "docs/a.md#c3", "doc_id": "docs/a.md", "score": 0.031,
      "text": "...", "source": "docs/a.md", "title": "...", "metadata": {...}}, ...]
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plait.errors import Problem, UsageError
from plait.graph.context import RunContext
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Port, Ports
from plait.graph.spec import NodeSpec
from plait.nodes.knowledge import Knowledge
from plait.rag.filters import parse_filter
from plait.rag.retrieval import Retriever
from plait.rag.types import Hit
from plait.types import JsonValue, PortType

__all__ = ["RetrieveKind", "RetrieveParams", "hit_to_json"]


class RetrieveParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    collection: str = Field(description="the collection to search")
    tenant: str | None = Field(None, description="the tenant (default: the engine's)")
    namespace: str = Field("default", description="the collection's namespace")
    mode: Literal["vector", "keyword", "hybrid"] = Field(
        "hybrid", description="vector, keyword (BM25) or hybrid (both, fused)")
    top_k: int = Field(5, ge=1, le=1000, description="how many hits to return")
    fusion: Literal["rrf", "weighted"] = Field(
        "rrf", description="hybrid fusion: reciprocal rank fusion or weighted scores")
    alpha: float = Field(0.5, ge=0, le=1, description="weighted fusion: the vector weight")
    mmr: bool = Field(False, description="diversify the hits with maximal marginal relevance")
    where: dict[str, JsonValue] | None = Field(
        None, description='a metadata filter, e.g. {"source": {"$in": ["a.md", "b.md"]}}')

    @field_validator("where")
    @classmethod
    def _filter(cls, value: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if value is not None:
            parse_filter(value, where="where")  # raises a UsageError naming the problem
        return value


def hit_to_json(hit: Hit, n: int) -> dict[str, JsonValue]:
    meta: dict[str, JsonValue] = dict(hit.metadata)
    return {"n": n, "id": hit.id, "doc_id": hit.doc_id, "score": round(float(hit.score), 6),
            "text": hit.text, "source": meta.get("source"), "title": meta.get("title"),
            "metadata": meta}


class _Retrieve(BoundNode):
    def __init__(self, params: RetrieveParams, knowledge: Knowledge) -> None:
        self.params = params
        self.knowledge = knowledge
        self._retriever: Retriever | None = None

    def retriever(self) -> Retriever:
        if self._retriever is None:
            p = self.params
            k = self.knowledge
            self._retriever = Retriever(
                k.store(), None if p.mode == "keyword" else k.embedder(),
                k.ref(p.collection, tenant=p.tenant, namespace=p.namespace), mode=p.mode,
                top_k=p.top_k, fusion=p.fusion, alpha=p.alpha, mmr=p.mmr,
                where=None if p.where is None else parse_filter(p.where))
        return self._retriever

    async def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        query = inputs.get("query")
        if not isinstance(query, str) or not query.strip():
            raise UsageError(f"retrieve needs a non-empty string 'query', got {query!r}")
        retriever = self.retriever()
        if await retriever.store.get_collection(retriever.ref) is None:
            raise UsageError(f"no collection {self.params.collection!r} for tenant "
                             f"{retriever.ref.tenant!r}: ingest documents into it first")
        hits = await retriever.retrieve(query)
        return [hit_to_json(hit, n) for n, hit in enumerate(hits, start=1)]


class RetrieveKind(NodeKind[RetrieveParams]):
    name: ClassVar[str] = "retrieve"
    Params = RetrieveParams
    description: ClassVar[str] = ("Search a collection (vector, BM25 or hybrid) and return the "
                                  "best chunks, numbered for citations.")
    primary_input: ClassVar[str | None] = "query"

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    def ports(self, params: RetrieveParams) -> Ports:
        return Ports(inputs={"query": Port(PortType.STRING, description="the search query")},
                     output=PortType.LIST)

    def check(self, node: NodeSpec, params: RetrieveParams, env: BindEnv,
              location: str) -> list[Problem]:
        if not params.collection.strip():
            return [Problem("invalid_param", "collection must not be empty",
                            f"{location}.collection")]
        return []

    def bind(self, node: NodeSpec, params: RetrieveParams, env: BindEnv) -> BoundNode:
        return _Retrieve(params, self.knowledge)
