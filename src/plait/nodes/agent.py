"""``agent``: a model that calls tools in a loop until it answers (bounded by ``max_steps``).

Models with native tool calling get the tools as function schemas, and several calls in one
reply run in parallel. Models without it (the embedded local model) get a JSON contract
instead, enforced through ``response_schema`` (constrained decoding on the local model)::

    {"tool": "<name>", "arguments": {...}}      call one tool
    {"answer": <the final answer>}              finish

A tool's error goes back to the model as the tool's result (``is_error``), so it can fix its
call; the conversation is the agent's memory, and may start from a ``history`` input.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plait.errors import NodeError, OutputInvalid, PlaitError, Problem
from plait.graph.context import RunContext
from plait.graph.registry import BindEnv, BoundNode, NodeKind, Ports
from plait.graph.spec import NodeSpec
from plait.llm import (
    Message,
    Model,
    ModelRegistry,
    ModelRequest,
    PriceTable,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from plait.nodes.llm import check_model
from plait.nodes.modelcalls import generate, parse_json, prompt_hash
from plait.nodes.templating import check_template, compile_template
from plait.tools import Tool, ToolRegistry
from plait.types import JsonValue

__all__ = ["AgentKind", "AgentParams"]

DEFAULT_SYSTEM = ("You are a careful assistant. Use the tools when they help; answer when "
                  "you know the answer.")


class AgentParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, description="'provider:model' (default: the workflow's "
                              "settings.model, else the engine's default)")
    system: str = Field(DEFAULT_SYSTEM, description="Jinja template of the system message")
    prompt: str = Field(description="Jinja template of the task, over the node's inputs")
    tools: list[str] = Field(default_factory=list, description="names of registered tools")
    max_steps: int = Field(6, ge=1, le=50, description="model calls at most")
    tool_first: bool = Field(False, description="require a tool call in the first step "
                             "(small models may otherwise answer without looking)")
    output_schema: dict[str, JsonValue] | None = Field(
        None, description="JSON schema of the final answer (parsed and validated)")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    transcript: bool = Field(False, description="output {answer, messages, steps} instead "
                             "of the answer alone")

    _templates = field_validator("prompt", "system")(check_template)


def _fallback_schema(tools: Sequence[Tool], answer_schema: dict[str, JsonValue] | None, *,
                     answer: bool = True) -> dict[str, JsonValue]:
    choices: list[JsonValue] = [
        {"type": "object", "additionalProperties": False, "required": ["tool", "arguments"],
         "properties": {"tool": {"const": t.name}, "arguments": t.parameters}}
        for t in tools]
    if answer:
        choices.append({"type": "object", "additionalProperties": False,
                        "required": ["answer"],
                        "properties": {"answer": answer_schema or {"type": "string"}}})
    return {"anyOf": choices}


def _fallback_instructions(tools: Sequence[Tool]) -> str:
    lines = ["You can call these tools:"]
    for t in tools:
        lines.append(f"- {t.name}: {t.description or 'no description'}; arguments: "
                     f"{json.dumps(t.parameters, sort_keys=True)}")
    lines.append('Reply with JSON only: {"tool": NAME, "arguments": {...}} to call a tool, '
                 'or {"answer": ...} when you have the answer.')
    return "\n".join(lines)


class _Agent(BoundNode):
    def __init__(self, params: AgentParams, models: ModelRegistry, prices: PriceTable,
                 tools: list[Tool]) -> None:
        self.params = params
        self.models = models
        self.prices = prices
        self.tools = {t.name: t for t in tools}
        self.specs = tuple(ToolSpec(name=t.name, description=t.description,
                                    parameters=t.parameters) for t in tools)
        self.system = compile_template(params.system)
        self.prompt = compile_template(params.prompt)
        if params.model is not None:
            self.breaker_key = f"model:{params.model.partition(':')[0]}"

    async def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str) -> object:
        params = self.params
        model = self.models.get(params.model or ctx.settings.model)
        native = bool(self.specs) and model.capabilities.tool_calling
        system = self.system(inputs, input=ctx.inputs)
        if self.specs and not native:
            system = f"{system}\n\n{_fallback_instructions(list(self.tools.values()))}"
        messages: list[Message] = [Message.system(system), *_history(inputs.get("history"))]
        messages.append(Message.user(self.prompt(inputs, input=ctx.inputs)))
        ctx.lineage(node_id, model=model.name, prompt_hash=prompt_hash(messages))
        for step in range(1, params.max_steps + 1):
            force = params.tool_first and step == 1 and bool(self.specs)
            last = step == params.max_steps and step > 1  # the last step must answer
            reply = await self._ask(model, messages, native, ctx, node_id, force, last)
            messages.append(reply)
            calls = reply.tool_calls
            if not calls:
                try:
                    answer = self._answer(reply, native)
                except OutputInvalid as err:
                    messages.append(Message.user(f"That answer was invalid: {err}. Answer "
                                                 "again, matching the required format."))
                    continue
                if params.transcript:
                    return {"answer": answer, "steps": step,
                            "messages": [m.model_dump(mode="json") for m in messages]}
                return answer
            results = await asyncio.gather(*(self._run_tool(call, ctx, node_id)
                                             for call in calls))
            messages.append(Message.tool(*results))
        raise NodeError(node_id, f"the agent reached max_steps={params.max_steps} without a "
                        "final answer")

    async def _ask(self, model: Model, messages: list[Message], native: bool,
                   ctx: RunContext, node_id: str, force_tool: bool = False,
                   answer_now: bool = False) -> Message:
        params = self.params
        if native:
            mode = "none" if answer_now else "required" if force_tool else "auto"
            request = ModelRequest(messages=tuple(messages), tools=self.specs,
                                   tool_choice=mode, temperature=params.temperature,
                                   max_tokens=params.max_tokens)
        else:
            tools = [] if answer_now else list(self.tools.values())
            schema = (_fallback_schema(tools, None if force_tool else params.output_schema,
                                       answer=not force_tool)
                      if self.specs else params.output_schema)
            request = ModelRequest(messages=tuple(messages), response_schema=schema,
                                   temperature=params.temperature, max_tokens=params.max_tokens)
        response = await generate(model, request, ctx, node_id, self.prices)
        if native or not self.specs:
            return response.message
        choice = parse_json(response.text, request.response_schema)
        assert isinstance(choice, dict)
        if "tool" in choice:
            arguments = choice.get("arguments")
            call = ToolCallPart(id=f"call_{len(messages)}", name=str(choice["tool"]),
                                arguments=arguments if isinstance(arguments, dict) else {})
            return Message.assistant("", call)
        return Message.assistant(json.dumps(choice["answer"])
                                 if params.output_schema is not None
                                 else str(choice["answer"]))

    def _answer(self, reply: Message, native: bool) -> object:
        if self.params.output_schema is None:
            return reply.text
        return parse_json(reply.text, self.params.output_schema)

    async def _run_tool(self, call: ToolCallPart, ctx: RunContext,
                        node_id: str) -> ToolResultPart:
        tool = self.tools.get(call.name)
        arguments: dict[str, object] = dict(call.arguments)
        if tool is None:
            error = f"unknown tool {call.name!r}; available: {', '.join(self.tools) or 'none'}"
            ctx.tool_called(node_id, call.name, arguments, error=error)
            return ToolResultPart(call_id=call.id, name=call.name, content=error, is_error=True)
        try:
            result = await tool.call(arguments)
        except PlaitError as err:
            ctx.tool_called(node_id, call.name, arguments, error=str(err))
            return ToolResultPart(call_id=call.id, name=call.name, content=str(err),
                                  is_error=True)
        ctx.tool_called(node_id, call.name, arguments, result=result)
        content = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        return ToolResultPart(call_id=call.id, name=call.name, content=content)


def _history(value: object) -> list[Message]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise NodeError("history", "the 'history' input must be a list of messages")
    return [m if isinstance(m, Message) else Message.model_validate(m) for m in value]


class AgentKind(NodeKind[AgentParams]):
    name: ClassVar[str] = "agent"
    Params = AgentParams
    description: ClassVar[str] = "A model that calls tools in a loop until it answers."
    primary_input: ClassVar[str | None] = "value"

    def __init__(self, models: ModelRegistry, prices: PriceTable, tools: ToolRegistry) -> None:
        self.models = models
        self.prices = prices
        self.tools = tools

    def ports(self, params: AgentParams) -> Ports:
        return Ports(open_inputs=True)

    def check(self, node: NodeSpec, params: AgentParams, env: BindEnv,
              location: str) -> list[Problem]:
        problems = check_model(params.model, self.models, location)
        for i, name in enumerate(params.tools):
            if name not in self.tools:
                problems.append(Problem(
                    "unknown_tool", f"unknown tool {name!r} (registered: "
                    f"{', '.join(self.tools.names()) or 'none'})", f"{location}.tools[{i}]"))
        return problems

    def bind(self, node: NodeSpec, params: AgentParams, env: BindEnv) -> BoundNode:
        return _Agent(params, self.models, self.prices,
                      [self.tools.get(name) for name in params.tools])
