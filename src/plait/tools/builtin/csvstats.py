"""CSV analysis: rows, columns, and per-column statistics.

A column is numeric when every non-empty cell reads as a finite number (``1``, ``-2.5``,
``1e3``); it then reports count, min, max, mean and sum (integers stay integers). Other
columns report count, distinct values and the most frequent values. Empty cells count as
missing in both.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from typing import Annotated, Literal

from pydantic import Field

from plait.tools.errors import ToolArgumentError, ToolLimitExceeded
from plait.tools.tool import tool

__all__ = ["analyze_csv", "csv_tool"]

MAX_ROWS = 100_000
MAX_COLUMNS = 500


def _number(cell: str) -> int | float | None:
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _column(cells: list[str], top: int) -> dict[str, object]:
    present = [c.strip() for c in cells if c.strip()]
    stats: dict[str, object] = {"count": len(present), "missing": len(cells) - len(present)}
    if not present:
        stats["type"] = "empty"
        return stats
    numbers = [_number(c) for c in present]
    if all(n is not None for n in numbers):
        values = [n for n in numbers if n is not None]
        total = sum(values)
        stats.update(type="integer" if all(isinstance(v, int) for v in values) else "number",
                     min=min(values), max=max(values), mean=total / len(values), sum=total)
        return stats
    counts = Counter(present)
    stats.update(type="text", distinct=len(counts),
                 top=[{"value": v, "count": n} for v, n in counts.most_common(top)])
    return stats


def analyze_csv(text: str, *, delimiter: str | None = None,
                header: Literal["auto", "yes", "no"] = "auto", top: int = 5
                ) -> dict[str, object]:
    """Rows, columns and per-column statistics of CSV ``text``."""
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:64 * 1024], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise ToolArgumentError.single("text", f"not readable as CSV: {exc}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) > MAX_ROWS + 1:
        raise ToolLimitExceeded(f"more than {MAX_ROWS} rows", limit="max_rows")
    if not rows:
        return {"rows": 0, "columns": [], "column_stats": {}, "delimiter": delimiter}
    if header == "auto":
        first = [c.strip() for c in rows[0]]
        has_header = (len(rows) > 1 and all(c and _number(c) is None for c in first)
                      and len(set(first)) == len(first))
    else:
        has_header = header == "yes"
    width = max(len(r) for r in rows)
    if width > MAX_COLUMNS:
        raise ToolLimitExceeded(f"more than {MAX_COLUMNS} columns", limit="max_columns")
    names = [c.strip() for c in rows[0]] if has_header else []
    names += [f"column_{i + 1}" for i in range(len(names), width)]
    names = [n or f"column_{i + 1}" for i, n in enumerate(names)]
    seen: Counter[str] = Counter()
    for i, name in enumerate(names):
        seen[name] += 1
        if seen[name] > 1:
            names[i] = f"{name}_{seen[name]}"
    body = rows[1:] if has_header else rows
    columns = {name: [r[i] if i < len(r) else "" for r in body] for i, name in enumerate(names)}
    return {"rows": len(body), "columns": names, "delimiter": delimiter,
            "column_stats": {name: _column(cells, top) for name, cells in columns.items()}}


@tool(name="csv_analyze")
def csv_tool(text: str, delimiter: Annotated[str, Field(min_length=1, max_length=1)]
             | None = None, header: Literal["auto", "yes", "no"] = "auto",
             top: Annotated[int, Field(ge=1, le=50)] = 5) -> dict[str, object]:
    """Analyze CSV text: row count, column names, and per-column statistics (count, missing,
    min, max, mean and sum for numeric columns; distinct and most frequent values for text).

    Args:
        text: The CSV content.
        delimiter: The field separator; detected if not given.
        header: Whether the first row holds column names: "yes", "no", or "auto" (yes when
            its cells are distinct, non-empty and not numbers).
        top: How many most frequent values to report for text columns.
    """
    return analyze_csv(text, delimiter=delimiter, header=header, top=top)
