"""Render a Jinja template in a sandbox.

The template runs in Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`: no
access to private or internal attributes (``__class__``, ``mro``, function globals), no
mutation of lists and dicts, no imports, and undefined variables are errors. On top of that
this module bounds what one render may cost:

* a step budget: every line the compiled template executes counts, so nested loops stop;
* ``range`` draws from a per-render budget of items;
* the operators that build values (``~``, ``+``, ``*``, ``%``, ``**``) check the size of
  their result before making it; ``join``, ``replace``, ``indent``, ``format``, ``slice``
  and ``sum`` are replaced by capped versions; ``center``, ``lipsum`` and the string
  padding and formatting methods are removed;
* the output is streamed and stops at ``max_output`` characters.

This bounds time and the common ways to build huge strings. It is not a memory limit for
arbitrary Python: a serializing filter (``tojson``, ``pprint``) over a structure that holds
one large string many times can still use a lot of memory. Render templates you don't trust
in a process with its own memory limit if that matters to you.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from types import FrameType
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, TemplateError, nodes, pass_environment
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Environment
from jinja2.exceptions import SecurityError, TemplateRuntimeError
from jinja2.filters import do_format, do_indent, make_attrgetter
from jinja2.sandbox import ImmutableSandboxedEnvironment

from plait.tools.errors import SandboxViolation, ToolArgumentError, ToolLimitExceeded
from plait.tools.tool import Tool
from plait.types import JsonValue

if TYPE_CHECKING:
    from _typeshed import TraceFunction

__all__ = ["TemplateTool", "render_template"]

_TEMPLATE_FILE = "<plait-template>"
_UNSAFE_STR_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs", "format",
                       "format_map", "join", "replace"}
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_MAX_WIDTH = 1000


class _TooMuch(SecurityError):
    """A size or count limit of the render, as opposed to an unsafe access."""


class _Codegen(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _size(value: object) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


class _Environment(ImmutableSandboxedEnvironment):
    code_generator_class = _Codegen
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, max_output: int, max_range: int) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self.max_output = max_output
        self.max_range = max_range
        self.steps = 0
        self.range_items = 0
        self.globals.pop("lipsum", None)
        self.globals["range"] = self.checked_range
        self.filters.pop("center", None)
        self.filters.update(join=_join, replace=self.checked_replace, indent=self.checked_indent,
                            format=self.checked_format, slice=_slice, sum=_sum)

    def _check(self, size: int, what: str) -> None:
        if size > self.max_output:
            raise _TooMuch(f"{what} would have {size} items, more than {self.max_output}")

    def checked_concat(self, parts: Iterable[object]) -> str:
        texts = [str(p) for p in parts]
        self._check(sum(len(t) for t in texts), "a ~ concatenation")
        return "".join(texts)

    def checked_range(self, *args: int) -> range:
        items = range(*args)
        self.range_items += len(items)
        if self.range_items > self.max_range:
            raise _TooMuch(f"range() may produce {self.max_range} items per render")
        return items

    def checked_replace(self, s: object, old: str, new: str, count: int | None = None) -> str:
        text = str(s)
        hits = text.count(old) if old else len(text) + 1
        if count is not None and count >= 0:
            hits = min(hits, count)
        self._check(len(text) + hits * max(len(new) - len(old), 0), "replace")
        return text.replace(old, new, -1 if count is None else count)

    def checked_indent(self, s: str, width: int | str = 4, first: bool = False,
                       blank: bool = False) -> str:
        step = width if isinstance(width, int) else len(width)
        if step > _MAX_WIDTH:
            raise _TooMuch(f"indent width is limited to {_MAX_WIDTH}")
        self._check(len(s) + (s.count("\n") + 1) * step, "indent")
        return do_indent(s, width, first, blank)

    def checked_format(self, value: str, *args: Any, **kwargs: Any) -> str:
        _check_percent(value)
        return do_format(value, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > 10_000:
                raise _TooMuch("exponents are limited to +/-10000")
            if isinstance(left, int) and isinstance(right, int) and right > 0 \
                    and left.bit_length() * right > 13_000:
                raise _TooMuch("the power would be too large")
        elif operator == "*":
            for seq, n in ((left, right), (right, left)):
                if _size(seq) and isinstance(n, int):
                    self._check(_size(seq) * n, "a repetition")
        elif operator == "+":
            self._check(_size(left) + _size(right), "a concatenation")
        elif operator == "%" and isinstance(left, str):
            _check_percent(left)
        return super().call_binop(context, operator, left, right)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _UNSAFE_STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        return None  # str.format and format_map are refused by is_safe_attribute


def _check_percent(fmt: str) -> None:
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for number in (width, precision):
            if number == "*" or (number and int(number) > _MAX_WIDTH):
                raise _TooMuch(f"format widths are limited to {_MAX_WIDTH}")


@pass_environment
def _join(env: Environment, value: Iterable[object], d: str = "",
          attribute: str | int | None = None) -> str:
    assert isinstance(env, _Environment)
    items: Iterable[object] = value
    if attribute is not None:
        items = map(make_attrgetter(env, attribute), value)
    parts: list[str] = []
    total = 0
    for item in items:
        parts.append(str(item))
        total += len(parts[-1]) + len(d)
        env._check(total, "join")
    return d.join(parts)


def _slice(value: Iterable[object], slices: int, fill_with: object = None) -> list[list[object]]:
    if not 0 < slices <= _MAX_WIDTH:
        raise _TooMuch(f"slice() takes 1 to {_MAX_WIDTH} slices")
    items = list(value)
    per, extra = divmod(len(items), slices)
    result: list[list[object]] = []
    offset = 0
    for index in range(slices):
        size = per + (1 if index < extra else 0)
        chunk = items[offset:offset + size]
        offset += size
        if fill_with is not None and extra and index >= extra:
            chunk.append(fill_with)
        result.append(chunk)
    return result


@pass_environment
def _sum(env: Environment, iterable: Iterable[object], attribute: str | int | None = None,
         start: int | float = 0) -> int | float:
    if not isinstance(start, int | float):
        raise TemplateRuntimeError("sum() adds numbers only")
    items: Iterable[object] = iterable
    if attribute is not None:
        items = map(make_attrgetter(env, attribute), iterable)
    total: int | float = start
    for item in items:
        if not isinstance(item, int | float):
            raise TemplateRuntimeError("sum() adds numbers only")
        total += item
    return total


def render_template(template: str, variables: dict[str, JsonValue], *, max_output: int = 1_000_000,
                    max_steps: int = 1_000_000, max_range: int = 100_000) -> str:
    """Render ``template`` with ``variables`` under the limits above (blocking)."""
    env = _Environment(max_output=max_output, max_range=max_range)
    try:
        code = env.compile(template, filename=_TEMPLATE_FILE)
        compiled = env.template_class.from_code(env, code, env.make_globals(None))
    except TemplateError as exc:
        raise ToolArgumentError.single("template", f"invalid template: {exc}") from None

    def line(frame: FrameType, event: str, arg: object) -> TraceFunction | None:
        if event == "line":
            env.steps += 1
            if env.steps > max_steps:
                raise ToolLimitExceeded(f"the template ran more than {max_steps} steps",
                                        limit="max_steps")
        return line

    def trace(frame: FrameType, event: str, arg: object) -> TraceFunction | None:
        return line if frame.f_code.co_filename == _TEMPLATE_FILE else None

    previous = sys.gettrace()
    out: list[str] = []
    size = 0
    sys.settrace(trace)
    try:
        for chunk in compiled.generate(**variables):
            size += len(chunk)
            if size > max_output:
                raise ToolLimitExceeded(f"the output exceeds {max_output} characters",
                                        limit="max_output")
            out.append(chunk)
    except _TooMuch as exc:
        raise ToolLimitExceeded(f"the template went past a limit: {exc}",
                                limit="template") from None
    except SecurityError as exc:
        raise SandboxViolation(f"the template tried something unsafe: {exc}",
                               rule="template_unsafe") from None
    except TemplateError as exc:
        raise ToolArgumentError.single("template", f"rendering failed: {exc}") from None
    finally:
        sys.settrace(previous)
    return "".join(out)


class TemplateTool(Tool):
    """Render a Jinja template with variables, in a sandbox (no access to Python internals,
    bounded time and output)."""

    name = "template"

    def __init__(self, *, max_output: int = 1_000_000, max_steps: int = 1_000_000,
                 max_range: int = 100_000, name: str | None = None) -> None:
        self.max_output = max_output
        self.max_steps = max_steps
        self.max_range = max_range
        super().__init__(name=name)

    def run(self, template: str, variables: dict[str, JsonValue] | None = None) -> str:
        """Render a template.

        Args:
            template: Jinja source, e.g. "Hello {{ name }}! {% for i in items %}{{ i }}
                {% endfor %}".
            variables: The values the template can use.
        """
        return render_template(template, variables or {}, max_output=self.max_output,
                               max_steps=self.max_steps, max_range=self.max_range)
