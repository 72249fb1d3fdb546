"""``plait chat``: streamed multi-turn chat with a model (through the mock server), chat
with a workflow, and the ways a chat ends. Lines come from stdin (not a terminal)."""

from __future__ import annotations

from pathlib import Path

from plait.testing import MockLLMServer
from tests.cli.conftest import Write
from tests.cli.envs import clean_env, mock_openai_env, plait

ECHO = """
plait: "1"
name: echo
inputs:
  count: {type: integer, default: 1}
  message: {type: string}
nodes:
  - {id: shout, kind: transform, params: {template: "{{ input.message | upper }}!"}}
  - {id: reply, kind: output}
edges:
  - {from: shout, to: reply}
"""

REMEMBER = """
plait: "1"
name: remember
inputs:
  message: {type: string}
  history: {type: list, default: []}
nodes:
  - id: said
    kind: transform
    params: {template: "{{ input.history | length }} before: {{ input.message }}"}
  - {id: reply, kind: output}
edges:
  - {from: said, to: reply}
"""


def test_chat_with_a_model_streams_and_remembers(tmp_path: Path) -> None:
    with MockLLMServer(["Hello there, friend", "You said hi"], token_delay=0.001) as server:
        env = mock_openai_env(tmp_path, server.url)
        result = plait("chat", "--model", "openai:mock", "--system", "Be brief.",
                       input="hi\n\nwhat did I say?\n", env=env)
        assert result.exit_code == 0, result.output
        assert result.stdout == "Hello there, friend\nYou said hi\n"
        first, second = server.requests
        assert first.stream
        assert second.stream
    assert [(m.role, m.text) for m in first.messages] == [("system", "Be brief."),
                                                          ("user", "hi")]
    assert [(m.role, m.text) for m in second.messages] == [
        ("system", "Be brief."), ("user", "hi"), ("assistant", "Hello there, friend"),
        ("user", "what did I say?")]


def test_exit_and_reset(tmp_path: Path) -> None:
    with MockLLMServer(["one", "two", "three"]) as server:
        env = mock_openai_env(tmp_path, server.url)
        result = plait("chat", "-m", "openai:mock", input="a\n/reset\nb\n/exit\nnever sent\n",
                       env=env)
        requests = server.requests
    assert result.exit_code == 0
    assert result.stdout == "one\ntwo\n"
    assert "conversation forgotten" in result.stderr
    assert len(requests) == 2
    assert [m.text for m in requests[1].messages] == ["b"]


def test_end_of_input_ends_the_chat(tmp_path: Path) -> None:
    with MockLLMServer(["only"]) as server:
        result = plait("chat", "-m", "openai:mock", input="x",
                       env=mock_openai_env(tmp_path, server.url))
    assert result.exit_code == 0
    assert result.stdout == "only\n"


def test_a_failing_turn_is_reported_and_the_exit_code_is_1(tmp_path: Path) -> None:
    with MockLLMServer(["fine"], api_key="another-key") as server:
        result = plait("chat", "-m", "openai:mock", input="a\nb\n",
                       env=mock_openai_env(tmp_path, server.url))
    assert result.exit_code == 1
    assert result.stderr.count("error[provider_rejected]") == 2
    assert "Traceback" not in result.output


def test_chat_with_a_workflow(tmp_path: Path, write: Write) -> None:
    path = write("echo.yaml", ECHO)
    result = plait("chat", "--workflow", str(path), input="hello\nbye\n",
                   env=clean_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "HELLO!\nBYE!\n"


def test_a_workflow_with_a_history_input_gets_the_conversation(tmp_path: Path,
                                                               write: Write) -> None:
    path = write("remember.yaml", REMEMBER)
    result = plait("chat", "-w", str(path), input="a\nb\nc\n", env=clean_env(tmp_path))
    assert result.stdout == "0 before: a\n2 before: b\n4 before: c\n"


def test_a_workflow_needs_a_string_input_and_defaults_for_the_rest(tmp_path: Path,
                                                                   write: Write) -> None:
    no_text = write("numbers.yaml", ECHO.replace("type: string", "type: number"))
    result = plait("chat", "-w", str(no_text), input="x\n", env=clean_env(tmp_path))
    assert result.exit_code == 2
    assert "no string input" in result.stderr
    needs = write("needs.yaml", ECHO.replace("{type: integer, default: 1}", "{type: integer}"))
    result = plait("chat", "-w", str(needs), input="x\n", env=clean_env(tmp_path))
    assert result.exit_code == 2
    assert "count" in result.stderr
    both = plait("chat", "-w", str(needs), "--system", "x", env=clean_env(tmp_path))
    assert both.exit_code == 2


def test_a_model_that_is_not_configured_fails_before_reading(tmp_path: Path) -> None:
    result = plait("chat", "-m", "anthropic:claude-3-5-haiku-latest", input="hi\n",
                   env=clean_env(tmp_path))
    assert result.exit_code == 2
    assert "ANTHROPIC_API_KEY" in result.stderr
