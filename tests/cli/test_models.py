"""``plait models``: providers and keys (never printed), the default model, capabilities,
and health checks against the mock server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plait.testing import Fault, MockLLMServer
from tests.cli.envs import TEST_KEY, clean_env, mock_openai_env, plait


@pytest.fixture(autouse=True)
def _no_local_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave the embedded model out (its health check loads weights: slow)."""
    monkeypatch.setattr("plait.cli.models._local_installed", lambda: False)


def test_without_keys_the_local_model_is_the_default(tmp_path: Path) -> None:
    result = plait("models", env=clean_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "default model: local:smollm2-135m-instruct" in result.stdout
    assert "OPENAI_API_KEY not set" in result.stdout
    data = json.loads(plait("models", "--json", env=clean_env(tmp_path)).stdout)
    assert data["default_model"] == "local:smollm2-135m-instruct"
    assert not next(p for p in data["providers"] if p["name"] == "openai")["configured"]
    [row] = data["models"]
    assert row["capabilities"]["tool_calling"] is True  # via constrained decoding


def test_keys_are_reported_but_never_printed(tmp_path: Path) -> None:
    env = clean_env(tmp_path, OPENAI_API_KEY=TEST_KEY, ANTHROPIC_API_KEY=TEST_KEY + "-2",
                    GEMINI_BASE_URL="https://user:hunter2@gemini.example/v1",
                    PLAIT_MODEL="anthropic:claude-3-5-haiku-latest")
    for args in (["models"], ["models", "--json"]):
        result = plait(*args, env=env)
        assert result.exit_code == 0, result.output
        assert TEST_KEY not in result.output
        assert "hunter2" not in result.output
    text = plait("models", env=env).stdout
    assert "OPENAI_API_KEY set" in text
    assert "default model: anthropic:claude-3-5-haiku-latest (PLAIT_MODEL)" in text
    assert "openai:gpt-4o-mini" in text
    data = json.loads(plait("models", "--json", env=env).stdout)
    names = [m["model"] for m in data["models"]]
    assert names[:2] == ["anthropic:claude-3-5-haiku-latest", "openai:gpt-4o-mini"]
    assert [n.partition(":")[0] for n in names[2:]] == ["anthropic"]  # its usual model
    assert data["models"][1]["capabilities"]["tool_calling"] is True


def test_check_against_the_mock_server(tmp_path: Path) -> None:
    with MockLLMServer(["ok"]) as server:
        env = mock_openai_env(tmp_path, server.url)
        result = plait("models", "--check", "--json", env=env)
        assert result.exit_code == 0, result.output
        [request] = server.requests
    assert request.max_tokens == 1
    [row] = json.loads(result.stdout)["models"]
    assert row["model"] == "openai:gpt-4o-mini"
    assert row["check"]["ok"] is True
    assert row["check"]["latency"] >= 0
    assert TEST_KEY not in result.output
    with MockLLMServer(["ok"]) as server:
        text = plait("models", "--check", env=mock_openai_env(tmp_path, server.url)).stdout
    assert "ok " in text
    assert " ms" in text


def test_a_failed_check_is_shown_and_exits_1(tmp_path: Path) -> None:
    with MockLLMServer(faults=[Fault.error(401)]) as server:
        env = mock_openai_env(tmp_path, server.url)
        result = plait("models", "--check", "--model", "ollama:nothing-here", "--timeout", "2",
                       env={**env, "OLLAMA_HOST": server.url})
    assert result.exit_code == 1
    assert "failed [provider_rejected]" in result.stdout
    assert "Traceback" not in result.output


def test_an_extra_model_must_name_a_known_provider(tmp_path: Path) -> None:
    result = plait("models", "--model", "nope:x", env=clean_env(tmp_path))
    assert result.exit_code == 2
    assert "unknown model provider 'nope'" in result.stderr
