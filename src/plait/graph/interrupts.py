"""Interrupts: a node asks a person (or any outside party) for a value by *returning* one.

A node returns an :class:`Interrupt` (or a list of them) instead of its output. The node
becomes ``waiting``; the rest of the graph runs on where it does not depend on it; when
nothing else can run, the run ends with status ``waiting`` and lists the interrupts. Answers
are given by interrupt id on resume. An interrupt's id is stable per call site: it is derived
from the run id, the node id and the interrupt's ``key`` (or its index in the node's list), so
a node asked again on resume produces the same ids, and parallel interrupts never collide.

Interrupts are values, not exceptions: user code cannot swallow them by accident.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Final, TypeAlias

__all__ = [
    "NO_DEFAULT",
    "AnswerValidator",
    "Interrupt",
    "PendingInterrupt",
    "as_interrupts",
    "forward",
    "interrupt_id",
]


class _NoDefault:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_DEFAULT"

    def __bool__(self) -> bool:
        return False


NO_DEFAULT: Final = _NoDefault()
"""An interrupt without a default: when its timeout passes, its node fails."""


@dataclass(frozen=True, slots=True)
class Interrupt:
    """Return this from a node to pause it until someone answers ``prompt``.

    * ``key`` names the interrupt within its node (default: its index in the returned list);
      the id is derived from the run id, the node id and the key, so keep keys stable.
    * ``schema``: a JSON schema the answer must match (checked when the answer is given).
    * ``default`` and ``timeout`` (seconds): when the run is resumed after ``timeout`` has
      passed with no answer, the answer is ``default`` (no default: the node fails with
      ``interrupt_timeout``).
    """

    prompt: str
    _: KW_ONLY
    key: str | None = None
    schema: Mapping[str, object] | None = None
    default: object = NO_DEFAULT
    timeout: float | None = None
    id: str | None = None
    """Set by the engine only for interrupts that come from a child workflow (their id is the
    child node's); leave it unset."""


@dataclass(frozen=True, slots=True)
class PendingInterrupt:
    """An interrupt a run is waiting on, as stored in its node's ``waiting`` checkpoint."""

    id: str
    node_id: str
    key: str
    prompt: str
    schema: Mapping[str, object] | None = None
    default: object = NO_DEFAULT
    timeout: float | None = None
    created_at: float = 0.0
    path: tuple[str, ...] = ()
    """The child workflow path of the asking node (empty at the top level)."""

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    @property
    def deadline(self) -> float | None:
        """When (POSIX time) the interrupt times out, if it has a timeout."""
        return None if self.timeout is None else self.created_at + self.timeout

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"id": self.id, "node_id": self.node_id, "key": self.key,
                                   "prompt": self.prompt, "schema": self.schema,
                                   "timeout": self.timeout, "created_at": self.created_at,
                                   "path": list(self.path)}
        if self.has_default:
            data["default"] = self.default
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> PendingInterrupt:
        schema = data.get("schema")
        timeout = data.get("timeout")
        created = data.get("created_at")
        path = data.get("path")
        return cls(id=str(data["id"]), node_id=str(data.get("node_id", "")),
                   key=str(data.get("key", "")), prompt=str(data.get("prompt", "")),
                   schema=schema if isinstance(schema, Mapping) else None,
                   default=data.get("default", NO_DEFAULT),
                   timeout=float(timeout) if isinstance(timeout, int | float) else None,
                   created_at=float(created) if isinstance(created, int | float) else 0.0,
                   path=tuple(str(p) for p in path) if isinstance(path, list) else ())


AnswerValidator: TypeAlias = Callable[[Mapping[str, object], object], list[str]]
"""Checks an answer against an interrupt's JSON schema; returns the problems (empty: valid).
``plait.Engine`` uses ``jsonschema``; the bare graph engine validates nothing."""


def interrupt_id(run_id: str, node_id: str, key: str) -> str:
    """The stable id of interrupt ``key`` of node ``node_id`` in run ``run_id``."""
    text = f"{run_id}\x00{node_id}\x00{key}".encode()
    return hashlib.blake2b(text, digest_size=8).hexdigest()


def as_interrupts(value: object) -> list[Interrupt] | None:
    """The interrupts a node returned (one or a non-empty list of them), else None. A list
    mixing interrupts and other values is a usage error."""
    if type(value) is Interrupt:
        return [value]
    if type(value) is list and value and type(value[0]) is Interrupt:
        if not all(type(item) is Interrupt for item in value):
            raise TypeError("a node returned a list mixing Interrupts and other values; "
                            "return only Interrupts (or none)")
        return list(value)
    return None


def forward(pending: Iterable[PendingInterrupt]) -> list[Interrupt]:
    """A child workflow's pending interrupts, for its container node to return: they keep
    their ids, so answering them resumes the child's nodes."""
    return [Interrupt(p.prompt, key=p.key, schema=p.schema, default=p.default,
                      timeout=p.timeout, id=p.id) for p in pending]
