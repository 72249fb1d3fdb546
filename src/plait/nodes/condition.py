"""``condition``: route a value down the branch its expression (or function) selects."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plait.errors import Problem
from plait.graph.context import RunContext
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Ports, RegisteredFunction
from plait.graph.spec import NodeSpec
from plait.graph.state import Branch, branch_label
from plait.nodes.functions import check_function
from plait.nodes.templating import check_expression, compile_expression

__all__ = ["ConditionKind", "ConditionParams"]


class ConditionParams(BaseModel):
    """Exactly one of ``expression`` (sandboxed Jinja) or ``function``. The result picks the
    branch: ``true``/``false`` for booleans, else its string form. The ``value`` input passes
    through as the output, so conditional edges carry it to the chosen branch."""

    model_config = ConfigDict(extra="forbid")
    expression: str | None = Field(None, description="Jinja expression over the inputs")
    function: str | None = Field(None, description="name of a registered function")

    _check = field_validator("expression")(lambda v: None if v is None else check_expression(v))

    @model_validator(mode="after")
    def _exactly_one(self) -> ConditionParams:
        if (self.expression is None) == (self.function is None):
            raise ValueError("give exactly one of 'expression' or 'function'")
        return self


class _Condition(BoundNode):
    inline = True

    def __init__(self, expression: str | None, item: RegisteredFunction | None) -> None:
        self.evaluate = compile_expression(expression) if expression is not None else None
        self.fn = item.fn if item is not None else None

    def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        if self.evaluate is not None:
            decision = self.evaluate(inputs, input=ctx.inputs)
        else:
            assert self.fn is not None
            decision = self.fn(**inputs)
        return Branch(branch_label(decision), inputs.get("value"))


class ConditionKind(NodeKind[ConditionParams]):
    name: ClassVar[str] = "condition"
    Params = ConditionParams
    description: ClassVar[str] = "Choose a branch; untaken branches are skipped."
    primary_input: ClassVar[str | None] = "value"

    def ports(self, params: ConditionParams) -> Ports:
        return Ports(open_inputs=True)

    def check(self, node: NodeSpec, params: ConditionParams, env: BindEnv,
              location: str) -> list[Problem]:
        problems = []
        if params.function is not None:
            problems = check_function(params.function, env.functions, location)
            item = env.functions.get(params.function)
            if item is not None and item.is_async:
                problems.append(Problem("async_condition", "condition functions must be "
                                        "synchronous and cheap", f"{location}.function"))
        return problems

    def bind(self, node: NodeSpec, params: ConditionParams, env: BindEnv) -> BoundNode:
        item = env.functions.get(params.function) if params.function else None
        return _Condition(params.expression, item)
