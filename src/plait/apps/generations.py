"""Where generated workflows are kept: a cache of accepted generations, the rejected
proposals of each request that did not converge, and an analytics log, all under one
folder (the CLI uses ``Settings.home / "generations"``)::

    generations/
      cache/<key>.json       an accepted generation (its spec, confidence, rationale, ...)
      rejected/<key>.json    the proposals of a request that did not converge
      analytics.jsonl        one line per generation: when, which model, how it went

The cache key is a hash of the objective (whitespace-normalised), the model and the allowed
kinds, so asking the same thing of the same model returns at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from plait.graph.spec import WorkflowSpec

__all__ = [
    "AnalyticsEntry",
    "CachedGeneration",
    "GenerationStats",
    "GenerationStore",
    "ModelStats",
    "objective_hash",
]


def _normalise(objective: str) -> str:
    return " ".join(objective.split())


def objective_hash(objective: str) -> str:
    """A short stable hash of an objective (the analytics log keeps no objective text)."""
    return hashlib.sha256(_normalise(objective).encode()).hexdigest()[:16]


class CachedGeneration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    objective: str
    model: str
    allowed_kinds: list[str]
    spec: WorkflowSpec
    confidence: float
    rationale: str = ""
    iterations: int
    tokens: int = 0
    created: str


class AnalyticsEntry(BaseModel):
    """One generation: ``valid`` is whether it produced an accepted workflow."""

    model_config = ConfigDict(extra="ignore")

    timestamp: str
    objective_hash: str
    model: str
    iterations: int
    valid: bool
    confidence: float | None = None
    tokens: int = 0
    duration: float
    cached: bool = False
    error: str | None = None
    """The error code when it did not produce a workflow."""


@dataclass(frozen=True, slots=True)
class ModelStats:
    model: str
    generations: int
    valid: int
    cached: int
    mean_iterations: float
    """Over generations that asked the model (cache hits excluded)."""
    mean_duration: float
    """Seconds, over generations that asked the model."""
    tokens: int


@dataclass(frozen=True, slots=True)
class GenerationStats:
    total: ModelStats
    models: tuple[ModelStats, ...]
    skipped_lines: int = 0
    """Analytics lines that could not be read."""


def _summary(model: str, entries: Sequence[AnalyticsEntry]) -> ModelStats:
    asked = [e for e in entries if not e.cached]
    return ModelStats(
        model=model, generations=len(entries), valid=sum(e.valid for e in entries),
        cached=len(entries) - len(asked),
        mean_iterations=sum(e.iterations for e in asked) / len(asked) if asked else 0.0,
        mean_duration=sum(e.duration for e in asked) / len(asked) if asked else 0.0,
        tokens=sum(e.tokens for e in entries))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class GenerationStore:
    """The cache, the rejected proposals and the analytics log under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def analytics_file(self) -> Path:
        return self.root / "analytics.jsonl"

    @staticmethod
    def key(objective: str, model: str, allowed_kinds: Iterable[str]) -> str:
        text = json.dumps([_normalise(objective), model, sorted(set(allowed_kinds))],
                          ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def _write(self, path: Path, text: str) -> None:
        """Write atomically, so a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def cached(self, key: str) -> CachedGeneration | None:
        """The accepted generation for ``key``; an unreadable entry counts as none."""
        path = self.root / "cache" / f"{key}.json"
        try:
            return CachedGeneration.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            return None

    def save(self, key: str, generation: CachedGeneration) -> Path:
        path = self.root / "cache" / f"{key}.json"
        self._write(path, generation.model_dump_json(indent=2))
        return path

    def save_rejected(self, key: str, data: dict[str, Any]) -> Path:
        path = self.root / "rejected" / f"{key}.json"
        self._write(path, json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return path

    def record(self, entry: AnalyticsEntry) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.analytics_file.open("a", encoding="utf-8") as out:
            out.write(entry.model_dump_json() + "\n")

    def entries(self) -> tuple[list[AnalyticsEntry], int]:
        """The analytics log's entries, and how many lines could not be read."""
        try:
            lines = self.analytics_file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return [], 0
        entries, skipped = [], 0
        for line in lines:
            if not line.strip():
                continue
            try:
                entries.append(AnalyticsEntry.model_validate_json(line))
            except ValidationError:
                skipped += 1
        return entries, skipped

    def stats(self) -> GenerationStats:
        entries, skipped = self.entries()
        by_model: dict[str, list[AnalyticsEntry]] = {}
        for entry in entries:
            by_model.setdefault(entry.model, []).append(entry)
        return GenerationStats(
            total=_summary("all", entries),
            models=tuple(_summary(m, by_model[m]) for m in sorted(by_model)),
            skipped_lines=skipped)
