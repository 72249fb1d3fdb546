"""``output``: publish a value as one of the run's named outputs."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from plait.graph.context import RunContext
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Port, Ports
from plait.graph.spec import NodeSpec

__all__ = ["OutputKind", "OutputParams"]


class OutputParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, description="key in the run's outputs (default: node id)")


class _Output(BoundNode):
    inline = True

    def __init__(self, name: str) -> None:
        self.output_name = name

    def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        return inputs.get("value")


class OutputKind(NodeKind[OutputParams]):
    name: ClassVar[str] = "output"
    Params = OutputParams
    description: ClassVar[str] = "Publish a value as a named output of the run."
    primary_input: ClassVar[str | None] = "value"

    def ports(self, params: OutputParams) -> Ports:
        return Ports(inputs={"value": Port()})

    def bind(self, node: NodeSpec, params: OutputParams, env: BindEnv) -> BoundNode:
        return _Output(params.name or node.id)
