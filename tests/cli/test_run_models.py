"""``plait run`` with models: --model overrides the workflow's default model, --record and
--replay go through a cassette, and agents get the built-in tools (mock server only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plait.testing import MockLLMServer, Reply, ToolCall
from tests.cli.conftest import Write
from tests.cli.envs import clean_env, mock_openai_env, plait

ASK = """
plait: "1"
name: ask
inputs:
  question: {type: string}
nodes:
  - {id: answer, kind: llm, params: {prompt: "Answer: {{ value }}"}}
  - {id: pinned, kind: llm, params: {model: "openai:pinned", prompt: "Again: {{ value }}"}}
  - {id: out, kind: output}
  - {id: again, kind: output}
edges:
  - {from: $input.question, to: answer}
  - {from: $input.question, to: pinned}
  - {from: answer, to: out}
  - {from: pinned, to: again}
settings: {model: "local:smollm2-135m-instruct"}
"""

TOOLS = """
plait: "1"
name: tools
nodes:
  - {id: helper, kind: agent, params: {prompt: "List the files", tools: [calculator, file_list]}}
  - {id: out, kind: output}
edges:
  - {from: helper, to: out}
"""


def _outputs(result_stdout: str) -> dict[str, object]:
    data = json.loads(result_stdout)
    assert data["status"] == "completed", data
    outputs: dict[str, object] = data["outputs"]
    return outputs


def test_model_overrides_the_default_but_not_a_pinned_model(tmp_path: Path,
                                                            write: Write) -> None:
    path = write("ask.yaml", ASK)
    with MockLLMServer(lambda request: f"{request.model} says 42") as server:
        env = mock_openai_env(tmp_path / "home", server.url)
        result = plait("run", str(path), "-i", "question=why?", "--json",
                       "--model", "openai:mock", env=env)
        assert result.exit_code == 0, result.output
        models = sorted(r.model for r in server.requests)
    assert _outputs(result.stdout) == {"out": "mock says 42", "again": "pinned says 42"}
    assert models == ["mock", "pinned"]


@pytest.mark.parametrize(("model", "message"), [
    ("mock", "provider:model"), ("nope:mock", "unknown model provider 'nope'")])
def test_a_bad_model_is_a_usage_error(tmp_path: Path, write: Write, model: str,
                                      message: str) -> None:
    path = write("ask.yaml", ASK)
    result = plait("run", str(path), "-i", "question=x", "--model", model,
                   env=clean_env(tmp_path))
    assert result.exit_code == 2
    assert message in result.stderr


def test_record_then_replay_without_keys_or_server(tmp_path: Path, write: Write) -> None:
    path = write("ask.yaml", ASK)
    cassette = tmp_path / "calls.jsonl"
    with MockLLMServer(lambda request: f"recorded {request.model}") as server:
        env = mock_openai_env(tmp_path / "home", server.url)
        recorded = plait("run", str(path), "-i", "question=why?", "--json", "-m", "openai:mock",
                         "--record", str(cassette), env=env)
        assert recorded.exit_code == 0, recorded.output
        assert len(server.requests) == 2
    assert len(cassette.read_text().splitlines()) == 2
    # the server is gone and no key is set: the answers come from the cassette
    replayed = plait("run", str(path), "-i", "question=why?", "--json", "-m", "openai:mock",
                     "--replay", str(cassette), env=clean_env(tmp_path / "home"))
    assert replayed.exit_code == 0, replayed.output
    assert _outputs(replayed.stdout) == _outputs(recorded.stdout) == {
        "out": "recorded mock", "again": "recorded pinned"}
    other = plait("run", str(path), "-i", "question=how?", "--json", "-m", "openai:mock",
                  "--replay", str(cassette), env=clean_env(tmp_path / "home"))
    assert other.exit_code == 1
    assert "no recording of this request" in json.loads(other.stdout)["error"]


def test_record_and_replay_together_or_a_missing_cassette(tmp_path: Path,
                                                          write: Write) -> None:
    path = write("ask.yaml", ASK)
    both = plait("run", str(path), "-i", "question=x", "--record", "a", "--replay", "b",
                 env=clean_env(tmp_path))
    assert both.exit_code == 2
    assert "not both" in both.stderr
    missing = plait("run", str(path), "-i", "question=x", "--replay",
                    str(tmp_path / "none.jsonl"), env=clean_env(tmp_path))
    assert missing.exit_code == 2
    assert "no cassette to replay" in missing.stderr


def test_agents_get_the_built_in_tools(tmp_path: Path, write: Write) -> None:
    path = write("tools.yaml", TOOLS)
    result = plait("validate", str(path), env=clean_env(tmp_path))
    assert result.exit_code == 0, result.output
    graph = plait("graph", str(path), env=clean_env(tmp_path))
    assert graph.exit_code == 0, graph.output


def test_inside_a_project_file_tools_work_in_its_sandbox(tmp_path: Path, write: Write) -> None:
    write("proj/plait.toml", '[project]\nname = "proj"\n')
    path = write("proj/workflows/tools.yaml", TOOLS)
    write("proj/sandbox/notes.txt", "hello")
    script = [Reply.calling(ToolCall("file_list", {"path": "."})), "there is notes.txt"]
    with MockLLMServer(script) as server:
        env = mock_openai_env(tmp_path / "home", server.url)
        result = plait("run", str(path), "--json", "-m", "openai:mock", env=env)
        assert result.exit_code == 0, result.output
        [listing] = server.requests[1].tool_results
    assert "notes.txt" in listing.text
    assert _outputs(result.stdout) == {"out": "there is notes.txt"}
