"""``loop``: run a child workflow repeatedly, its outputs feeding its next inputs, until a
condition holds; bounded by ``max_iterations`` (a clear error, never a hang)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from plait.errors import LoopLimitExceeded, Problem
from plait.graph.context import RunContext
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Ports
from plait.graph.spec import NodeSpec
from plait.nodes.children import (
    ChildParams,
    check_child,
    child_ports,
    run_child_checked,
    waiting_on,
)
from plait.nodes.templating import check_expression, compile_expression
from plait.types import PortType

__all__ = ["LoopKind", "LoopParams"]


class LoopParams(ChildParams):
    max_iterations: int = Field(ge=1, le=100_000, description="the bound on iterations")
    until: str = Field(description="Jinja expression over the loop state (the child's inputs "
                       "updated by its outputs) and 'iteration'; the loop ends when it holds")
    on_limit: Literal["error", "stop"] = Field(
        "error", description="at the bound: fail with loop_limit, or stop and return the state")

    _check = field_validator("until")(check_expression)


class _Loop(BoundNode):
    container = True

    def __init__(self, params: LoopParams, graph: object) -> None:
        self.params = params
        self.graph = graph
        self.until = compile_expression(params.until)
        self.names = tuple(params.workflow.inputs)

    async def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        params = self.params
        state: dict[str, object] = dict(inputs)
        for iteration in range(1, params.max_iterations + 1):
            child_inputs = {k: state[k] for k in self.names if k in state}
            result = await run_child_checked(
                ctx, self.graph, child_inputs, node_id=node_id, key=f"{node_id}#{iteration}",
                what=f"iteration {iteration}")
            asked = waiting_on(result)
            if asked:
                return asked  # the loop re-runs from its first iteration once answered
            state.update(result.outputs)
            state["iteration"] = iteration
            if self.until(state, input=ctx.inputs):
                return state
        if params.on_limit == "stop":
            return state
        raise LoopLimitExceeded(node_id, params.max_iterations)


class LoopKind(NodeKind[LoopParams]):
    name: ClassVar[str] = "loop"
    container: ClassVar[bool] = True
    Params = LoopParams
    description: ClassVar[str] = "Repeat a child workflow until a condition holds (bounded)."

    def ports(self, params: LoopParams) -> Ports:
        return Ports(inputs=child_ports(params.workflow), output=PortType.OBJECT)

    def check(self, node: NodeSpec, params: LoopParams, env: BindEnv,
              location: str) -> list[Problem]:
        return check_child(params, env, location)

    def bind(self, node: NodeSpec, params: LoopParams, env: BindEnv) -> BoundNode:
        return _Loop(params, env.compile_child(params.workflow))
