"""``subworkflow``: run another workflow as one node; its outputs become this node's output."""

from __future__ import annotations

from typing import ClassVar

from plait.errors import Problem
from plait.graph.context import RunContext
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Ports
from plait.graph.spec import NodeSpec
from plait.nodes.children import (
    ChildParams,
    check_child,
    child_value,
    ports_of,
    run_child_checked,
    waiting_on,
)

__all__ = ["SubworkflowKind"]


class _Subworkflow(BoundNode):
    container = True

    def __init__(self, params: ChildParams, graph: object) -> None:
        self.params = params
        self.graph = graph

    async def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        result = await run_child_checked(ctx, self.graph, inputs, node_id=node_id, key=node_id,
                                         what=f"sub-workflow {self.params.workflow.name!r}")
        return waiting_on(result) or child_value(self.params, node_id, result)


class SubworkflowKind(NodeKind[ChildParams]):
    name: ClassVar[str] = "subworkflow"
    container: ClassVar[bool] = True
    Params = ChildParams
    description: ClassVar[str] = "Run a nested workflow; its inputs are this node's inputs."

    def ports(self, params: ChildParams) -> Ports:
        return ports_of(params.workflow)

    def check(self, node: NodeSpec, params: ChildParams, env: BindEnv,
              location: str) -> list[Problem]:
        return check_child(params, env, location)

    def bind(self, node: NodeSpec, params: ChildParams, env: BindEnv) -> BoundNode:
        return _Subworkflow(params, env.compile_child(params.workflow))
