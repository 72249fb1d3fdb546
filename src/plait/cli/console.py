"""The CLI's Rich consoles, its per-invocation state, and JSON printing.

Results go to stdout; progress, warnings and errors go to stderr, so ``plait run ... > out``
captures only the result.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import typer
from pydantic import BaseModel
from rich.console import Console

__all__ = ["CliState", "err_console", "jsonable", "out_console", "print_json", "state"]


@dataclass(slots=True)
class CliState:
    """Options of the top-level ``plait`` command, shared with every subcommand."""

    debug: bool = False


def state(ctx: typer.Context | None) -> CliState:
    """The top-level options of the invocation ``ctx`` belongs to (defaults without one)."""
    found = ctx.find_object(CliState) if ctx is not None else None
    return found if found is not None else CliState()


def out_console() -> Console:
    """A console on the current ``sys.stdout`` (made per call: tests swap the streams)."""
    return Console(highlight=False, soft_wrap=False)


def err_console() -> Console:
    return Console(stderr=True, highlight=False)


def jsonable(value: object) -> object:
    """``value`` as plain JSON data; what JSON cannot hold becomes its nearest JSON form."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [jsonable(v) for v in items]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return str(value)


def print_json(data: object, *, indent: int | None = 2) -> None:
    """Print ``data`` as JSON on stdout, unstyled and unwrapped (safe to pipe into ``jq``)."""
    typer.echo(json.dumps(jsonable(data), indent=indent, ensure_ascii=False))
