"""``transform``: a Jinja template (string), a Jinja expression (any value) or a function."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plait.errors import Problem
from plait.graph.context import CURRENT_NODE, RunContext
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Ports, RegisteredFunction
from plait.graph.spec import NodeSpec
from plait.nodes.functions import call_function, check_function
from plait.nodes.templating import (
    check_expression,
    check_template,
    compile_expression,
    compile_template,
)
from plait.types import PortType

__all__ = ["TransformKind", "TransformParams"]


class TransformParams(BaseModel):
    """Exactly one of ``template``, ``expression`` or ``function``.

    Templates and expressions see every input port by name and the workflow inputs as
    ``input``; a function is called with the input ports as keyword arguments.
    """

    model_config = ConfigDict(extra="forbid")
    template: str | None = Field(None, description="Jinja template; the output is a string")
    expression: str | None = Field(None, description="Jinja expression; the output is its value")
    function: str | None = Field(None, description="name of a registered function")

    _check_template = field_validator("template")(
        lambda v: None if v is None else check_template(v))
    _check_expression = field_validator("expression")(
        lambda v: None if v is None else check_expression(v))

    @model_validator(mode="after")
    def _exactly_one(self) -> TransformParams:
        given = [f for f in ("template", "expression", "function") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'template', 'expression' or 'function'"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self


class _Template(BoundNode):
    inline = True

    def __init__(self, source: str) -> None:
        self.render = compile_template(source)

    def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        return self.render(inputs, input=ctx.inputs)


class _Expression(BoundNode):
    inline = True

    def __init__(self, source: str) -> None:
        self.evaluate = compile_expression(source)

    def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        return self.evaluate(inputs, input=ctx.inputs)


class FunctionNode(BoundNode):
    """Calls a registered function with the input ports as keyword arguments."""

    def __init__(self, item: RegisteredFunction, *, pass_context: bool = False) -> None:
        self.item = item
        self.inline = item.inline
        self.fn = item.fn
        self.pass_context = pass_context and item.takes_context
        self.positional = item.value_positional

    def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str
             ) -> object | Awaitable[object]:
        if self.inline:
            if not self.pass_context:
                if self.positional and len(inputs) == 1 and "value" in inputs:
                    return self.fn(inputs["value"])
                return self.fn(**inputs)
            token = CURRENT_NODE.set(node_id)  # ctx.answers() / ctx.lineage() know the node
            try:
                return call_function(self.item, inputs, ctx)
            finally:
                CURRENT_NODE.reset(token)
        return call_function(self.item, inputs, ctx if self.pass_context else None)


class TransformKind(NodeKind[TransformParams]):
    name: ClassVar[str] = "transform"
    Params = TransformParams
    description: ClassVar[str] = "Reshape data with a template, an expression or a function."
    primary_input: ClassVar[str | None] = "value"

    def ports(self, params: TransformParams) -> Ports:
        output = PortType.STRING if params.template is not None else PortType.ANY
        return Ports(output=output, open_inputs=True)

    def check(self, node: NodeSpec, params: TransformParams, env: BindEnv,
              location: str) -> list[Problem]:
        if params.function is not None:
            return check_function(params.function, env.functions, location)
        return []

    def bind(self, node: NodeSpec, params: TransformParams, env: BindEnv) -> BoundNode:
        if params.template is not None:
            return _Template(params.template)
        if params.expression is not None:
            return _Expression(params.expression)
        assert params.function is not None
        item = env.functions.get(params.function)
        assert item is not None
        return FunctionNode(item)
