"""Shared vocabulary: JSON values, port types, run statuses."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol

from pydantic import JsonValue

__all__ = ["JsonValue", "PortType", "RunResultLike", "RunStatus", "port_accepts"]



class PortType(StrEnum):
    """The type a port carries. ``any`` connects to everything; ``integer`` fits ``number``."""

    ANY = "any"
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    LIST = "list"
    OBJECT = "object"


def port_accepts(target: PortType, source: PortType) -> bool:
    """Whether a value typed ``source`` may flow into a port typed ``target``."""
    if PortType.ANY in (target, source) or target == source:
        return True
    return target is PortType.NUMBER and source is PortType.INTEGER


class RunStatus(StrEnum):
    """Lifecycle of a run. ``waiting``: paused on human-input interrupts, persisted, resumable."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RunResultLike(Protocol):
    @property
    def status(self) -> RunStatus: ...

    @property
    def outputs(self) -> Mapping[str, object]: ...
