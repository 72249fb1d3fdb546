"""``plait ingest``, ``plait search``, ``plait ask`` and ``plait collections``: RAG from the
command line, on the settings' vector store (``PLAIT_RAG_STORE``, default the embedded store
under ``PLAIT_HOME``) and embedder (``PLAIT_EMBEDDER``, default the local MiniLM model, with a
persistent cache)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from plait.cli.console import err_console, out_console, print_json
from plait.cli.wiring import EngineParts, knowledge, settings
from plait.cli.wiring import engine as wired_engine
from plait.errors import UsageError
from plait.nodes.defaults import Flow
from plait.nodes.knowledge import Knowledge
from plait.rag.chunkers import chunker_from_config
from plait.rag.filters import Filter, parse_filter
from plait.rag.ingest import Ingestor, IngestReport
from plait.rag.ingest import Progress as JobProgress
from plait.rag.retrieval import Retriever
from plait.rag.types import CollectionStats, Hit
from plait.settings import Settings

__all__ = ["AskOptions", "IngestOptions", "SearchOptions", "ask_command", "collections_command",
           "ingest_command", "progress_bar", "search_command"]


@asynccontextmanager
async def opened(config: Settings) -> AsyncIterator[Knowledge]:
    """The settings' store and embedder, closed (persisted) at the end."""
    k = knowledge(config)
    try:
        yield k
    finally:
        await k.close()


@asynccontextmanager
async def progress_bar(console: Console, *, enabled: bool
                       ) -> AsyncIterator[Callable[[JobProgress], object] | None]:
    """A Rich progress bar fed by ingestion/re-embedding progress (None when disabled)."""
    if not enabled:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(p: JobProgress) -> None:
            if p.phase not in tasks:
                tasks[p.phase] = bar.add_task(p.phase, total=max(p.total, 1))
            bar.update(tasks[p.phase], completed=p.done, total=max(p.total, 1))

        yield update


def _filter(text: str | None) -> Filter | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"--filter is not valid JSON: {err.msg} at column {err.colno}") from None
    if not isinstance(data, dict):
        raise UsageError('--filter must be a JSON object, e.g. {"source": "a.md"}')
    return parse_filter(data, where="--filter")


# -- ingest ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class IngestOptions:
    paths: Sequence[str]
    collection: str
    tenant: str | None = None
    chunking: str = "auto"
    chunk_size: int | None = None
    chunk_overlap: int | None = None
    include: Sequence[str] | None = None
    exclude: Sequence[str] = ()
    prune: bool = True
    reembed: bool = False
    json_output: bool = False


def _report_table(report: IngestReport, collection: str) -> Table:
    table = Table(title=f"ingested into {collection!r} in {report.seconds:.1f}s",
                  title_justify="left", show_header=True)
    for name in ("added", "updated", "unchanged", "removed", "failed", "chunks"):
        table.add_column(name, justify="right")
    summary = report.summary()
    table.add_row(*(str(summary[n]) for n in ("added", "updated", "unchanged", "removed",
                                              "failed", "chunks")))
    return table


async def _ingest(options: IngestOptions, config: Settings) -> IngestReport:
    chunking: dict[str, object] = {"strategy": options.chunking}
    if options.chunk_size is not None:
        chunking["size"] = options.chunk_size
    if options.chunk_overlap is not None:
        chunking["overlap"] = options.chunk_overlap
    chunker = chunker_from_config(chunking)
    async with opened(config) as k:
        ingestor = Ingestor(k.store(), k.embedder(), chunker,
                            k.ref(options.collection, tenant=options.tenant),
                            reembed=options.reembed, include=options.include,
                            exclude=options.exclude)
        async with progress_bar(err_console(), enabled=not options.json_output) as bar:
            return await ingestor.ingest(list(options.paths), prune=options.prune,
                                         progress=bar)


def ingest_command(options: IngestOptions) -> int:
    from pathlib import Path

    missing = [p for p in options.paths if not Path(p).exists()]
    if missing:
        raise UsageError(f"no such file or directory: {', '.join(missing)}")
    report = asyncio.run(_ingest(options, settings()))
    if options.json_output:
        print_json({**report.summary(), "collection": options.collection,
                    "failures": [{"source": f.source, "message": f.message}
                                 for f in report.failed]})
    else:
        out = out_console()
        out.print(_report_table(report, options.collection))
        for failure in report.failed:
            err_console().print(Text.assemble(("✗ ", "red"), str(failure)))
    return 1 if report.failed else 0


# -- search ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class SearchOptions:
    query: str
    collection: str
    tenant: str | None = None
    mode: str = "hybrid"
    top_k: int = 5
    where: str | None = None
    mmr: bool = False
    json_output: bool = False


async def _search(options: SearchOptions, config: Settings) -> list[Hit]:
    where = _filter(options.where)
    async with opened(config) as k:
        ref = k.ref(options.collection, tenant=options.tenant)
        store = k.store()
        if await store.get_collection(ref) is None:
            raise UsageError(f"no collection {options.collection!r} (tenant {ref.tenant!r}); "
                             f"create it with: plait ingest PATH --collection "
                             f"{options.collection}")
        retriever = Retriever(store, None if options.mode == "keyword" else k.embedder(), ref,
                              mode=options.mode, top_k=options.top_k,  # type: ignore[arg-type]
                              mmr=options.mmr, where=where)
        return await retriever.retrieve(options.query)


def _snippet(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def search_command(options: SearchOptions) -> int:
    if not options.query.strip():
        raise UsageError("the search query is empty")
    hits = asyncio.run(_search(options, settings()))
    if options.json_output:
        print_json([{"n": n, "id": h.id, "doc_id": h.doc_id, "score": h.score,
                     "text": h.text, "metadata": dict(h.metadata)}
                    for n, h in enumerate(hits, start=1)])
        return 0
    out = out_console()
    if not hits:
        out.print("no matches")
        return 0
    table = Table(show_header=True, show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("source")
    table.add_column("text")
    for n, hit in enumerate(hits, start=1):
        source = str(hit.metadata.get("source") or hit.doc_id)
        table.add_row(str(n), f"{hit.score:.3f}", source, _snippet(hit.text))
    out.print(table)
    return 0


# -- ask ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class AskOptions:
    question: str
    collection: str
    tenant: str | None = None
    model: str | None = None
    top_k: int = 4
    mode: str = "hybrid"
    json_output: bool = False


def ask_flow(options: AskOptions) -> Flow:
    """The workflow ``plait ask`` runs: retrieve → answer."""
    f = Flow("ask")
    question = f.input("question", type="string")
    hits = f.node("retrieve", "retrieve", inputs={"query": question},
                  collection=options.collection, tenant=options.tenant, mode=options.mode,
                  top_k=options.top_k)
    f.output("answer", f.node("answer", "answer", inputs={"question": question, "hits": hits},
                              model=options.model), node_id="answer_out")
    return f


def ask_command(options: AskOptions) -> int:
    if not options.question.strip():
        raise UsageError("the question is empty")
    config = settings()

    async def go() -> dict[str, object]:
        with wired_engine(EngineParts(model=options.model), config=config) as engine:
            try:
                ref = engine.knowledge.ref(options.collection, tenant=options.tenant)
                if await engine.knowledge.store().get_collection(ref) is None:
                    raise UsageError(
                        f"no collection {options.collection!r} (tenant {ref.tenant!r}); "
                        f"create it with: plait ingest PATH --collection {options.collection}")
                result = await engine.run(ask_flow(options).build(engine),
                                          {"question": options.question})
            finally:
                await engine.knowledge.close()
        result.raise_for_status()
        answer = result.outputs["answer"]
        assert isinstance(answer, dict)
        return answer

    status = err_console().status("retrieving and answering…") if not options.json_output \
        else None
    if status is not None:
        with status:
            answer = asyncio.run(go())
    else:
        answer = asyncio.run(go())
    if options.json_output:
        print_json({k: v for k, v in answer.items() if k != "text"})
    else:
        out_console().print(str(answer["text"]), markup=False)
    return 0


# -- collections ----------------------------------------------------------------------------
def collections_command(action: str, name: str | None, *, tenant: str | None,
                        json_output: bool) -> int:
    config = settings()

    async def go() -> object:
        async with opened(config) as k:
            store = k.store()
            if action == "list":
                infos = await store.list_collections(tenant or k.tenant)
                stats = [await store.stats(i.ref) for i in infos]
                return stats
            if name is None:
                raise UsageError(f"plait collections {action} needs a collection NAME")
            ref = k.ref(name, tenant=tenant)
            if action == "stats":
                if await store.get_collection(ref) is None:
                    raise UsageError(f"no collection {name!r} (tenant {ref.tenant!r})")
                return await store.stats(ref)
            if action == "drop":
                if not await store.drop_collection(ref):
                    raise UsageError(f"no collection {name!r} (tenant {ref.tenant!r})")
                return {"dropped": name, "tenant": ref.tenant}
            raise UsageError(f"unknown action {action!r}; use list, stats or drop")

    result = asyncio.run(go())
    if json_output:
        print_json(result)
        return 0
    out = out_console()
    if action == "drop":
        out.print(f"dropped collection {name!r}")
        return 0
    rows = cast(list[CollectionStats], result if isinstance(result, list) else [result])
    if not rows:
        out.print("no collections yet; create one with: plait ingest PATH --collection NAME")
        return 0
    table = Table(show_header=True)
    for column in ("collection", "namespace", "chunks", "documents", "dim", "embedder",
                   "size"):
        table.add_column(column, justify="right" if column in ("chunks", "documents", "dim",
                                                               "size") else "left")
    for s in rows:
        size = "" if s.bytes is None else f"{s.bytes / 1e6:.1f} MB"
        table.add_row(s.ref.name, s.ref.namespace, str(s.count), str(s.documents), str(s.dim),
                      s.embedder or "", size)
    out.print(table)
    return 0
