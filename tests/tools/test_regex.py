from __future__ import annotations

import pytest

from plait.tools import ToolArgumentError, ToolLimitExceeded, ToolTimeout
from plait.tools.builtin import RegexTool

regex_tool = RegexTool(time_limit=0.1)


async def test_search_match_fullmatch() -> None:
    found = await regex_tool.call({"operation": "search", "pattern": r"(?P<word>b\w+)",
                                   "text": "a bird"})
    assert found == {"match": "bird", "start": 2, "end": 6, "groups": ["bird"],
                     "named": {"word": "bird"}}
    assert await regex_tool.call({"operation": "match", "pattern": "b", "text": "ab"}) is None
    whole = await regex_tool.call({"operation": "fullmatch", "pattern": "a.",
                                   "text": "AB", "flags": ["IGNORECASE"]})
    assert whole["match"] == "AB"  # type: ignore[index]


async def test_findall_with_cap() -> None:
    found = await regex_tool.call({"operation": "findall", "pattern": r"\d+",
                                   "text": "1 22 333", "count": 2})
    assert [m["match"] for m in found] == ["1", "22"]  # type: ignore[index,union-attr]
    lines = await regex_tool.call({"operation": "findall", "pattern": "^x", "text": "x\nx",
                                   "flags": ["MULTILINE"]})
    assert len(lines) == 2  # type: ignore[arg-type]


async def test_sub_and_split() -> None:
    assert await regex_tool.call({"operation": "sub", "pattern": r"(\w+)@(\w+)",
                                  "replacement": r"\2 at \g<1>", "text": "me@home, you@work",
                                  "count": 1}) == {"text": "home at me, you@work", "count": 1}
    assert await regex_tool.call({"operation": "split", "pattern": r"\s*,\s*",
                                  "text": "a , b,c"}) == ["a", "b", "c"]


async def test_errors() -> None:
    with pytest.raises(ToolArgumentError, match="invalid pattern"):
        await regex_tool.call({"operation": "search", "pattern": "(", "text": ""})
    with pytest.raises(ToolArgumentError, match="replacement"):
        await regex_tool.call({"operation": "sub", "pattern": "a", "text": "a"})
    with pytest.raises(ToolArgumentError, match="invalid replacement"):
        await regex_tool.call({"operation": "sub", "pattern": "a", "text": "a",
                               "replacement": r"\9"})
    with pytest.raises(ToolArgumentError):
        await regex_tool.call({"operation": "search", "pattern": "a", "text": "a",
                               "flags": ["LOCALE"]})


@pytest.mark.parametrize(("pattern", "text"), [
    (r"(a|aa)+$", "a" * 40 + "b"),
    (r"(x+x+)+y", "x" * 5000),
])
async def test_catastrophic_patterns_time_out(pattern: str, text: str) -> None:
    with pytest.raises(ToolTimeout, match="catastrophic"):
        await regex_tool.call({"operation": "search", "pattern": pattern, "text": text})


async def test_size_limits() -> None:
    small = RegexTool(max_text=100, max_pattern=10)
    with pytest.raises(ToolLimitExceeded):
        await small.call({"operation": "search", "pattern": "a", "text": "a" * 101})
    with pytest.raises(ToolArgumentError):
        await small.call({"operation": "search", "pattern": "a" * 11, "text": "a"})
    with pytest.raises(ToolLimitExceeded, match="replacements"):
        await small.call({"operation": "sub", "pattern": "", "text": "a" * 100,
                          "replacement": "x" * 1000})
