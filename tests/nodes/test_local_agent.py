"""The agent example runs offline on the embedded local model (real llama.cpp), from the
Python API and from the CLI: the model calls the calculator tool and the run completes.
The 135M model's answers are not the point; the whole path running offline is."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from plait import Engine, RunFinished, ToolCalled, load_spec
from plait.cli.main import app
from plait.tools import default_tools

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent.yaml"


async def test_agent_calls_a_tool_on_the_local_model() -> None:
    engine = Engine(tools=default_tools())
    events = [e async for e in engine.stream(load_spec(EXAMPLE))]
    calls = [e for e in events if isinstance(e, ToolCalled)]
    assert calls
    assert {c.tool for c in calls} == {"calculator"}
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.status.value == "completed", finished.error
    assert isinstance(finished.outputs["answer"], str)


def test_agent_example_runs_offline_from_the_cli() -> None:
    result = CliRunner().invoke(app, ["run", str(EXAMPLE), "--json"],
                                env={"PLAIT_MODEL": "", "OPENAI_API_KEY": "",
                                     "ANTHROPIC_API_KEY": "", "GEMINI_API_KEY": ""})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "completed"
    assert data["nodes"]["solve"]["status"] == "completed"
