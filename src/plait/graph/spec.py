"""The workflow spec: versioned plain JSON, produced identically by the builder, files and canvas.

The models here check *shape* only (field types, required fields). Cross-references, kinds,
ports, cycles and expressions are checked by :mod:`plait.graph.validate`, which reports every
problem at once with its location.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plait.types import JsonValue, PortType

__all__ = [
    "INPUT_SOURCE",
    "SPEC_VERSION",
    "EdgeKind",
    "EdgeSpec",
    "InputSpec",
    "JoinPolicy",
    "NodeSpec",
    "Profile",
    "RetrySpec",
    "RunSettings",
    "WorkflowSpec",
]

SPEC_VERSION = "1"
INPUT_SOURCE = "$input"
"""The pseudo node id whose ports are the workflow's inputs."""
DEFAULT_OUTPUT_PORT = "output"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EdgeKind(StrEnum):
    DATA = "data"
    CONTROL = "control"
    CONDITIONAL = "conditional"


class JoinPolicy(StrEnum):
    ALL = "all"
    """Run only if every input delivered a value; a skipped input skips the node."""
    ANY = "any"
    """Run if at least one input delivered; skip only when every input was skipped."""


class Profile(StrEnum):
    HIGH_THROUGHPUT = "high_throughput"
    LOW_LATENCY = "low_latency"
    MEMORY_OPTIMIZED = "memory_optimized"


class RetrySpec(_Model):
    """Exponential backoff: delay = min(initial * multiplier**(attempt-1), max) + jitter."""

    max_attempts: int = Field(3, ge=1, le=100)
    initial_delay: float = Field(0.1, ge=0)
    multiplier: float = Field(2.0, ge=1)
    max_delay: float = Field(10.0, ge=0)
    jitter: float = Field(0.1, ge=0, le=1, description="fraction of the delay added at random")


class InputSpec(_Model):
    type: PortType = PortType.ANY
    description: str = ""
    default: JsonValue = None
    required: bool = True


class NodeSpec(_Model):
    id: str = Field(min_length=1)
    kind: str = Field(min_length=1)
    params: dict[str, JsonValue] = Field(default_factory=dict)
    retry: RetrySpec | None = None
    timeout: float | None = Field(None, gt=0, description="seconds per attempt")
    join: JoinPolicy = JoinPolicy.ALL
    breaker: str | None = Field(None, description="circuit breaker key shared across runs")
    label: str = ""


def _split_ref(ref: str) -> tuple[str, str | None]:
    """``"node.port"`` -> (node, port); ``"node"`` -> (node, None). ``$input.x`` included."""
    node, dot, port = ref.partition(".")
    return node, (port if dot else None)


class EdgeSpec(_Model):
    source: str
    target: str
    source_port: str = DEFAULT_OUTPUT_PORT
    target_port: str | None = None
    kind: EdgeKind = EdgeKind.DATA
    branch: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """Accept ``{from: "a.port", to: "b.port"}`` as well as the explicit fields."""
        if not isinstance(data, dict) or ("from" not in data and "to" not in data):
            return data
        data = dict(data)
        if "from" in data:
            node, port = _split_ref(str(data.pop("from")))
            data["source"] = node
            if port is not None:
                data["source_port"] = port
        if "to" in data:
            node, port = _split_ref(str(data.pop("to")))
            data["target"] = node
            if port is not None:
                data["target_port"] = port
        if data.get("branch") is not None and "kind" not in data:
            data["kind"] = EdgeKind.CONDITIONAL.value
        if isinstance(data.get("branch"), bool):
            data["branch"] = "true" if data["branch"] else "false"
        return data


class RunSettings(_Model):
    profile: Profile | None = None
    fail_fast: bool | None = None
    timeout: float | None = Field(None, gt=0, description="seconds for the whole run")
    max_concurrency: int | None = Field(None, ge=1)
    model: str | None = Field(None, description="default 'provider:model' of the model nodes "
                              "that name none (else the engine's default model)")
    max_tokens: int | None = Field(None, ge=0, description="token budget of a run")
    max_cost: float | None = Field(None, ge=0, description="cost budget of a run, in USD")


class WorkflowSpec(_Model):
    plait: Literal["1"] = "1"
    name: str = Field(min_length=1)
    description: str = ""
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    nodes: list[NodeSpec] = Field(default_factory=list)
    edges: list[EdgeSpec] = Field(default_factory=list)
    settings: RunSettings = Field(default_factory=RunSettings)

    def to_json_dict(self) -> dict[str, Any]:
        """The canonical plain-JSON form (defaults included, stable key order)."""
        return self.model_dump(mode="json")

    def canonical_json(self) -> str:
        return json.dumps(self.to_json_dict(), sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        """A stable content hash of the canonical JSON: the workflow's version for lineage."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def node(self, node_id: str) -> NodeSpec:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)
