from __future__ import annotations

import pytest

from plait.tools import ToolArgumentError
from plait.tools.builtin import text_tool


@pytest.mark.parametrize(("operation", "text", "expected"), [
    ("upper", "Hello World", "HELLO WORLD"),
    ("lower", "Hello World", "hello world"),
    ("title", "hello world", "Hello World"),
    ("capitalize", "hello World", "Hello world"),
    ("swapcase", "Hello", "hELLO"),
    ("snake_case", "Hello World-wide HTTPServer v2", "hello_world_wide_http_server_v_2"),
    ("kebab_case", "parseJSONValue", "parse-json-value"),
    ("camel_case", "user_account id", "userAccountId"),
    ("trim", "  padded \n", "padded"),
])
async def test_case_and_trim(operation: str, text: str, expected: str) -> None:
    assert await text_tool.call({"operation": operation, "text": text}) == expected


async def test_trim_characters_and_split() -> None:
    assert await text_tool.call({"operation": "trim", "text": "xxhixx",
                                 "separator": "x"}) == "hi"
    assert await text_tool.call({"operation": "split", "text": "a b  c"}) == ["a", "b", "c"]
    assert await text_tool.call({"operation": "split", "text": "a,b,c", "separator": ",",
                                 "count": 1}) == ["a", "b,c"]
    with pytest.raises(ToolArgumentError, match="empty"):
        await text_tool.call({"operation": "split", "text": "abc", "separator": ""})


async def test_replace() -> None:
    assert await text_tool.call({"operation": "replace", "text": "a-a-a", "old": "a",
                                 "new": "b", "count": 2}) == "b-b-a"
    with pytest.raises(ToolArgumentError, match="replace"):
        await text_tool.call({"operation": "replace", "text": "abc"})


async def test_word_count() -> None:
    result = await text_tool.call({"operation": "word_count",
                                   "text": "It's a test.\nTwo lines, well-formed.\n\nNew para."})
    assert result == {"words": 8, "characters": 47, "lines": 4, "paragraphs": 2}
    assert await text_tool.call({"operation": "word_count", "text": ""}) == {
        "words": 0, "characters": 0, "lines": 0, "paragraphs": 0}


@pytest.mark.parametrize(("length", "whole_words", "expected"), [
    (100, True, "The quick brown fox"),
    (12, True, "The quick…"),
    (12, False, "The quick b…"),
    (1, True, "T"),
])
async def test_truncate(length: int, whole_words: bool, expected: str) -> None:
    assert await text_tool.call({"operation": "truncate", "text": "The quick brown fox",
                                 "length": length, "whole_words": whole_words}) == expected


async def test_truncate_needs_a_length() -> None:
    with pytest.raises(ToolArgumentError) as info:
        await text_tool.call({"operation": "truncate", "text": "x"})
    assert info.value.problems[0].location == "length"
