"""json_query, csv_analyze, validate_json."""

from __future__ import annotations

import pytest

from plait.tools import ToolArgumentError, ToolLimitExceeded
from plait.tools.builtin import csv_tool, json_query_tool, validate_json_tool
from plait.tools.builtin.csvstats import MAX_COLUMNS

DATA = {"items": [{"name": "tea", "price": 3}, {"name": "cake", "price": 12},
                  {"name": "pie", "price": 15}], "shop": {"open": True}}


@pytest.mark.parametrize(("query", "expected"), [
    ("items[?price > `10`].name", ["cake", "pie"]),
    ("length(items)", 3),
    ("items[0]", {"name": "tea", "price": 3}),
    ("shop.open", True),
    ("max_by(items, &price).name", "pie"),
    ("items[*].{n: name}", [{"n": "tea"}, {"n": "cake"}, {"n": "pie"}]),
    ("nothing.here", None),
])
async def test_json_query(query: str, expected: object) -> None:
    assert await json_query_tool.call({"data": DATA, "query": query}) == expected


async def test_json_query_parses_json_text() -> None:
    assert await json_query_tool.call({"data": '{"a": [1, 2]}', "query": "a[1]"}) == 2
    assert await json_query_tool.call({"data": "plain", "query": "@"}) == "plain"


async def test_json_query_errors() -> None:
    with pytest.raises(ToolArgumentError, match="invalid JMESPath"):
        await json_query_tool.call({"data": DATA, "query": "items[?"})
    with pytest.raises(ToolArgumentError, match="the query failed"):
        await json_query_tool.call({"data": DATA, "query": "length(`1`)"})


CSV = """name,age,city,score
Ada,36,London,9.5
Alan,41,London,8
Grace,,New York,7.25
Linus,28,Helsinki,
"""


async def test_csv_statistics() -> None:
    result = await csv_tool.call({"text": CSV})
    assert result == {
        "rows": 4, "columns": ["name", "age", "city", "score"], "delimiter": ",",
        "column_stats": {
            "name": {"count": 4, "missing": 0, "type": "text", "distinct": 4,
                     "top": [{"value": v, "count": 1} for v in ("Ada", "Alan", "Grace",
                                                                 "Linus")]},
            "age": {"count": 3, "missing": 1, "type": "integer", "min": 28, "max": 41,
                    "mean": 35.0, "sum": 105},
            "city": {"count": 4, "missing": 0, "type": "text", "distinct": 3,
                     "top": [{"value": "London", "count": 2},
                             {"value": "New York", "count": 1},
                             {"value": "Helsinki", "count": 1}]},
            "score": {"count": 3, "missing": 1, "type": "number", "min": 7.25, "max": 9.5,
                      "mean": 8.25, "sum": 24.75},
        }}


async def test_csv_delimiters_headers_and_ragged_rows() -> None:
    sniffed = await csv_tool.call({"text": "a;b\n1;2\n3;4\n"})
    assert sniffed["delimiter"] == ";"  # type: ignore[index]
    assert sniffed["columns"] == ["a", "b"]  # type: ignore[index]
    result = await csv_tool.call({"text": "1;2\n3;4;5\n", "delimiter": ";"})
    assert isinstance(result, dict)
    assert result["columns"] == ["column_1", "column_2", "column_3"]
    assert result["rows"] == 2
    assert result["column_stats"]["column_3"]["missing"] == 1  # type: ignore[index]
    forced = await csv_tool.call({"text": "a\tb\na\tb\n", "header": "yes", "delimiter": "\t"})
    assert forced["columns"] == ["a", "b"]  # type: ignore[index]
    assert forced["rows"] == 1  # type: ignore[index]


async def test_csv_duplicate_and_empty_header_names() -> None:
    result = await csv_tool.call({"text": "x,x,y\n1,2,3\n", "header": "yes"})
    assert result["columns"] == ["x", "x_2", "y"]  # type: ignore[index]


async def test_csv_empty_and_too_wide() -> None:
    assert await csv_tool.call({"text": ""}) == {"rows": 0, "columns": [],
                                                 "column_stats": {}, "delimiter": ","}
    with pytest.raises(ToolLimitExceeded):
        await csv_tool.call({"text": ",".join(["1"] * (MAX_COLUMNS + 1))})


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "minLength": 2},
                   "age": {"type": "integer", "minimum": 0},
                   "email": {"type": "string", "format": "email"},
                   "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}}},
    "required": ["name", "age"],
    "additionalProperties": False,
    "$defs": {"tag": {"type": "string", "enum": ["a", "b"]}},
}


async def test_valid_data() -> None:
    assert await validate_json_tool.call({"data": {"name": "Ada", "age": 36, "tags": ["a"]},
                                          "schema": SCHEMA}) == {
        "valid": True, "error_count": 0, "errors": []}


async def test_every_violation_is_listed_with_its_location() -> None:
    result = await validate_json_tool.call({"data": {
        "name": "A", "age": -1, "email": "not-an-email", "tags": ["a", "z"], "extra": 1},
        "schema": SCHEMA})
    assert isinstance(result, dict)
    assert result["valid"] is False
    found = {(e["path"], e["keyword"]) for e in result["errors"]}  # type: ignore[index,union-attr]
    assert found == {("/", "additionalProperties"), ("/age", "minimum"),
                     ("/email", "format"), ("/name", "minLength"), ("/tags/1", "enum")}
    capped = await validate_json_tool.call({"data": {"name": "A", "age": -1},
                                            "schema": SCHEMA, "max_errors": 1})
    assert capped["error_count"] == 2  # type: ignore[index]
    assert len(capped["errors"]) == 1  # type: ignore[index,arg-type]


async def test_formats_can_be_ignored() -> None:
    result = await validate_json_tool.call({"data": {"name": "Ada", "age": 1, "email": "x"},
                                            "schema": SCHEMA, "check_formats": False})
    assert result["valid"] is True  # type: ignore[index]


async def test_invalid_schemas_and_remote_refs() -> None:
    with pytest.raises(ToolArgumentError, match="not a valid JSON Schema"):
        await validate_json_tool.call({"data": 1, "schema": {"type": "nonsense"}})
    with pytest.raises(ToolArgumentError, match="unresolvable reference"):
        await validate_json_tool.call({"data": 1,
                                       "schema": {"$ref": "https://example.com/s.json"}})


async def test_draft_is_taken_from_dollar_schema() -> None:
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "number",
              "minimum": 5, "exclusiveMinimum": True}
    result = await validate_json_tool.call({"data": 5, "schema": schema})
    assert result["valid"] is False  # type: ignore[index]
