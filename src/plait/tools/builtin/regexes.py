"""Regular expressions with a time limit: search, match, fullmatch, findall, sub, split.

Python's ``re`` can't be interrupted, and a pattern such as ``(a|aa)+$`` takes exponential
time on a short text. This tool uses the ``regex`` library, whose matching stops after
``timeout`` seconds, plus caps on pattern, text, match count and ``sub``'s output size.
The syntax is Python's.
"""

from __future__ import annotations

from typing import Annotated, Literal

import regex
from pydantic import Field

from plait.tools.errors import ToolArgumentError, ToolLimitExceeded, ToolTimeout
from plait.tools.tool import Tool
from plait.types import JsonValue

__all__ = ["RegexTool"]

Flag = Literal["IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE", "ASCII"]
_FLAGS = {"IGNORECASE": regex.IGNORECASE, "MULTILINE": regex.MULTILINE,
          "DOTALL": regex.DOTALL, "VERBOSE": regex.VERBOSE, "ASCII": regex.ASCII}


def _describe(m: regex.Match[str]) -> dict[str, JsonValue]:
    return {"match": m.group(0), "start": m.start(), "end": m.end(),
            "groups": list(m.groups()), "named": dict(m.groupdict())}


class _OutputTooLarge(Exception):
    pass


class RegexTool(Tool):
    """Apply a regular expression (Python syntax) to a text: search, match (at the start),
    fullmatch, findall, sub (replace) or split."""

    name = "regex"

    def __init__(self, *, time_limit: float = 1.0, max_text: int = 1_000_000,
                 max_pattern: int = 2000, max_matches: int = 1000,
                 name: str | None = None) -> None:
        self.time_limit = time_limit
        self.max_text = max_text
        self.max_pattern = max_pattern
        self.max_matches = max_matches
        super().__init__(name=name)

    def run(self, operation: Literal["search", "match", "fullmatch", "findall", "sub", "split"],
            pattern: str, text: str, replacement: str | None = None,
            flags: list[Flag] | None = None,
            count: Annotated[int, Field(ge=0)] = 0) -> JsonValue:
        """Run a regular expression.

        Args:
            operation: "search" (first match anywhere), "match" (at the start), "fullmatch"
                (the whole text), "findall" (every match), "sub" (replace matches), "split".
            pattern: The regular expression.
            text: The text to apply it to.
            replacement: For "sub": the replacement; \\1 or \\g<name> insert groups.
            flags: Any of IGNORECASE, MULTILINE, DOTALL, VERBOSE, ASCII.
            count: For "sub" and "split": at most this many (0 for all); for "findall": at
                most this many matches (0 for the tool's limit).
        """
        if len(pattern) > self.max_pattern:
            raise ToolArgumentError.single("pattern", f"longer than {self.max_pattern} chars")
        if len(text) > self.max_text:
            raise ToolLimitExceeded(f"the text is longer than {self.max_text} characters",
                                    limit="max_text")
        mask = 0
        for flag in flags or []:
            mask |= _FLAGS[flag]
        try:
            compiled = regex.compile(pattern, mask)
        except (regex.error, ValueError, OverflowError) as exc:
            raise ToolArgumentError.single("pattern", f"invalid pattern: {exc}") from None
        try:
            return self._apply(compiled, operation, text, replacement, count)
        except TimeoutError:
            raise ToolTimeout(
                f"the pattern took longer than {self.time_limit:g}s (catastrophic "
                "backtracking? avoid nested or overlapping quantifiers like (a|aa)+)",
                seconds=self.time_limit) from None

    def _apply(self, compiled: regex.Pattern[str], operation: str, text: str,
               replacement: str | None, count: int) -> JsonValue:
        limit = self.time_limit
        if operation in ("search", "match", "fullmatch"):
            found = getattr(compiled, operation)(text, timeout=limit)
            return _describe(found) if found is not None else None
        if operation == "findall":
            cap = min(count or self.max_matches, self.max_matches)
            matches: list[JsonValue] = []
            for found in compiled.finditer(text, timeout=limit):
                if len(matches) >= cap:
                    break
                matches.append(_describe(found))
            return matches
        if operation == "split":
            return list(compiled.split(text, maxsplit=count, timeout=limit))
        if replacement is None:
            raise ToolArgumentError.single("replacement", "'sub' needs a replacement")
        return self._sub(compiled, text, replacement, count)

    def _sub(self, compiled: regex.Pattern[str], text: str, replacement: str,
             count: int) -> JsonValue:
        budget = max(self.max_text, len(text) * 2)
        produced = 0

        def expand(found: regex.Match[str]) -> str:
            nonlocal produced
            out = found.expand(replacement)
            produced += len(out)
            if produced > budget:
                raise _OutputTooLarge
            return out

        try:
            result, made = compiled.subn(expand, text, count=count, timeout=self.time_limit)
        except _OutputTooLarge:
            raise ToolLimitExceeded(f"the replacements exceed {budget} characters",
                                    limit="max_output") from None
        except (regex.error, IndexError) as exc:
            raise ToolArgumentError.single("replacement", f"invalid replacement: {exc}"
                                           ) from None
        return {"text": result, "count": made}
