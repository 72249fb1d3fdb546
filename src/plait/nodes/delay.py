"""``delay``: wait, then pass the input through."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from plait.graph.context import RunContext
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Port, Ports
from plait.graph.spec import NodeSpec

__all__ = ["DelayKind", "DelayParams"]


class DelayParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=86_400, description="how long to wait")


class _Delay(BoundNode):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        await asyncio.sleep(self.seconds)
        return inputs.get("value")


class DelayKind(NodeKind[DelayParams]):
    name: ClassVar[str] = "delay"
    Params = DelayParams
    description: ClassVar[str] = "Wait for a number of seconds, then pass the value on."
    primary_input: ClassVar[str | None] = "value"

    def ports(self, params: DelayParams) -> Ports:
        return Ports(inputs={"value": Port(required=False)})

    def bind(self, node: NodeSpec, params: DelayParams, env: BindEnv) -> BoundNode:
        return _Delay(params.seconds)
