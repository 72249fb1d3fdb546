"""From a Python signature to a validated argument model and a JSON schema.

Each parameter becomes a pydantic field whose alias is the parameter's name (the internal
field names are ``p0``, ``p1``... so a parameter may be called ``json`` or ``schema`` without
clashing with :class:`~pydantic.BaseModel`'s own attributes). Unknown arguments are refused.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from plait.errors import Problem
from plait.tools.errors import ToolArgumentError, ToolDefinitionError
from plait.types import JsonValue

__all__ = ["ArgumentSpec", "build_argument_spec", "clean_schema"]

_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")


@dataclass(frozen=True, slots=True)
class ArgumentSpec:
    """How to validate a call's arguments and pass them to the function."""

    model: type[BaseModel]
    schema: dict[str, JsonValue]
    fields: tuple[tuple[str, str, bool], ...]
    """(parameter name, internal field name, positional-only) in signature order."""

    def validate(self, arguments: Mapping[str, object] | str | None
                 ) -> tuple[list[object], dict[str, object]]:
        """Positional and keyword arguments for the function, or :class:`ToolArgumentError`
        listing every problem."""
        if arguments is None:
            arguments = {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise ToolArgumentError.single(
                    "", f"the arguments are not valid JSON: {exc}", code="json_invalid"
                ) from None
        if not isinstance(arguments, Mapping):
            raise ToolArgumentError.single(
                "", f"the arguments must be an object, not {type(arguments).__name__}",
                code="object_type")
        try:
            instance = self.model.model_validate(dict(arguments))
        except ValidationError as exc:
            problems = [Problem(e["type"], e["msg"], ".".join(str(p) for p in e["loc"]))
                        for e in exc.errors(include_url=False)]
            raise ToolArgumentError(problems) from None
        args: list[object] = []
        kwargs: dict[str, object] = {}
        for name, internal, positional in self.fields:
            value = getattr(instance, internal)
            if positional:
                args.append(value)
            else:
                kwargs[name] = value
        return args, kwargs


def _has_description(annotation: object) -> bool:
    if typing.get_origin(annotation) is not Annotated:
        return False
    return any(isinstance(m, FieldInfo) and m.description
               for m in typing.get_args(annotation)[1:])


def build_argument_spec(fn: Callable[..., object], *, tool_name: str,
                        descriptions: Mapping[str, str]) -> ArgumentSpec:
    """The argument model of ``fn`` (a function or a bound method)."""
    try:
        signature = inspect.signature(fn, eval_str=True)
    except NameError as exc:
        raise ToolDefinitionError(
            f"cannot resolve a type annotation ({exc}); define the type at module level",
            tool=tool_name) from None
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"cannot read the signature: {exc}", tool=tool_name) from None
    definitions: dict[str, Any] = {}
    fields: list[tuple[str, str, bool]] = []
    for index, param in enumerate(signature.parameters.values()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"parameter {param.name!r}: *args and **kwargs can't be described to a model;"
                " list the parameters explicitly", tool=tool_name)
        annotation = Any if param.annotation is param.empty else param.annotation
        internal = f"p{index}"
        options: dict[str, Any] = {"alias": param.name}
        if param.name in descriptions and not _has_description(annotation):
            options["description"] = descriptions[param.name]
        if param.default is not param.empty:
            options["default"] = param.default
        info = Field(**options)
        definitions[internal] = (annotation, info)
        fields.append((param.name, internal, param.kind is param.POSITIONAL_ONLY))
    try:
        model = create_model(
            f"{tool_name}_arguments",
            __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=False),
            **definitions,
        )
        schema = clean_schema(model.model_json_schema())
    except Exception as exc:  # pydantic raises several kinds for types it can't handle
        raise ToolDefinitionError(
            f"cannot build a JSON schema for the parameters: {exc}", tool=tool_name) from None
    return ArgumentSpec(model, schema, tuple(fields))


def _strip_titles(node: object, *, mapping: bool = False) -> object:
    if isinstance(node, list):
        return [_strip_titles(item) for item in node]
    if not isinstance(node, dict):
        return node
    if mapping:
        return {key: _strip_titles(value) for key, value in node.items()}
    return {key: _strip_titles(value, mapping=key in _SCHEMA_MAPS)
            for key, value in node.items() if key != "title"}


def _inline(node: object, defs: Mapping[str, object], stack: tuple[str, ...]) -> object:
    if isinstance(node, list):
        return [_inline(item, defs, stack) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in stack or name not in defs:
            raise RecursionError(name)
        target = _inline(defs[name], defs, (*stack, name))
        rest = {k: _inline(v, defs, stack) for k, v in node.items() if k != "$ref"}
        if not rest:
            return target
        return {"allOf": [target], **rest} if target else rest
    return {key: _inline(value, defs, stack) for key, value in node.items()}


def clean_schema(schema: dict[str, Any]) -> dict[str, JsonValue]:
    """Drop pydantic's generated ``title`` keys and inline ``$defs`` unless they recurse;
    models and providers handle flat schemas best."""
    stripped = _strip_titles(schema)
    assert isinstance(stripped, dict)
    defs = stripped.get("$defs")
    if isinstance(defs, dict):
        body = {k: v for k, v in stripped.items() if k != "$defs"}
        try:
            inlined = _inline(body, defs, ())
        except RecursionError:
            inlined = stripped
        assert isinstance(inlined, dict)
        stripped = inlined
    return typing.cast("dict[str, JsonValue]", stripped)
