"""docs/benchmarks.md quotes bench/results/engine.md verbatim: figures in the docs are the
figures the last benchmark run wrote."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tables(text: str) -> list[str]:
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current))
            current = []
    if current:
        tables.append("\n".join(current))
    return tables


def test_every_table_in_the_benchmarks_page_is_in_the_results() -> None:
    results = (ROOT / "bench" / "results" / "engine.md").read_text()
    page_tables = _tables((ROOT / "docs" / "benchmarks.md").read_text())
    assert page_tables, "docs/benchmarks.md quotes no table"
    for table in page_tables:
        assert table in results, f"stale table in docs/benchmarks.md:\n{table[:200]}"
