"""``answer``: a model's answer to a question from retrieved chunks, citing them as numbered
references.

The chunks (the ``retrieve`` node's output) are numbered ``[1]..[n]`` in the prompt and the
model is asked to cite them. The output always lists the sources it was given, each marked
``cited`` when the answer refers to it, so an answer carries its citations even when a small
local model ignores the instruction::

    {"answer": "Resume a run with plait runs resume ID [2].",
     "citations": [{"n": 1, "source": "docs/a.md", "title": "...", "cited": false, ...},
                   {"n": 2, "source": "docs/b.md", "title": "...", "cited": true, ...}],
     "text": "Resume a run with ... [2].\\n\\nSources:\\n[1] docs/a.md ...\\n[2] docs/b.md ..."}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from plait.errors import Problem, UsageError
from plait.graph.context import RunContext
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Port, Ports
from plait.graph.spec import NodeSpec
from plait.llm import Message, ModelRegistry, ModelRequest, PriceTable
from plait.nodes.llm import check_model
from plait.nodes.modelcalls import generate
from plait.types import JsonValue, PortType

__all__ = ["AnswerKind", "AnswerParams", "cited_numbers", "render_sources"]

SYSTEM = ("You answer questions using only the numbered sources given. Cite the sources you "
          "use with their numbers in square brackets, like [1]. If the sources do not contain "
          "the answer, say so.")
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


class AnswerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, description="'provider:model'; default: the workflow's "
                              "settings.model, else the engine's default model")
    system: str = Field(SYSTEM, description="the system message")
    max_context_chars: int = Field(
        3000, ge=100, description="at most this many characters of sources go into the prompt "
        "(each source is cut to an equal share)")
    max_tokens: int | None = Field(256, ge=1, description="the answer's length limit")
    temperature: float | None = Field(0.0, ge=0, le=2)


def cited_numbers(answer: str, count: int) -> set[int]:
    """The source numbers (1..count) an answer cites as ``[n]`` or ``[n, m]``."""
    found: set[int] = set()
    for group in _CITE.findall(answer):
        for part in group.split(","):
            n = int(part)
            if 1 <= n <= count:
                found.add(n)
    return found


def _hits(value: object) -> list[Mapping[str, object]]:
    if not isinstance(value, list) or not all(isinstance(h, Mapping) for h in value):
        raise UsageError("answer needs 'hits': the list a retrieve node returns")
    return value


def _label(hit: Mapping[str, object]) -> str:
    source = str(hit.get("source") or hit.get("doc_id") or hit.get("id") or "?")
    meta = hit.get("metadata")
    extra = []
    if isinstance(meta, Mapping):
        if meta.get("page") is not None:
            extra.append(f"p. {meta['page']}")
        if meta.get("section"):
            extra.append(f"§ {meta['section']}")
    title = hit.get("title")
    head = f"{source} — {title}" if title and str(title) not in source else source
    return f"{head} ({', '.join(extra)})" if extra else head


def render_sources(citations: list[dict[str, JsonValue]]) -> str:
    return "\n".join(f"[{c['n']}] {c['label']}" for c in citations)


class _Answer(BoundNode):
    def __init__(self, params: AnswerParams, models: ModelRegistry, prices: PriceTable) -> None:
        self.params = params
        self.models = models
        self.prices = prices
        if params.model is not None:
            self.breaker_key = f"model:{params.model.partition(':')[0]}"

    def prompt(self, question: str, hits: list[Mapping[str, object]]) -> str:
        share = self.params.max_context_chars // max(len(hits), 1)
        blocks = []
        for n, hit in enumerate(hits, start=1):
            text = " ".join(str(hit.get("text", "")).split())
            if len(text) > share:
                text = text[: max(share - 1, 0)].rstrip() + "…"
            blocks.append(f"[{n}] ({_label(hit)})\n{text}")
        return "Sources:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}\nAnswer:"

    async def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        question = inputs.get("question")
        if not isinstance(question, str) or not question.strip():
            raise UsageError(f"answer needs a non-empty string 'question', got {question!r}")
        hits = _hits(inputs.get("hits"))
        citations: list[dict[str, JsonValue]] = [
            {"n": n, "id": str(hit.get("id", "")), "source": str(hit.get("source") or ""),
             "title": None if hit.get("title") is None else str(hit.get("title")),
             "label": _label(hit), "cited": False}
            for n, hit in enumerate(hits, start=1)]
        if not hits:
            answer = "I found no sources for this question in the collection."
        else:
            model = self.models.get(self.params.model or ctx.settings.model)
            request = ModelRequest(
                messages=(Message.system(self.params.system),
                          Message.user(self.prompt(question, hits))),
                temperature=self.params.temperature, max_tokens=self.params.max_tokens)
            answer = (await generate(model, request, ctx, node_id, self.prices)).text.strip()
        for n in cited_numbers(answer, len(hits)):
            citations[n - 1]["cited"] = True
        text = answer
        if citations:
            text += "\n\nSources:\n" + render_sources(citations)
        return {"answer": answer, "citations": citations, "text": text}


class AnswerKind(NodeKind[AnswerParams]):
    name: ClassVar[str] = "answer"
    Params = AnswerParams
    description: ClassVar[str] = ("Answer a question from retrieved chunks with a model, citing "
                                  "them as numbered references.")
    primary_input: ClassVar[str | None] = "question"

    def __init__(self, models: ModelRegistry, prices: PriceTable) -> None:
        self.models = models
        self.prices = prices

    def ports(self, params: AnswerParams) -> Ports:
        return Ports(inputs={
            "question": Port(PortType.STRING, description="the question"),
            "hits": Port(PortType.LIST, description="the chunks a retrieve node returned")},
            output=PortType.OBJECT)

    def check(self, node: NodeSpec, params: AnswerParams, env: BindEnv,
              location: str) -> list[Problem]:
        return check_model(params.model, self.models, location)

    def bind(self, node: NodeSpec, params: AnswerParams, env: BindEnv) -> BoundNode:
        return _Answer(params, self.models, self.prices)
