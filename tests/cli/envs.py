"""Environments for CLI tests that involve models: no real keys leak in from the machine,
PLAIT_HOME is a temporary folder, and hosted providers can point at a MockLLMServer."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from plait.cli.main import app

PROVIDER_VARIABLES = (
    "PLAIT_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL", "HF_TOKEN", "HF_BASE_URL",
    "OLLAMA_HOST",
)
TEST_KEY = "sk-test-0123456789-do-not-print"


def clean_env(home: Path, **values: str) -> dict[str, str | None]:
    """No provider settings but ``values``; plait's data under ``home``."""
    env: dict[str, str | None] = dict.fromkeys(PROVIDER_VARIABLES)
    env.update(PLAIT_HOME=str(home), COLUMNS="200", NO_COLOR="1")
    env.update(values)
    return env


def mock_openai_env(home: Path, url: str, **values: str) -> dict[str, str | None]:
    """OpenAI pointed at a MockLLMServer at ``url``."""
    return clean_env(home, OPENAI_API_KEY=TEST_KEY, OPENAI_BASE_URL=f"{url}/v1", **values)


def plait(*args: str, env: dict[str, str | None], input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=input)
