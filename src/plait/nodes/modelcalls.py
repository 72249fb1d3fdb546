"""Calling a model from a node: streaming tokens into the run's events, charging usage and
cost to the run's meter, and structured output with validation and a repair retry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import jsonschema

from plait.errors import OutputInvalid
from plait.graph.context import RunContext
from plait.llm import (
    Finished,
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    PriceTable,
    TextDelta,
)
from plait.types import JsonValue

__all__ = ["generate", "generate_structured", "parse_json", "prompt_hash"]


def prompt_hash(messages: Sequence[Message]) -> str:
    """A SHA-256 of the rendered messages (for lineage: which prompt produced an output)."""
    text = json.dumps([m.model_dump(mode="json") for m in messages], sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


async def generate(model: Model, request: ModelRequest, ctx: RunContext, node_id: str,
                   prices: PriceTable) -> ModelResponse:
    """One model call. Streams (emitting token events) only when someone listens."""
    if ctx.listening and model.capabilities.streaming:
        response: ModelResponse | None = None
        async for event in model.stream(request):
            if isinstance(event, TextDelta):
                ctx.token(node_id, event.text)
            elif isinstance(event, Finished):
                response = event.response
        if response is None:
            raise OutputInvalid("the model's stream ended without a final response",
                                provider=model.name.partition(":")[0])
    else:
        response = await model.complete(request)
    ctx.meter.charge("tokens", response.usage.total_tokens)
    ctx.meter.charge("cost", prices.cost(response.model, response.usage))
    return response


def parse_json(text: str, schema: dict[str, JsonValue] | None) -> object:
    """Parse a model's JSON reply (tolerating a fenced code block) and validate it."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`")
        body = body.partition("\n")[2] if "\n" in body else body
    try:
        value = json.loads(body, strict=False)
    except json.JSONDecodeError as err:
        raise OutputInvalid(f"the reply is not JSON ({err.msg} at line {err.lineno})") from None
    if schema is not None:
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value),
                        key=lambda e: list(e.path))
        if errors:
            where = "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}"
                              for e in errors[:5])
            raise OutputInvalid(f"the reply does not match the schema: {where}")
    return value


async def generate_structured(model: Model, request: ModelRequest, ctx: RunContext,
                              node_id: str, prices: PriceTable, *,
                              repair_attempts: int = 1) -> tuple[object, ModelResponse]:
    """A call whose reply must be JSON valid against ``request.response_schema``. An invalid
    reply is shown to the model with the errors, up to ``repair_attempts`` times."""
    schema = request.response_schema
    for attempt in range(repair_attempts + 1):
        response = await generate(model, request, ctx, node_id, prices)
        try:
            return parse_json(response.text, schema), response
        except OutputInvalid as err:
            if attempt == repair_attempts:
                raise OutputInvalid(f"{err} (after {repair_attempts} repair attempt"
                                    f"{'s' if repair_attempts != 1 else ''})",
                                    provider=model.name.partition(":")[0]) from None
            request = request.model_copy(update={"messages": (
                *request.messages, response.message,
                Message.user(f"That reply was invalid: {err}. Reply again with only JSON "
                             "that matches the schema."))})
    raise AssertionError("unreachable")
