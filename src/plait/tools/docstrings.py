"""Read a tool's description and parameter descriptions from its docstring.

The description is the first paragraph. Parameter descriptions come from any of the three
common styles::

    Google              reST                         NumPy
    Args:               :param city: The city.       Parameters
        city: The       :param int days: How many.   ----------
            city.                                    city : str
        days (int): How                                  The city.
            many.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["Docstring", "parse_docstring"]

_GOOGLE_HEADER = re.compile(
    r"^(\s*)(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|"
    r"Other Parameters)\s*:\s*$")
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_ANY_GOOGLE_HEADER = re.compile(r"^\s*[A-Z][A-Za-z ]*:\s*$")
_REST_PARAM = re.compile(
    r"^:(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*?\s+)?\*{0,2}(\w+)\s*:\s*(.*)$")
_REST_FIELD = re.compile(r"^:\w+")
_NUMPY_RULE = re.compile(r"^\s*-{3,}\s*$")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}([\w, *]+?)\s*(?::.*)?$")


@dataclass(frozen=True, slots=True)
class Docstring:
    description: str = ""
    """The first paragraph, on one line."""
    params: dict[str, str] = field(default_factory=dict)
    """Parameter name -> description, on one line each."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(lines: list[str]) -> str:
    return " ".join(part.strip() for part in lines if part.strip())


def _is_section_start(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _ANY_GOOGLE_HEADER.match(line) or _REST_FIELD.match(line.strip()):
        return True
    return i + 1 < len(lines) and bool(line.strip()) and bool(_NUMPY_RULE.match(lines[i + 1]))


def _description(lines: list[str]) -> str:
    taken: list[str] = []
    for i, line in enumerate(lines):
        if not line.strip() or _is_section_start(lines, i):
            break
        taken.append(line)
    return _join(taken)


def _google(lines: list[str], params: dict[str, str]) -> None:
    i = 0
    while i < len(lines):
        header = _GOOGLE_HEADER.match(lines[i])
        i += 1
        if header is None:
            continue
        base = len(header.group(1))
        entry_indent: int | None = None
        name: str | None = None
        text: list[str] = []
        while i < len(lines):
            line = lines[i]
            if line.strip() and _indent(line) <= base:
                break
            i += 1
            if not line.strip():
                continue
            if entry_indent is None:
                entry_indent = _indent(line)
            match = _GOOGLE_ENTRY.match(line.strip()) if _indent(line) == entry_indent else None
            if match is not None:
                if name is not None:
                    params.setdefault(name, _join(text))
                name, text = match.group(1), [match.group(2)]
            elif name is not None:
                text.append(line)
        if name is not None:
            params.setdefault(name, _join(text))


def _rest(lines: list[str], params: dict[str, str]) -> None:
    name: str | None = None
    text: list[str] = []
    for line in [*lines, ":end:"]:
        stripped = line.strip()
        if _REST_FIELD.match(stripped) or not stripped:
            if name is not None:
                params.setdefault(name, _join(text))
                name = None
            match = _REST_PARAM.match(stripped)
            if match is not None:
                name, text = match.group(1), [match.group(2)]
        elif name is not None:
            text.append(line)


def _flush(params: dict[str, str], names: list[str], text: list[str]) -> None:
    for one in names:
        params.setdefault(one, _join(text))


def _numpy(lines: list[str], params: dict[str, str]) -> None:
    i = 0
    while i + 1 < len(lines):
        if not (lines[i].strip() in ("Parameters", "Other Parameters")
                and _NUMPY_RULE.match(lines[i + 1])):
            i += 1
            continue
        base = _indent(lines[i])
        i += 2
        names: list[str] = []
        text: list[str] = []
        while i < len(lines):
            line = lines[i]
            if i + 1 < len(lines) and line.strip() and _NUMPY_RULE.match(lines[i + 1]):
                break
            i += 1
            if not line.strip():
                continue
            if _indent(line) <= base:
                match = _NUMPY_ENTRY.match(line.strip())
                _flush(params, names, text)
                names = ([n.strip().lstrip("*") for n in match.group(1).split(",")]
                         if match else [])
                text = []
            else:
                text.append(line)
        _flush(params, names, text)


def parse_docstring(doc: str | None) -> Docstring:
    """The description and parameter descriptions of a docstring (any of the three styles)."""
    if not doc:
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    params: dict[str, str] = {}
    _google(lines, params)
    _rest(lines, params)
    _numpy(lines, params)
    return Docstring(_description(lines), {k: v for k, v in params.items() if v})
