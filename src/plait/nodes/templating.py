"""Sandboxed Jinja for templates and expressions (never ``eval``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["TemplateError", "check_expression", "check_template", "compile_expression",
           "compile_template"]


def _fromjson(text: str) -> object:
    return json.loads(text)


_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                     keep_trailing_newline=True)
_ENV.filters["fromjson"] = _fromjson


def _syntax_message(err: TemplateSyntaxError) -> str:
    return f"{err.message} (line {err.lineno})" if err.lineno else str(err.message)


@lru_cache(maxsize=1024)
def compile_template(source: str) -> Callable[..., str]:
    return _ENV.from_string(source).render


@lru_cache(maxsize=1024)
def compile_expression(source: str) -> Callable[..., object]:
    return _ENV.compile_expression(source, undefined_to_none=False)


def check_template(source: str) -> str:
    """Return the source if it compiles; raise ValueError with a clear message otherwise."""
    try:
        compile_template(source)
    except TemplateSyntaxError as err:
        raise ValueError(f"bad template: {_syntax_message(err)}") from None
    return source


def check_expression(source: str) -> str:
    if not source.strip():
        raise ValueError("bad expression: it is empty")
    try:
        compile_expression(source)
    except TemplateSyntaxError as err:
        raise ValueError(f"bad expression: {_syntax_message(err)}") from None
    return source
