"""Text manipulation: case, trim, split, replace, word count, truncate."""

from __future__ import annotations

import re
from typing import Annotated, Literal, assert_never

from pydantic import Field

from plait.tools.errors import ToolArgumentError
from plait.tools.tool import tool
from plait.types import JsonValue

__all__ = ["text_tool"]

Operation = Literal["upper", "lower", "title", "capitalize", "swapcase", "snake_case",
                    "camel_case", "kebab_case", "trim", "split", "replace", "word_count",
                    "truncate"]

_WORD_BOUNDARY = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_WORD = re.compile(r"\b\w[\w'-]*\b")


def _words(text: str) -> list[str]:
    return _WORD_BOUNDARY.findall(text)


def _truncate(text: str, length: int, suffix: str, whole_words: bool) -> str:
    if len(text) <= length:
        return text
    if len(suffix) >= length:
        return text[:length]
    cut = text[: length - len(suffix)]
    if whole_words and " " in cut and not text[len(cut)].isspace():
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip() + suffix


@tool(name="text")
def text_tool(operation: Operation, text: str, separator: str | None = None,
              old: str | None = None, new: str = "",
              count: Annotated[int, Field(ge=-1)] = -1,
              length: Annotated[int, Field(ge=1)] | None = None, suffix: str = "…",
              whole_words: bool = True) -> JsonValue:
    """Transform text: change case (upper, lower, title, capitalize, swapcase, snake_case,
    camel_case, kebab_case), trim, split, replace, count words, or truncate.

    Args:
        operation: What to do.
        text: The input text.
        separator: For "split": the separator (default: any whitespace); for "trim": the
            characters to strip (default: whitespace).
        old: For "replace": the text to replace.
        new: For "replace": the replacement.
        count: For "replace": at most this many replacements (-1 for all); for "split": at
            most this many splits.
        length: For "truncate": the maximum length, suffix included.
        suffix: For "truncate": appended when the text is cut.
        whole_words: For "truncate": cut at a word boundary.
    """
    match operation:
        case "upper" | "lower" | "title" | "capitalize" | "swapcase":
            return str(getattr(text, operation)())
        case "snake_case":
            return "_".join(w.lower() for w in _words(text))
        case "kebab_case":
            return "-".join(w.lower() for w in _words(text))
        case "camel_case":
            words = _words(text)
            return "".join([w.lower() for w in words[:1]] + [w.capitalize() for w in words[1:]])
        case "trim":
            return text.strip(separator)
        case "split":
            if separator == "":
                raise ToolArgumentError.single("separator", "the separator can't be empty")
            return list(text.split(separator, count))
        case "replace":
            if not old:
                raise ToolArgumentError.single("old", "'replace' needs the text to replace")
            return text.replace(old, new, count)
        case "word_count":
            return {"words": len(_WORD.findall(text)), "characters": len(text),
                    "lines": len(text.splitlines()) if text else 0,
                    "paragraphs": len([p for p in re.split(r"\n\s*\n", text) if p.strip()])}
        case "truncate":
            if length is None:
                raise ToolArgumentError.single("length", "'truncate' needs a length")
            return _truncate(text, length, suffix, whole_words)
        case _:
            assert_never(operation)
