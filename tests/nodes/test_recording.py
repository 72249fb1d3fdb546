"""Record a run's model and tool calls, then replay it offline with the same result."""

from __future__ import annotations

import pytest

from plait import Engine, Flow
from plait.errors import UsageError
from plait.llm import ModelRegistry, ToolCallPart
from plait.nodes.recording import Cassette, CassetteModels, cassette_tools
from plait.testing.fake_model import FakeModel
from plait.tools import ToolRegistry

calls: list[str] = []


def lookup(city: str) -> str:
    """Weather of a city."""
    calls.append(city)
    return f"sunny in {city}"


def workflow(engine: Engine):  # type: ignore[no-untyped-def]
    f = Flow("recorded")
    q = f.input("q", type="string")
    f.output("answer", f.node("agent", "agent", inputs=q, model="mock:fake",
                              prompt="{{ value }}", tools=["lookup"]))
    return f.build(engine)


async def test_a_recorded_run_replays_offline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "run.jsonl"
    model = FakeModel([ToolCallPart(id="1", name="lookup", arguments={"city": "Oslo"}),
                       "It is sunny in Oslo."])
    live_models = ModelRegistry()
    live_models.register_model(model)
    tools = ToolRegistry([lookup])
    recorder = Cassette(path, mode="record")
    engine = Engine(models=CassetteModels(live_models, recorder),
                    tools=cassette_tools(tools, recorder))
    live = await engine.run(workflow(engine), {"q": "weather in Oslo?"})
    assert len(model.requests) == 2
    assert calls == ["Oslo"]
    assert len(path.read_text().splitlines()) == 3

    replayer = Cassette(path, mode="replay")
    offline = Engine(models=CassetteModels(ModelRegistry(), replayer),
                     tools=cassette_tools(tools, replayer))
    replayed = await offline.run(workflow(offline), {"q": "weather in Oslo?"})
    assert replayed.outputs == live.outputs == {"answer": "It is sunny in Oslo."}
    assert len(model.requests) == 2  # the model was not asked again
    assert calls == ["Oslo"]  # nor the tool

    different = await offline.run(workflow(offline), {"q": "weather in Rome?"}, check=False)
    assert "no recording" in str(different.error)


def test_replay_needs_an_existing_cassette(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="no cassette"):
        Cassette(tmp_path / "missing.jsonl", mode="replay")
