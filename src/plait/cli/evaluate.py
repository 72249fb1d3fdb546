"""``plait eval retrieval DIR``: nDCG@10, recall@10, recall@100 and MRR@10 of vector, BM25 and
hybrid retrieval on a BEIR-layout dataset, with the settings' embedder (and its cache)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from plait.cli.console import err_console, out_console, print_json
from plait.cli.rag import progress_bar
from plait.cli.wiring import knowledge, settings
from plait.errors import UsageError
from plait.rag.evaluation.runner import (
    DEFAULT_METRICS,
    METHODS,
    EvalReport,
    HybridSettings,
    evaluate_retrieval,
)

__all__ = ["EvalOptions", "eval_retrieval_command"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalOptions:
    dataset: str
    methods: Sequence[str] = METHODS
    split: str = "test"
    fusion: str = "rrf"
    alpha: float = 0.5
    ignore_identical_ids: bool = False
    json_output: bool = False


async def _evaluate(options: EvalOptions) -> EvalReport:
    k = knowledge(settings())
    try:
        async with progress_bar(err_console(), enabled=not options.json_output) as bar:
            return await evaluate_retrieval(
                options.dataset, embedder=k.embedder(), methods=options.methods,
                split=options.split, ignore_identical_ids=options.ignore_identical_ids,
                hybrid=HybridSettings(fusion=options.fusion,  # type: ignore[arg-type]
                                      alpha=options.alpha),
                progress=bar)
    finally:
        await k.close()


def eval_retrieval_command(options: EvalOptions) -> int:
    if not Path(options.dataset).is_dir():
        raise UsageError(f"{options.dataset}: not a directory (expected a BEIR dataset with "
                         "corpus.jsonl, queries.jsonl and qrels/)")
    unknown = [m for m in options.methods if m not in METHODS]
    if unknown:
        raise UsageError(f"unknown method(s) {', '.join(unknown)}; use {', '.join(METHODS)}")
    report = asyncio.run(_evaluate(options))
    if options.json_output:
        for row in report.rows():
            print_json({"dataset": report.dataset, **row}, indent=None)
        return 0
    table = Table(title=f"{report.dataset}: {report.documents} documents, {report.queries} "
                        f"queries, embedder {report.embedder}", title_justify="left")
    table.add_column("method")
    for metric in DEFAULT_METRICS:
        table.add_column(metric, justify="right")
    table.add_column("seconds", justify="right")
    for row in report.rows():
        table.add_row(str(row["method"]), *(f"{float(row[m]):.4f}" for m in DEFAULT_METRICS),
                      f"{float(row['seconds']):.1f}")
    out_console().print(table)
    return 0
