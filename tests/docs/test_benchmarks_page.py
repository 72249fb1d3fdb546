"""docs/benchmarks.md quotes the benchmarks' result pages (bench/results/*.md: engine.md,
llm.md, ...) verbatim: figures in the docs are the figures the last benchmark runs wrote."""

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
    results = {
        path.name: path.read_text()
        for path in sorted((ROOT / "bench" / "results").glob("*.md"))
        if "-quick" not in path.stem and "-partial" not in path.stem
    }
    assert "engine.md" in results, "bench/results/engine.md is missing"
    page_tables = _tables((ROOT / "docs" / "benchmarks.md").read_text())
    assert page_tables, "docs/benchmarks.md quotes no table"
    for table in page_tables:
        assert any(table in text for text in results.values()), (
            f"stale table in docs/benchmarks.md (in none of {sorted(results)}):\n{table[:200]}"
        )
