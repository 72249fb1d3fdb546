"""``map``: run a child workflow once per list item, with its own concurrency limit, then
gather the results in order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from plait.errors import NodeError, Problem
from plait.graph.context import RunContext
from plait.graph.interrupts import Interrupt
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Port, Ports
from plait.graph.spec import NodeSpec
from plait.nodes.children import ChildParams, check_child, child_ports, child_value, waiting_on
from plait.types import PortType

__all__ = ["MapKind", "MapParams"]


class MapParams(ChildParams):
    item_input: str = Field("item", description="the child input that receives each item")
    concurrency: int = Field(8, ge=1, le=10_000, description="items processed at once")


class _Map(BoundNode):
    container = True

    def __init__(self, params: MapParams, graph: object) -> None:
        self.params = params
        self.graph = graph

    async def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        items = inputs.pop("items")
        if not isinstance(items, Sequence) or isinstance(items, str | bytes):
            raise NodeError(node_id, f"'items' must be a list, got {type(items).__name__}")
        params = self.params
        limit = asyncio.Semaphore(params.concurrency)

        async def one(index: int, item: object) -> object:
            async with limit:
                result = await ctx.run_child(self.graph, {**inputs, params.item_input: item},
                                             key=f"{node_id}[{index}]")
            asked = waiting_on(result)
            if asked:
                return _Waiting(asked)
            if not result.ok:
                raise NodeError(node_id, f"item {index} failed: {result.error}",
                                cause=result.error)
            return child_value(params, node_id, result)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(i, item)) for i, item in enumerate(items)]
        except BaseExceptionGroup as group_error:
            raise _first(group_error) from None  # the first item's failure, not a group
        values = [task.result() for task in tasks]
        asked = [i for v in values if isinstance(v, _Waiting) for i in v.interrupts]
        return asked or values  # items waiting on interrupts: the map waits on all of them


class _Waiting:
    __slots__ = ("interrupts",)

    def __init__(self, interrupts: list[Interrupt]) -> None:
        self.interrupts = interrupts


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


class MapKind(NodeKind[MapParams]):
    name: ClassVar[str] = "map"
    container: ClassVar[bool] = True
    Params = MapParams
    description: ClassVar[str] = "Fan out over a list with a child workflow, then gather."
    primary_input: ClassVar[str | None] = "items"

    def ports(self, params: MapParams) -> Ports:
        inputs = {"items": Port(type=PortType.LIST, description="the list to map over")}
        inputs.update(child_ports(params.workflow, exclude=params.item_input, all_optional=True))
        return Ports(inputs=inputs, output=PortType.LIST)

    def check(self, node: NodeSpec, params: MapParams, env: BindEnv,
              location: str) -> list[Problem]:
        problems = check_child(params, env, location)
        if params.item_input not in params.workflow.inputs:
            problems.append(Problem("unknown_input", f"the child workflow declares no input "
                                    f"{params.item_input!r} to receive items",
                                    f"{location}.item_input"))
        return problems

    def bind(self, node: NodeSpec, params: MapParams, env: BindEnv) -> BoundNode:
        return _Map(params, env.compile_child(params.workflow))
