"""How stored values become text: compact JSON that keeps key order, and the canonical form
whose blake3 hash identifies an output.

Writing uses orjson (about ten times faster than the standard library on large values) and falls
back to :mod:`json` for what orjson refuses: integers beyond 64 bits, lone surrogates (kept as
``\\u`` escapes), non-string keys (written as strings, as :func:`json.dumps` does). ``NaN`` and
``Infinity`` are refused (PostgreSQL and other JSON readers refuse them). Reading uses :mod:`json`,
which keeps big integers exact. The canonical form also sorts keys, so equal values hash equally
whatever their key order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import cast

import orjson
from blake3 import blake3

from plait.errors import UsageError
from plait.graph.durability import JSONValue

__all__ = ["canonical_json", "dump_json", "encode_output", "load_json", "output_hash"]

_SCALARS = (str, int, float, bool, type(None))


def dump_json(value: JSONValue, *, what: str) -> str:
    """``value`` as compact JSON text; ``what`` names it in the error for a value JSON cannot
    hold (an object, ``NaN``, a key that is not a string)."""
    return _dump(value, what)[0]


def encode_output(value: JSONValue, *, what: str) -> tuple[str, str]:
    """A node output's stored JSON text and its :func:`output_hash`, serializing only once when
    sorting keys cannot change the text (strings, numbers, flat lists: most outputs)."""
    text, exact = _dump(value, what)
    if exact and (isinstance(value, _SCALARS) or _flat_list(value)):
        return text, blake3(text.encode("utf-8")).hexdigest()
    return text, output_hash(value)


def _dump(value: JSONValue, what: str) -> tuple[str, bool]:
    """The text, and whether it is orjson's (the canonical form's encoder)."""
    try:
        data = orjson.dumps(value)
    except TypeError:
        return _dump_stdlib(value, what), False
    if b"null" in data and _not_finite(value):  # orjson writes NaN and Infinity as null
        raise UsageError(f"{what} is not storable as JSON: NaN and Infinity are not JSON")
    return data.decode("utf-8"), True


def _dump_stdlib(value: JSONValue, what: str) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{what} is not storable as JSON: {exc}") from exc
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: keep them as \u escapes
            return json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text


def _not_finite(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, Mapping):
        return any(_not_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_not_finite(v) for v in value)
    return False


def load_json(text: str | bytes | None) -> JSONValue:
    """The value of stored JSON text (SQL NULL reads as ``None``)."""
    if text is None:
        return None
    return cast(JSONValue, json.loads(text))


def load_object(text: str | bytes | None) -> dict[str, JSONValue]:
    value = load_json(text)
    return cast(dict[str, JSONValue], value) if isinstance(value, dict) else {}


def load_list(text: str | bytes | None) -> list[Mapping[str, JSONValue]]:
    value = load_json(text)
    return cast(list[Mapping[str, JSONValue]], value) if isinstance(value, list) else []


def canonical_json(value: JSONValue) -> bytes:
    """The canonical UTF-8 JSON of ``value``: orjson's compact form with sorted keys (the
    standard library's, sorted, for values orjson refuses; lone surrogates pass through as
    their UTF-8 code units)."""
    try:
        data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                              allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"value is not storable as JSON: {exc}") from exc
        return text.encode("utf-8", "surrogatepass")
    if b"null" in data and _not_finite(value):
        raise UsageError("value is not storable as JSON: NaN and Infinity are not JSON")
    return data


def output_hash(value: JSONValue) -> str:
    """The blake3 hex digest of ``value``'s canonical JSON (``lineage["output_hash"]``)."""
    return blake3(canonical_json(value)).hexdigest()


def _flat_list(value: object) -> bool:
    return (isinstance(value, Sequence) and not isinstance(value, str)
            and all(isinstance(item, _SCALARS) for item in value))
