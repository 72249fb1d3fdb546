"""Record and replay: every model and tool call of a run, keyed by a hash of its request,
kept in a JSON-lines cassette; a replay answers from the cassette with no network at all.

``mode="record"`` calls for real and appends what it saw; ``mode="replay"`` never calls
(a request that was not recorded fails clearly); ``mode="auto"`` replays what it has and
records the rest.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Literal

from plait.errors import ProviderRejected, ToolError, UsageError
from plait.llm import (
    Capabilities,
    Finished,
    Model,
    ModelRegistry,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextDelta,
    capabilities_for,
)
from plait.tools import Tool, ToolRegistry
from plait.types import JsonValue

__all__ = ["Cassette", "CassetteModel", "CassetteModels", "CassetteTool", "cassette_tools"]

Mode = Literal["record", "replay", "auto"]


def request_key(kind: str, name: str, payload: object) -> str:
    text = json.dumps([kind, name, payload], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Cassette:
    """Recorded calls in a JSON-lines file: one ``{"key", "kind", "name", "request",
    "response"}`` object per line. Appends are flushed at once, so a crash loses nothing."""

    def __init__(self, path: str | Path, mode: Mode = "auto") -> None:
        if mode not in ("record", "replay", "auto"):
            raise UsageError(f"cassette mode must be record, replay or auto, not {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self._lock = threading.Lock()
        self._entries: dict[str, JsonValue] = {}
        self.names: set[str] = set()
        """Models and tools the cassette has recordings of."""
        if mode == "replay" and not self.path.is_file():
            raise UsageError(f"no cassette to replay at {self.path}")
        if self.path.is_file():
            for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    self._entries[entry["key"]] = entry["response"]
                    self.names.add(str(entry["name"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise UsageError(f"{self.path}:{number}: not a cassette entry") from None

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: str) -> JsonValue | None:
        return self._entries.get(key) if self.mode != "record" else None

    def store(self, key: str, kind: str, name: str, request: JsonValue,
              response: JsonValue) -> None:
        if self.mode == "replay":
            return
        line = json.dumps({"key": key, "kind": kind, "name": name, "request": request,
                           "response": response}, ensure_ascii=False, sort_keys=True)
        with self._lock:
            self._entries[key] = response
            self.names.add(name)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
                out.flush()


class CassetteModel:
    """A model that answers from the cassette, or asks ``inner`` and records the answer."""

    def __init__(self, name: str, cassette: Cassette, inner: Model | None) -> None:
        self._name = name
        self.cassette = cassette
        self.inner = inner

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities if self.inner is not None else capabilities_for(
            self._name)

    def _key(self, request: ModelRequest) -> tuple[str, JsonValue]:
        payload: JsonValue = request.model_dump(mode="json")
        return request_key("model", self._name, payload), payload

    def _recorded(self, key: str) -> ModelResponse | None:
        found = self.cassette.lookup(key)
        if found is not None:
            return ModelResponse.model_validate(found)
        if self.cassette.mode == "replay" or self.inner is None:
            raise ProviderRejected(f"no recording of this request to {self._name} "
                                   f"(key {key[:12]}) in {self.cassette.path}",
                                   provider="replay")
        return None

    async def complete(self, request: ModelRequest) -> ModelResponse:
        key, payload = self._key(request)
        recorded = self._recorded(key)
        if recorded is not None:
            return recorded
        assert self.inner is not None
        response = await self.inner.complete(request)
        self.cassette.store(key, "model", self._name, payload, response.model_dump(mode="json"))
        return response

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        key, payload = self._key(request)
        recorded = self._recorded(key)
        if recorded is not None:
            if recorded.text:
                yield TextDelta(text=recorded.text)
            yield Finished(response=recorded)
            return
        assert self.inner is not None
        async for event in self.inner.stream(request):
            if isinstance(event, Finished):
                self.cassette.store(key, "model", self._name, payload,
                                    event.response.model_dump(mode="json"))
            yield event


class CassetteModels(ModelRegistry):
    """A model registry whose models go through a cassette. In replay mode no real model
    is ever created, so a replay needs no keys, no network and no local weights."""

    def __init__(self, inner: ModelRegistry, cassette: Cassette) -> None:
        super().__init__(inner.config)
        self.inner = inner
        self.cassette = cassette
        self._wrapped: dict[str, CassetteModel] = {}

    def providers(self) -> list[str]:
        return self.inner.providers()

    def knows(self, text: str) -> bool:
        return text in self.cassette.names or self.inner.knows(text)

    def default_model_string(self) -> str:
        return self.inner.default_model_string()

    def get(self, text: str | None = None) -> Model:
        name = text or self.default_model_string()
        model = self._wrapped.get(name)
        if model is None:
            inner = None if self.cassette.mode == "replay" else self.inner.get(name)
            model = self._wrapped[name] = CassetteModel(name, self.cassette, inner)
        return model


class CassetteTool(Tool):
    """A tool whose calls go through a cassette (results and errors are both recorded)."""

    def __init__(self, inner: Tool, cassette: Cassette) -> None:
        self.inner = inner
        self.cassette = cassette
        self.name = inner.name
        self.description = inner.description
        self.level = inner.level
        self.timeout = inner.timeout

    @property
    def parameters(self) -> dict[str, JsonValue]:
        return self.inner.parameters

    async def call(self, arguments: Mapping[str, object] | str | None = None) -> JsonValue:
        payload: JsonValue = json.loads(arguments) if isinstance(arguments, str) else (
            json.loads(json.dumps(dict(arguments or {}), default=str)))
        key = request_key("tool", self.name, payload)
        found = self.cassette.lookup(key)
        if isinstance(found, dict):
            if "error" in found:
                raise ToolError(self.name, str(found["error"]))
            return found.get("result")
        if self.cassette.mode == "replay":
            raise ToolError(self.name, f"no recording of this call (key {key[:12]}) in "
                            f"{self.cassette.path}")
        try:
            result = await self.inner.call(arguments)
        except Exception as err:
            self.cassette.store(key, "tool", self.name, payload, {"error": str(err)})
            raise
        self.cassette.store(key, "tool", self.name, payload, {"result": result})
        return result


def cassette_tools(tools: ToolRegistry, cassette: Cassette) -> ToolRegistry:
    return ToolRegistry([CassetteTool(t, cassette) for t in tools.list()],
                        max_level=tools.max_level)
