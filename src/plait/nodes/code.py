"""``code``: call a registered Python function (sync, async, or inline), with the run context
if it takes a ``ctx`` argument."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from plait.errors import Problem
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Ports
from plait.graph.spec import NodeSpec
from plait.nodes.functions import check_function
from plait.nodes.transform import FunctionNode

__all__ = ["CodeKind", "CodeParams"]


class CodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    function: str = Field(description="name of a registered function; it gets the input ports "
                          "as keyword arguments, and the run context as 'ctx' if it asks")


class CodeKind(NodeKind[CodeParams]):
    name: ClassVar[str] = "code"
    Params = CodeParams
    description: ClassVar[str] = "Run a registered Python function."
    primary_input: ClassVar[str | None] = "value"

    def ports(self, params: CodeParams) -> Ports:
        return Ports(open_inputs=True)

    def check(self, node: NodeSpec, params: CodeParams, env: BindEnv,
              location: str) -> list[Problem]:
        return check_function(params.function, env.functions, location)

    def bind(self, node: NodeSpec, params: CodeParams, env: BindEnv) -> BoundNode:
        item = env.functions.get(params.function)
        assert item is not None
        return FunctionNode(item, pass_context=True)
