"""How the CLI puts an engine together: models from the settings (keys, ``PLAIT_MODEL`` or
``--model``), the built-in tools in a sandbox, and optionally a cassette that records or
replays every model and tool call.

Sandbox: inside a project (a ``plait.toml`` above the workflow), file tools work in the
project's ``sandbox/`` folder; elsewhere in a temporary folder removed when the command
ends. HTTP tools are off (their allowlist is empty).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from plait.cli.config import Project
from plait.errors import UsageError
from plait.graph.spec import Profile, WorkflowSpec
from plait.llm import ModelRegistry, parse_model_string
from plait.nodes.defaults import Engine
from plait.nodes.knowledge import Knowledge
from plait.nodes.recording import Cassette, CassetteModels, cassette_tools
from plait.settings import Settings
from plait.tools import ToolRegistry
from plait.tools.defaults import default_tools

__all__ = [
    "SANDBOX_DIR",
    "EngineParts",
    "check_model_name",
    "engine",
    "knowledge",
    "model_registry",
    "settings",
    "with_model",
]

SANDBOX_DIR = "sandbox"


def settings() -> Settings:
    """The environment's settings (the one place the CLI reads them)."""
    return Settings.from_env()


def check_model_name(name: str, registry: ModelRegistry) -> str:
    """``name`` if it is a ``provider:model`` of a known provider, else a UsageError."""
    provider, _ = parse_model_string(name)
    if not registry.knows(name):
        raise UsageError(f"unknown model provider {provider!r} in {name!r}; known: "
                         f"{', '.join(registry.providers())}")
    return name


def model_registry(config: Settings, *, model: str | None = None) -> ModelRegistry:
    """The models of ``config``; ``model`` (checked) becomes the default."""
    registry = ModelRegistry(config.provider_config(model=model))
    if model is not None:
        check_model_name(model, registry)
    return registry


def with_model(spec: WorkflowSpec, model: str) -> WorkflowSpec:
    """``spec`` whose default model is ``model`` (nodes that name their own keep it)."""
    return spec.model_copy(update={"settings": spec.settings.model_copy(
        update={"model": model})})


def _tools(stack: ExitStack, project: Project | None, *, sandbox: bool) -> ToolRegistry:
    if not sandbox:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="plait-check-")))
    elif project is not None:
        root = project.root / SANDBOX_DIR
        root.mkdir(exist_ok=True)
    else:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="plait-sandbox-")))
    return default_tools(sandbox=root)


def _embedder_options(config: Settings) -> dict[str, object]:
    """The provider key/endpoint the settings' embedder needs (never printed)."""
    provider = config.embedder.partition(":")[0]
    p = config.providers
    if provider == "openai":
        return {"api_key": p.openai_api_key, "base_url": p.openai_base_url}
    if provider == "ollama":
        return {"base_url": p.ollama_base_url}
    if provider == "gemini":
        return {"api_key": p.gemini_api_key, "base_url": p.gemini_base_url}
    if provider == "tei":
        return {"api_key": p.hf_token, "base_url": p.hf_base_url}
    return {}


def knowledge(config: Settings) -> Knowledge:
    """The RAG kinds' store and embedder from the settings, opened on first use: the vector
    store at ``PLAIT_RAG_STORE`` (default the embedded store under ``PLAIT_HOME``) and the
    ``PLAIT_EMBEDDER`` model with a persistent cache."""
    from plait.rag.embeddings import embedder_from_id
    from plait.rag.stores import open_store

    options = {k: v for k, v in _embedder_options(config).items() if v is not None}
    return Knowledge(
        store=lambda: open_store(config.vector_store),
        embedder=lambda: embedder_from_id(config.embedder, cache=config.embedding_cache,
                                          **options))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineParts:
    """What an engine is built from (each has a sensible default)."""

    model: str | None = None
    """Default ``provider:model`` (``--model``); else ``PLAIT_MODEL``, a key, or local."""
    profile: Profile | None = None
    max_concurrency: int | None = None
    project: Project | None = None
    cassette: Cassette | None = None
    calls: Cassette | None = None
    """A stored run's own recording of its calls (outside ``cassette``: it records what
    a ``--replay`` cassette answered too)."""
    sandbox: bool = True
    """Give file tools a real sandbox (``False``: a throwaway one, enough to validate)."""


@contextmanager
def engine(parts: EngineParts | None = None, *, config: Settings | None = None
           ) -> Iterator[Engine]:
    """An engine with the settings' models and the built-in tools; its temporary sandbox
    (if any) is removed when the block ends."""
    parts = parts or EngineParts()
    config = config or settings()
    models = model_registry(config, model=parts.model)
    with ExitStack() as stack:
        tools = _tools(stack, parts.project, sandbox=parts.sandbox)
        if parts.cassette is not None:
            models = CassetteModels(models, parts.cassette)
            tools = cassette_tools(tools, parts.cassette)
        if parts.calls is not None:
            models = CassetteModels(models, parts.calls)
            tools = cassette_tools(tools, parts.calls)
        yield Engine(models=models, tools=tools, max_concurrency=parts.max_concurrency,
                     profile=parts.profile or Profile.HIGH_THROUGHPUT,
                     knowledge=knowledge(config))
