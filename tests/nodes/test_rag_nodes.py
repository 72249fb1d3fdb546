"""The ingest, retrieve and answer kinds, wired through an engine: fake model, hash embedder,
in-memory store (the real components are exercised by the CLI and demo tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait import Engine
from plait.errors import SpecError
from plait.llm import ModelRegistry
from plait.nodes import Knowledge
from plait.nodes.answer import cited_numbers
from plait.nodes.defaults import Flow
from plait.rag.embeddings import HashEmbedder
from plait.rag.stores.memory import MemoryVectorStore
from plait.testing.fake_model import FakeModel


def make_engine(model: FakeModel) -> Engine:
    models = ModelRegistry()
    models.register_model(model)
    return Engine(models=models,
                  knowledge=Knowledge(store=MemoryVectorStore(), embedder=HashEmbedder(64)))


def rag_flow() -> Flow:
    f = Flow("rag")
    source = f.input("source")
    question = f.input("question", type="string")
    ingested = f.node("ingest", "ingest", inputs={"source": source}, collection="notes",
                      chunking={"strategy": "markdown", "size": 300, "overlap": 0})
    hits = f.node("retrieve", "retrieve", inputs={"query": question}, after=[ingested],
                  collection="notes", top_k=2, mode="keyword")
    answer = f.node("answer", "answer", inputs={"question": question, "hits": hits},
                    model="mock:fake")
    f.output("answer", answer, node_id="answer_out")
    f.output("report", ingested, node_id="report_out")
    return f


async def test_ingest_retrieve_answer_cites_numbered_sources(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Checkpoints\n\nA run resumes from its last checkpoint.\n")
    (tmp_path / "b.md").write_text("# Tools\n\nAgents call tools in a sandbox.\n")
    model = FakeModel(["It resumes from the last checkpoint [1]."])
    engine = make_engine(model)
    result = await engine.run(rag_flow().build(engine),
                              {"source": str(tmp_path), "question": "how does a run resume?"})
    assert result.ok, result.error
    report = result.outputs["report"]
    assert report["added"] == 2
    assert report["failed"] == 0
    answer = result.outputs["answer"]
    assert answer["answer"] == "It resumes from the last checkpoint [1]."
    first = answer["citations"][0]
    assert first["cited"] is True
    assert first["source"].endswith("a.md")
    assert "Sources:\n[1] " in answer["text"]
    prompt = model.requests[0].messages[1].text
    assert "[1] (" in prompt
    assert "A run resumes from its last checkpoint." in prompt


async def test_second_ingest_is_incremental(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\nalpha text\n")
    engine = make_engine(FakeModel(["ok"]))
    flow = rag_flow().build(engine)
    inputs = {"source": str(tmp_path), "question": "alpha?"}
    first = await engine.run(flow, inputs)
    second = await engine.run(flow, inputs)
    assert first.outputs["report"]["added"] == 1
    assert second.outputs["report"]["unchanged"] == 1
    assert second.outputs["report"]["added"] == 0


async def test_documents_as_input_and_answer_without_sources() -> None:
    model = FakeModel(["unused"])
    engine = make_engine(model)
    result = await engine.run(rag_flow().build(engine), {
        "source": [{"id": "n1", "text": "plait runs graphs", "metadata": {"lang": "en"}}],
        "question": "zebra quantum?"})
    assert result.ok
    answer = result.outputs["answer"]
    assert answer["citations"] == []
    assert "no sources" in answer["answer"]
    assert model.requests == []


def test_bad_params_are_reported_at_validation() -> None:
    f = Flow("bad")
    q = f.input("q", type="string")
    f.node("r", "retrieve", inputs={"query": q}, collection="c", where={"page": {"$gt": [1]}})
    f.node("i", "ingest", inputs={"source": q}, collection="c",
           chunking={"strategy": "fixed", "size": 10, "overlap": 20})
    with pytest.raises(SpecError) as info:
        f.build()
    text = str(info.value)
    assert "where.page.$gt" in text
    assert "overlap" in text


async def test_retrieve_from_a_missing_collection_fails_clearly() -> None:
    f = Flow("missing")
    q = f.input("q", type="string")
    f.output("hits", f.node("r", "retrieve", inputs={"query": q}, collection="nope",
                            mode="keyword"))
    engine = make_engine(FakeModel(["x"]))
    result = await engine.run(f.build(engine), {"q": "anything"}, check=False)
    assert not result.ok
    assert "no collection 'nope'" in str(result.error)


def test_cited_numbers() -> None:
    assert cited_numbers("a [1] b [2, 3] c [9] [x]", 3) == {1, 2, 3}
