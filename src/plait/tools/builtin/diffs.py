"""Unified diffs of two texts."""

from __future__ import annotations

import difflib
from typing import Annotated

from pydantic import Field

from plait.tools.tool import tool

__all__ = ["diff_tool"]


@tool(name="diff")
def diff_tool(old: str, new: str, old_name: str = "old", new_name: str = "new",
              context: Annotated[int, Field(ge=0, le=100)] = 3) -> dict[str, object]:
    """Compare two texts line by line and return a unified diff.

    Args:
        old: The original text.
        new: The changed text.
        old_name: Label of the original in the diff header.
        new_name: Label of the changed text in the diff header.
        context: Unchanged lines shown around each change.
    """
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    lines = []
    for line in difflib.unified_diff(old_lines, new_lines, old_name, new_name, n=context):
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return {"diff": "".join(lines), "changed": bool(lines), "added": added,
            "removed": removed}
