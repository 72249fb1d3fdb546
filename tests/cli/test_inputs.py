"""Parsing ``--input KEY=VALUE`` items."""

from __future__ import annotations

import pytest

from plait.cli.inputs import parse_assignments, parse_value
from plait.errors import InputError
from plait.types import PortType


@pytest.mark.parametrize(("text", "value"), [
    ("3", 3), ("2.5", 2.5), ("true", True), ("null", None), ("[1, 2]", [1, 2]),
    ('{"a": 1}', {"a": 1}), ('"quoted"', "quoted"), ("Ada", "Ada"), ("", ""),
    ("a=b", "a=b"), ("[oops", "[oops"),
])
def test_values_are_json_when_they_parse(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_string_inputs_keep_the_text() -> None:
    assert parse_value("02134", PortType.STRING) == "02134"
    assert parse_value("true", PortType.STRING) == "true"
    assert parse_value("7", PortType.INTEGER) == 7


def test_assignments_split_on_the_first_equals_sign() -> None:
    assert parse_assignments(["q=a=b", "n=1", " spaced =x"]) == {
        "q": "a=b", "n": 1, "spaced": "x"}


def test_every_bad_item_is_reported_at_once() -> None:
    with pytest.raises(InputError) as caught:
        parse_assignments(["novalue", "=1", "a=1", "a=2"])
    codes = [p.code for p in caught.value.problems]
    assert codes == ["bad_input_syntax", "bad_input_syntax", "duplicate_input"]
    assert caught.value.problems[0].location == "--input 'novalue'"
