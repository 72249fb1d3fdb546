"""Columnar metadata for fast filters: one NumPy column per field, a filter becomes a mask.

Each field keeps, per label (a record's row number), what kind of value it has (missing, null,
boolean, number, string), the number (booleans as 0/1) and a code for strings. A filter is
evaluated with a handful of vectorized comparisons, so building the allowed-set of a filter over
100K records takes tens of microseconds; the result is exactly
:func:`plait.rag.filters.matches` (numbers compare as float64: integers beyond 2**53 may
compare equal to their neighbours). String ranges scan the field's distinct strings.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from plait.rag.filters import And, Eq, Filter, In, Ne, Not, Or, Range

if TYPE_CHECKING:
    import numpy.typing as npt

    Mask = npt.NDArray[np.bool_]

__all__ = ["MetadataColumns"]

MISSING, NULL, BOOL, NUM, STR = 0, 1, 2, 3, 4
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def _bool(values: Any) -> Mask:
    return np.asarray(values, dtype=bool)


class _Column:
    __slots__ = ("code", "kind", "num", "strings")

    def __init__(self, capacity: int) -> None:
        self.kind = np.zeros(capacity, dtype=np.uint8)
        self.num = np.zeros(capacity, dtype=np.float64)
        self.code = np.full(capacity, -1, dtype=np.int32)
        self.strings: dict[str, int] = {}

    def grow(self, capacity: int) -> None:
        n = len(self.kind)
        for name, fill in (("kind", 0), ("num", 0), ("code", -1)):
            old = getattr(self, name)
            new = np.full(capacity, fill, dtype=old.dtype)
            new[:n] = old
            setattr(self, name, new)

    def take(self, keep: npt.NDArray[np.intp], capacity: int) -> None:
        for name, fill in (("kind", 0), ("num", 0), ("code", -1)):
            old = getattr(self, name)
            new = np.full(capacity, fill, dtype=old.dtype)
            new[:len(keep)] = old[keep]
            setattr(self, name, new)


class MetadataColumns:
    """Metadata of labels ``0 .. size-1``; labels are set once (a replaced record gets a new
    label), so there is no update, only :meth:`take` when the owner renumbers."""

    def __init__(self) -> None:
        self._cols: dict[str, _Column] = {}
        self._capacity = 0

    def _ensure(self, size: int) -> None:
        if size <= self._capacity:
            return
        self._capacity = max(size, 2 * self._capacity, 1024)
        for col in self._cols.values():
            col.grow(self._capacity)

    def set_many(self, first: int, metadatas: Iterable[Mapping[str, object]]) -> None:
        """Metadata for labels ``first, first + 1, ...``."""
        items = list(metadatas)
        self.set_at(range(first, first + len(items)), items)

    def set_at(self, labels: Sequence[int], metadatas: Iterable[Mapping[str, object]]) -> None:
        """Metadata for the given labels, in order."""
        self._ensure(max(labels, default=-1) + 1)
        for label, meta in zip(labels, metadatas, strict=True):
            for key, value in meta.items():
                col = self._cols.get(key)
                if col is None:
                    col = self._cols[key] = _Column(self._capacity)
                if value is None:
                    col.kind[label] = NULL
                elif isinstance(value, bool):
                    col.kind[label], col.num[label] = BOOL, float(value)
                elif isinstance(value, int | float):
                    col.kind[label], col.num[label] = NUM, float(value)
                elif isinstance(value, str):
                    code = col.strings.setdefault(value, len(col.strings))
                    col.kind[label], col.code[label] = STR, code

    def take(self, keep: npt.NDArray[np.intp]) -> None:
        """Renumber: label ``keep[i]`` becomes label ``i``."""
        self._capacity = max(len(keep), 1024)
        for col in self._cols.values():
            col.take(keep, self._capacity)

    def mask(self, f: Filter, size: int) -> Mask:
        """Which of labels ``0 .. size-1`` satisfy ``f``."""
        self._ensure(size)
        match f:
            case Eq(field=name, value=value):
                return self._eq(name, value, size)
            case Ne(field=name, value=value):
                return ~self._eq(name, value, size)
            case In(field=name, values=values, negate=negate):
                out = np.zeros(size, dtype=bool)
                for v in values:
                    out |= self._eq(name, v, size)
                return ~out if negate else out
            case Range():
                return self._range(f, size)
            case And(items=items):
                out = np.ones(size, dtype=bool)
                for item in items:
                    out &= self.mask(item, size)
                return out
            case Or(items=items):
                out = np.zeros(size, dtype=bool)
                for item in items:
                    out |= self.mask(item, size)
                return out
            case Not(item=item):
                return ~self.mask(item, size)
        raise TypeError(f"not a filter: {f!r}")

    def _eq(self, name: str, value: object, size: int) -> Mask:
        col = self._cols.get(name)
        if col is None:
            return np.zeros(size, dtype=bool)
        kind = col.kind[:size]
        if value is None:
            return _bool(kind == NULL)
        if isinstance(value, bool):
            return _bool((kind == BOOL) & (col.num[:size] == float(value)))
        if isinstance(value, int | float):
            return _bool((kind == NUM) & (col.num[:size] == float(value)))
        if isinstance(value, str):
            code = col.strings.get(value)
            if code is None:
                return np.zeros(size, dtype=bool)
            return _bool(col.code[:size] == code)  # codes are set for strings only
        return np.zeros(size, dtype=bool)

    def _range(self, f: Range, size: int) -> Mask:
        col = self._cols.get(f.field)
        if col is None:
            return np.zeros(size, dtype=bool)
        kind = col.kind[:size]
        out = _bool(kind != MISSING)
        for name, op in _OPS.items():
            bound = getattr(f, name)
            if bound is None:
                continue
            if isinstance(bound, bool):
                return np.zeros(size, dtype=bool)
            if isinstance(bound, int | float):
                out &= (kind == NUM) & op(col.num[:size], float(bound))
            elif isinstance(bound, str):
                codes = [c for s, c in col.strings.items() if op(s, bound)]
                out &= (kind == STR) & np.isin(col.code[:size], codes)
            else:
                return np.zeros(size, dtype=bool)
        return out

    @property
    def nbytes(self) -> int:
        return sum(c.kind.nbytes + c.num.nbytes + c.code.nbytes for c in self._cols.values())
