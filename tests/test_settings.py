from __future__ import annotations

from pathlib import Path

from plait.llm import LOCAL_DEFAULT, ModelRegistry
from plait.settings import Settings


def test_no_keys_means_the_local_model() -> None:
    settings = Settings.from_env({"HOME": "/tmp"})
    assert ModelRegistry(settings.provider_config()).default_model_string() == LOCAL_DEFAULT


def test_keys_choose_a_hosted_default_and_plait_model_overrides() -> None:
    env = {"OPENAI_API_KEY": "sk-test", "PLAIT_HOME": "/data", "OLLAMA_HOST": "box:11434"}
    settings = Settings.from_env(env)
    assert settings.home == Path("/data")
    assert settings.ollama_host == "http://box:11434"
    assert "sk-test" not in repr(settings)
    assert ModelRegistry(settings.provider_config()).default_model_string().startswith("openai:")
    pinned = Settings.from_env({**env, "PLAIT_MODEL": "anthropic:claude-3-5-haiku-latest"})
    assert pinned.provider_config().default_model == "anthropic:claude-3-5-haiku-latest"
    assert pinned.provider_config(model="ollama:llama3").default_model == "ollama:llama3"
