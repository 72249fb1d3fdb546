"""``llm``: one completion from a Jinja prompt over the node's inputs; text, or JSON valid
against ``output_schema``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plait.errors import Problem, UsageError
from plait.graph.context import RunContext
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Ports
from plait.graph.spec import NodeSpec
from plait.llm import Message, ModelRegistry, ModelRequest, PriceTable, parse_model_string
from plait.nodes.modelcalls import generate, generate_structured, prompt_hash
from plait.nodes.templating import check_template, compile_template
from plait.types import JsonValue, PortType

__all__ = ["LlmKind", "LlmParams", "check_model"]


class LlmParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, description="'provider:model'; default: the workflow's "
                              "settings.model, else the engine's default model")
    prompt: str = Field(description="Jinja template of the user message over the inputs "
                        "(and 'input', the workflow inputs)")
    system: str | None = Field(None, description="Jinja template of the system message")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    output_schema: dict[str, JsonValue] | None = Field(
        None, description="JSON schema: the output is parsed JSON valid against it")
    repair_attempts: int = Field(1, ge=0, le=5, description="re-asks after an invalid reply")

    _prompt = field_validator("prompt", "system")(
        lambda v: None if v is None else check_template(v))


def check_model(model: str | None, models: ModelRegistry, location: str) -> list[Problem]:
    if model is None or models.knows(model):
        return []
    try:
        provider, _ = parse_model_string(model)
    except UsageError as err:
        return [Problem("invalid_param", str(err), f"{location}.model")]
    if provider not in models.providers():
        return [Problem("unknown_provider", f"unknown model provider {provider!r} (known: "
                        f"{', '.join(models.providers())})", f"{location}.model")]
    return []


class _Llm(BoundNode):
    def __init__(self, params: LlmParams, models: ModelRegistry, prices: PriceTable) -> None:
        self.params = params
        self.models = models
        self.prices = prices
        self.prompt = compile_template(params.prompt)
        self.system = compile_template(params.system) if params.system else None
        if params.model is not None:
            self.breaker_key = f"model:{params.model.partition(':')[0]}"

    async def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        params = self.params
        model = self.models.get(params.model or ctx.settings.model)
        messages = []
        if self.system is not None:
            messages.append(Message.system(self.system(inputs, input=ctx.inputs)))
        messages.append(Message.user(self.prompt(inputs, input=ctx.inputs)))
        ctx.lineage(node_id, model=model.name, prompt_hash=prompt_hash(messages))
        request = ModelRequest(messages=tuple(messages), temperature=params.temperature,
                               max_tokens=params.max_tokens,
                               response_schema=params.output_schema)
        if params.output_schema is not None:
            value, _ = await generate_structured(model, request, ctx, node_id, self.prices,
                                                 repair_attempts=params.repair_attempts)
            return value
        return (await generate(model, request, ctx, node_id, self.prices)).text


class LlmKind(NodeKind[LlmParams]):
    name: ClassVar[str] = "llm"
    Params = LlmParams
    description: ClassVar[str] = "One model completion from a templated prompt."
    primary_input: ClassVar[str | None] = "value"

    def __init__(self, models: ModelRegistry, prices: PriceTable) -> None:
        self.models = models
        self.prices = prices

    def ports(self, params: LlmParams) -> Ports:
        output = PortType.STRING if params.output_schema is None else PortType.ANY
        return Ports(output=output, open_inputs=True)

    def check(self, node: NodeSpec, params: LlmParams, env: BindEnv,
              location: str) -> list[Problem]:
        return check_model(params.model, self.models, location)

    def bind(self, node: NodeSpec, params: LlmParams, env: BindEnv) -> BoundNode:
        return _Llm(params, self.models, self.prices)
