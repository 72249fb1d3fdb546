"""``human_input``: pause the run until a person answers a question.

On its first run the node returns an :class:`~plait.graph.interrupts.Interrupt` with the
rendered prompt: the node waits, the run ends ``waiting`` once nothing else can run, and the
interrupt is listed in the result (and in the store). Resuming the run with an answer (checked
against ``schema``) runs the node again, and the answer becomes its output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, field_validator

from plait.errors import Problem
from plait.graph.context import RunContext
from plait.graph.interrupts import NO_DEFAULT, Interrupt
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Ports
from plait.graph.spec import NodeSpec
from plait.nodes.templating import check_template, compile_template
from plait.types import JsonValue

__all__ = ["HumanInputKind", "HumanInputParams", "check_answer"]


class HumanInputParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(description="Jinja template of the question, over the node's inputs "
                        "(and 'input', the workflow inputs)")
    answer_schema: dict[str, JsonValue] | None = Field(
        None, description="JSON schema the answer must match (checked when the answer is "
        "given; a wrong answer is refused and the run keeps waiting)")
    answer_timeout: float | None = Field(
        None, gt=0, description="seconds to wait for the answer: a run resumed later takes "
        "'default' (or fails, see on_timeout)")
    on_timeout: Literal["default", "fail"] = Field(
        "default", description="once answer_timeout has passed: answer 'default', or fail the "
        "node (interrupt_timeout)")
    default: JsonValue = Field(None, description="the answer once answer_timeout has passed")

    _prompt = field_validator("prompt")(check_template)


def check_answer(schema: Mapping[str, object], value: object) -> list[str]:
    """The problems of ``value`` against JSON schema ``schema`` (empty: it matches)."""
    validator = jsonschema.Draft202012Validator(dict(schema))
    return [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(value), key=lambda e: list(e.path))]


class _HumanInput(BoundNode):
    inline = True

    def __init__(self, params: HumanInputParams) -> None:
        self.params = params
        self.prompt = compile_template(params.prompt)

    def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        answers = ctx.answers(node_id)
        if "0" in answers:
            return answers["0"]
        params = self.params
        return Interrupt(self.prompt(inputs, input=ctx.inputs), schema=params.answer_schema,
                         timeout=params.answer_timeout,
                         default=params.default if params.on_timeout == "default"
                         else NO_DEFAULT)


class HumanInputKind(NodeKind[HumanInputParams]):
    name: ClassVar[str] = "human_input"
    Params = HumanInputParams
    description: ClassVar[str] = "Ask a person; the run waits (status waiting) for the answer."
    primary_input: ClassVar[str | None] = "value"

    def ports(self, params: HumanInputParams) -> Ports:
        return Ports(open_inputs=True)

    def check(self, node: NodeSpec, params: HumanInputParams, env: BindEnv,
              location: str) -> list[Problem]:
        if params.answer_schema is None:
            return []
        try:
            jsonschema.Draft202012Validator.check_schema(params.answer_schema)
        except jsonschema.SchemaError as err:
            return [Problem("invalid_param", f"not a valid JSON schema: {err.message}",
                            f"{location}.answer_schema")]
        if params.on_timeout == "default" and params.answer_timeout is not None:
            problems = check_answer(params.answer_schema, params.default)
            if problems:
                return [Problem("invalid_param", "the default does not match the schema: "
                                + "; ".join(problems), f"{location}.default")]
        return []

    def bind(self, node: NodeSpec, params: HumanInputParams, env: BindEnv) -> BoundNode:
        return _HumanInput(params)
