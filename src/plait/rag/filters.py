"""Typed metadata filters, shared by every vector store.

Build them in Python (``And(Eq("source", "a.md"), Range("page", gte=2))``) or parse the JSON
form used by specs and the CLI::

    {"source": "a.md"}                         equality
    {"page": {"$gte": 2, "$lt": 10}}           range ($gt, $gte, $lt, $lte)
    {"lang": {"$in": ["en", "fr"]}}            membership ($in, $nin)
    {"status": {"$ne": "draft"}}               inequality
    {"$and": [...]}, {"$or": [...]}, {"$not": {...}}

Several keys in one object are combined with AND. A record lacking the field never matches
(except for ``$ne`` / ``$nin``, which it satisfies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from plait.errors import UsageError
from plait.rag.types import Metadata, MetaValue

__all__ = ["And", "Eq", "Filter", "In", "Ne", "Not", "Or", "Range", "matches", "parse_filter"]


@dataclass(frozen=True, slots=True)
class Eq:
    field: str
    value: MetaValue


@dataclass(frozen=True, slots=True)
class Ne:
    field: str
    value: MetaValue


@dataclass(frozen=True, slots=True)
class In:
    field: str
    values: tuple[MetaValue, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Range:
    field: str
    gt: float | str | None = None
    gte: float | str | None = None
    lt: float | str | None = None
    lte: float | str | None = None


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Filter, ...]

    def __init__(self, *items: Filter) -> None:
        object.__setattr__(self, "items", tuple(items))


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Filter, ...]

    def __init__(self, *items: Filter) -> None:
        object.__setattr__(self, "items", tuple(items))


@dataclass(frozen=True, slots=True)
class Not:
    item: Filter


Filter = Eq | Ne | In | Range | And | Or | Not

_RANGE_OPS = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}


def parse_filter(data: Mapping[str, object], *, where: str = "filter") -> Filter:
    """The typed filter for a JSON filter object; a clear ``UsageError`` names what is wrong."""
    if not isinstance(data, Mapping) or not data:
        raise UsageError(f"{where}: a filter is a non-empty object, got {data!r}")
    parts: list[Filter] = []
    for key, value in data.items():
        at = f"{where}.{key}"
        if key in ("$and", "$or"):
            if not isinstance(value, Sequence) or isinstance(value, str) or not value:
                raise UsageError(f"{at}: expected a non-empty list of filters")
            items = tuple(parse_filter(v, where=f"{at}[{i}]")
                          for i, v in enumerate(value))
            parts.append(And(*items) if key == "$and" else Or(*items))
        elif key == "$not":
            parts.append(Not(parse_filter(value, where=at)))  # type: ignore[arg-type]
        elif key.startswith("$"):
            raise UsageError(f"{at}: unknown operator {key!r} (use $and, $or, $not)")
        elif isinstance(value, Mapping):
            parts.append(_field_ops(key, value, at))
        else:
            parts.append(Eq(key, _scalar(value, at)))
    return parts[0] if len(parts) == 1 else And(*parts)


def _scalar(value: object, at: str) -> MetaValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise UsageError(f"{at}: expected a string, number, boolean or null, got {value!r}")


def _field_ops(name: str, ops: Mapping[str, object], at: str) -> Filter:
    parts: list[Filter] = []
    bounds: dict[str, float | str] = {}
    for op, value in ops.items():
        if op == "$eq":
            parts.append(Eq(name, _scalar(value, f"{at}.$eq")))
        elif op == "$ne":
            parts.append(Ne(name, _scalar(value, f"{at}.$ne")))
        elif op in ("$in", "$nin"):
            if not isinstance(value, Sequence) or isinstance(value, str):
                raise UsageError(f"{at}.{op}: expected a list")
            parts.append(In(name, tuple(_scalar(v, f"{at}.{op}") for v in value),
                            negate=op == "$nin"))
        elif op in _RANGE_OPS:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise UsageError(f"{at}.{op}: expected a number or string, got {value!r}")
            bounds[_RANGE_OPS[op]] = value
        else:
            known = ", ".join(["$eq", "$ne", "$in", "$nin", *_RANGE_OPS])
            raise UsageError(f"{at}: unknown operator {op!r}; known: {known}")
    if bounds:
        parts.append(Range(name, **bounds))
    if not parts:
        raise UsageError(f"{at}: empty operator object")
    return parts[0] if len(parts) == 1 else And(*parts)


def _compare(a: object, b: object) -> int | None:
    """-1/0/1, or None when the two cannot be ordered (a string against a number)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if isinstance(a, int | float) and isinstance(b, int | float):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    return None


def matches(f: Filter, metadata: Metadata) -> bool:
    """Whether ``metadata`` satisfies the filter (the reference semantics every store follows)."""
    match f:
        case Eq(field=name, value=value):
            return name in metadata and metadata[name] == value and (
                type(metadata[name]) is bool) == (type(value) is bool)
        case Ne(field=name, value=value):
            return not matches(Eq(name, value), metadata)
        case In(field=name, values=values, negate=negate):
            found = any(matches(Eq(name, v), metadata) for v in values)
            return not found if negate else found
        case Range(field=name):
            if name not in metadata:
                return False
            got = metadata[name]
            for bound, ok in ((f.gt, (1,)), (f.gte, (0, 1)), (f.lt, (-1,)), (f.lte, (-1, 0))):
                if bound is None:
                    continue
                c = _compare(got, bound)
                if c is None or c not in ok:
                    return False
            return True
        case And(items=items):
            return all(matches(item, metadata) for item in items)
        case Or(items=items):
            return any(matches(item, metadata) for item in items)
        case Not(item=item):
            return not matches(item, metadata)
    raise TypeError(f"not a filter: {f!r}")
