"""Arithmetic without ``eval``: the expression is parsed with :mod:`ast` and only a whitelist
of nodes is evaluated (numbers, + - * / // % **, unary +/-, named constants, variables and a
few math functions). Exponents, factorials, integer sizes and the expression's length and
depth are bounded, so no expression can exhaust memory or time."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from plait.tools.errors import ToolArgumentError, ToolFailed
from plait.tools.tool import Tool

__all__ = ["CalculatorTool", "evaluate"]

Number = int | float

MAX_EXPRESSION = 1000
MAX_DEPTH = 50
MAX_EXPONENT = 10_000
MAX_INT_BITS = 13_000
"""About 3,900 digits: below the 4,300 digits Python will print or serialize."""
MAX_FACTORIAL = 1000

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_CONSTANTS: dict[str, Number] = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _factorial(n: Number) -> int:
    if isinstance(n, float) and not n.is_integer():
        raise ValueError("factorial() needs a whole number")
    if not 0 <= n <= MAX_FACTORIAL:
        raise ValueError(f"factorial() takes 0 to {MAX_FACTORIAL}")
    return math.factorial(int(n))


def _round(x: Number, digits: Number = 0) -> Number:
    return round(x, int(digits))


_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "abs": abs, "round": _round, "min": min, "max": max, "sqrt": math.sqrt,
    "exp": math.exp, "log": math.log, "log10": math.log10, "log2": math.log2,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "atan2": math.atan2, "hypot": math.hypot, "floor": math.floor,
    "ceil": math.ceil, "factorial": _factorial, "degrees": math.degrees,
    "radians": math.radians,
}


class _Evaluator:
    def __init__(self, variables: dict[str, Number]) -> None:
        self.names = {**_CONSTANTS, **variables}

    def eval(self, node: ast.AST, depth: int = 0) -> Number:
        if depth > MAX_DEPTH:
            raise ValueError(f"the expression is nested more than {MAX_DEPTH} levels deep")
        match node:
            case ast.Expression(body=body):
                return self.eval(body, depth + 1)
            case ast.Constant(value=int() | float() as value) if not isinstance(value, bool):
                return _checked(value)
            case ast.Name(id=name):
                if name not in self.names:
                    raise ValueError(f"unknown name {name!r}")
                return self.names[name]
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return -self.eval(operand, depth + 1)
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return +self.eval(operand, depth + 1)
            case ast.BinOp(left=left, op=ast.Pow(), right=right):
                return _power(self.eval(left, depth + 1), self.eval(right, depth + 1))
            case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
                result = _BINARY[type(op)](self.eval(left, depth + 1),
                                           self.eval(right, depth + 1))
                return _checked(result)
            case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in _FUNCTIONS:
                values = [self.eval(arg, depth + 1) for arg in args]
                return _checked(_FUNCTIONS[name](*values))
            case ast.Call():
                raise ValueError("only these functions are allowed: " + ", ".join(_FUNCTIONS))
        raise ValueError(f"{type(node).__name__} is not allowed in an arithmetic expression")


def _checked(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise OverflowError(f"an intermediate result exceeds {MAX_INT_BITS} bits")
    return value


def _power(base: Number, exponent: Number) -> Number:
    if abs(exponent) > MAX_EXPONENT:
        raise OverflowError(f"exponents are limited to +/-{MAX_EXPONENT}")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and \
            base.bit_length() * exponent > MAX_INT_BITS:
        raise OverflowError(f"the power would exceed {MAX_INT_BITS} bits")
    result = base ** exponent
    if isinstance(result, complex):
        raise ValueError("a negative number to a fractional power has no real value")
    return _checked(result)


def evaluate(expression: str, variables: dict[str, Number] | None = None) -> Number:
    """The value of an arithmetic expression; :class:`ValueError` or :class:`ArithmeticError`
    if it is not allowed or not computable."""
    if len(expression) > MAX_EXPRESSION:
        raise ValueError(f"the expression is longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (RecursionError, MemoryError):
        raise ValueError("the expression is nested too deeply") from None
    return _Evaluator(variables or {}).eval(tree)


class CalculatorTool(Tool):
    """Evaluate an arithmetic expression: exact for integers, floating point otherwise.
    Supports + - * / // % ** and parentheses, the constants pi, e and tau, and the functions
    abs, round, min, max, sqrt, exp, log, log10, log2, sin, cos, tan, asin, acos, atan,
    atan2, hypot, floor, ceil, factorial, degrees, radians.
    """

    name = "calculator"

    def run(self, expression: Annotated[str, Field(max_length=MAX_EXPRESSION)],
            variables: dict[str, float | int] | None = None) -> Number:
        """Calculate.

        Args:
            expression: The expression, e.g. "2 * (3 + 4) ** 2" or "sqrt(x) / 2".
            variables: Values for names used in the expression, e.g. {"x": 16}.
        """
        try:
            result = evaluate(expression, variables)
        except SyntaxError as exc:
            raise ToolArgumentError.single("expression", f"not an expression: {exc.msg}",
                                           code="syntax") from None
        except (ValueError, TypeError) as exc:
            raise ToolArgumentError.single("expression", str(exc)) from None
        except (ArithmeticError) as exc:
            raise ToolFailed(f"{type(exc).__name__}: {exc}", cause=exc) from None
        if isinstance(result, float) and not math.isfinite(result):
            raise ToolFailed(f"the result is {result}, not a finite number")
        return result
