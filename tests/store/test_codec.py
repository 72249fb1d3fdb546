"""Stored JSON text and the canonical output hash."""

from __future__ import annotations

import json

import pytest
from blake3 import blake3

from plait.errors import UsageError
from plait.store.codec import canonical_json, dump_json, encode_output, load_json, output_hash

from .conformance_checkpoints import JSON_VALUES


@pytest.mark.parametrize("value", [*JSON_VALUES, "lone \ud800 surrogate", {"k": [2**80]}],
                         ids=lambda v: repr(v)[:30])
def test_values_round_trip_exactly(value: object) -> None:
    text = dump_json(value, what="v")
    assert json.dumps(load_json(text)) == json.dumps(value)
    stored, digest = encode_output(value, what="v")
    assert stored == text
    assert digest == output_hash(value), "one hash whichever way it is computed"


def test_text_is_compact_utf8_in_key_order() -> None:
    assert dump_json({"b": [1, 2.5], "a": "é"}, what="v") == '{"b":[1,2.5],"a":"é"}'
    assert canonical_json({"b": [1, 2.5], "a": "é"}) == '{"a":"é","b":[1,2.5]}'.encode()


def test_the_hash_ignores_key_order_only() -> None:
    assert output_hash({"a": 1, "b": {"y": 2, "x": 3}}) == output_hash(
        {"b": {"x": 3, "y": 2}, "a": 1})
    assert output_hash({"a": 1}) != output_hash({"a": 1.0})
    assert output_hash("2") != output_hash(2)
    assert output_hash("text") == blake3(b'"text"').hexdigest()


@pytest.mark.parametrize("value", [float("nan"), [1.0, float("inf")], {"a": {"b": -float("inf")}},
                                   object(), {"when": b"bytes"}])
def test_what_json_cannot_hold_is_refused(value: object) -> None:
    with pytest.raises(UsageError, match="the output of n is not storable as JSON"):
        dump_json(value, what="the output of n")
    with pytest.raises(UsageError, match="not storable as JSON"):
        output_hash(value)


def test_nulls_are_not_mistaken_for_nan() -> None:
    assert dump_json({"a": None, "b": "null", "c": 1.5}, what="v") == (
        '{"a":null,"b":"null","c":1.5}')


def test_non_string_keys_become_strings_as_json_does() -> None:
    assert dump_json({1: "a"}, what="v") == '{"1":"a"}'
