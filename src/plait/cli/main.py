"""The ``plait`` command: the Typer app, its commands' options and help, and the entry point.

Each command's work lives in its own module; this file only declares the interface and routes
every error through :func:`plait.cli.errors.reporting` (one clear message, the right exit
code, a traceback only with ``--debug``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from plait.cli.console import CliState, out_console, print_json
from plait.cli.errors import reporting
from plait.cli.runs import runs_app
from plait.errors import UsageError
from plait.graph.durability import Durability
from plait.graph.spec import Profile

__all__ = ["app", "main"]

app = typer.Typer(
    name="plait",
    help="Build, generate, validate, run and inspect plait workflows (YAML or JSON files), "
         "and chat with models.\n\n"
         "Exit codes: 0 success · 1 the run failed · 2 bad usage, input, file or workflow · "
         "3 the run waits for answers · 130 interrupted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
)

WorkflowArg = Annotated[str, typer.Argument(
    metavar="WORKFLOW",
    help="A workflow file (.yaml, .yml or .json), or the name of one in the project's "
         "workflows folder (see plait.toml).", show_default=False)]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]
ModelOption = Annotated[str | None, typer.Option(
    "--model", "-m", metavar="PROVIDER:MODEL",
    help="The model to use, e.g. openai:gpt-4o-mini, anthropic:claude-3-5-haiku-latest, "
         "ollama:llama3.2 or local:smollm2-135m-instruct. Default: PLAIT_MODEL, else a "
         "hosted provider whose key is set, else the embedded local model.",
    show_default=False)]


class GraphFormat(StrEnum):
    TREE = "tree"
    MERMAID = "mermaid"
    JSON = "json"


@app.callback()
def _root(ctx: typer.Context, debug: Annotated[bool, typer.Option(
        "--debug", help="Show the full traceback when something fails, and plait's debug "
                        "log on stderr.")] = False) -> None:
    ctx.obj = CliState(debug=debug)
    if debug:
        from plait.cli.logs import debug_logging

        ctx.call_on_close(debug_logging())


@app.command("init")
def init(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(
        metavar="NAME", help="The project's name; also its folder's name (letters, digits, "
                             "'.', '_', '-').", show_default=False)],
    path: Annotated[Path, typer.Option(
        "--path", "-p", help="The folder to create the project in.", file_okay=False,
        show_default="the current folder")] = Path("."),
) -> None:
    """Create a project: plait.toml, a workflows folder with a working example, a README.

    Refuses to write into a folder that exists and is not empty.
    """
    from plait.cli.project import init_command

    with reporting(ctx):
        init_command(name, path)


@app.command("validate")
def validate(
    ctx: typer.Context,
    files: Annotated[list[str], typer.Argument(
        metavar="WORKFLOW", help="Workflow files (or names) to check.", show_default=False)],
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object per file: "
                       '{"file", "valid", "workflow", "problems": [{"code", "message", '
                       '"location"}]}.')] = False,
) -> None:
    """Check workflows and list every problem with its location.

    Exits 0 when all files are valid and 2 otherwise.
    """
    from plait.cli.validate import validate_command

    with reporting(ctx):
        validate_command(files, json_output)


@app.command("run")
def run(
    ctx: typer.Context,
    file: WorkflowArg,
    inputs: Annotated[list[str] | None, typer.Option(
        "--input", "-i", metavar="KEY=VALUE",
        help="A workflow input; repeat for more. VALUE is read as JSON when it parses "
             "(3, true, [1,2], {\"a\":1}) and as text otherwise; inputs declared as string "
             "always take the text.", show_default=False)] = None,
    input_file: Annotated[Path | None, typer.Option(
        "--input-file", "-f", metavar="FILE",
        help="A JSON or YAML file with a mapping of inputs; --input values override it.",
        show_default=False)] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print only the result as JSON: run_id, status, outputs, error, "
                       "code, duration and per-node status, attempts, error, reason. "
                       "No progress view.")] = False,
    profile: Annotated[Profile | None, typer.Option(
        "--profile", case_sensitive=False, metavar="PROFILE",
        help="Engine profile: high_throughput, low_latency or memory_optimized. Default: the "
             "workflow's settings.profile, else plait.toml's run.profile, else "
             "high_throughput.", show_default=False)] = None,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", metavar="SECONDS", min=0.001,
        help="Fail the run if it takes longer than this (overrides settings.timeout).",
        show_default=False)] = None,
    continue_on_error: Annotated[bool, typer.Option(
        "--continue-on-error",
        help="When a node fails, skip what depends on it but finish independent branches "
             "(default: the workflow's settings.fail_fast, else stop at the first "
             "failure).")] = False,
    model: ModelOption = None,
    record: Annotated[Path | None, typer.Option(
        "--record", metavar="CASSETTE",
        help="Record every model and tool call of the run into this JSON-lines file "
             "(appended to).", show_default=False)] = None,
    replay: Annotated[Path | None, typer.Option(
        "--replay", metavar="CASSETTE",
        help="Answer every model and tool call from a recorded file: no keys, network or "
             "weights needed. Use the same --model (or PLAIT_MODEL) as when recording.",
        show_default=False)] = None,
    durability: Annotated[Durability, typer.Option(
        "--durability", case_sensitive=False,
        help="When checkpoints reach the database: sync (before the next nodes start; a "
             "kill loses nothing), async (in the background; a kill loses the last batch) "
             "or exit (once, at the end; a kill loses the run).")] = Durability.SYNC,
    no_store: Annotated[bool, typer.Option(
        "--no-store", help="Do not store the run: no checkpoints, run log or recorded "
                           "calls (it cannot be resumed, replayed or listed).")] = False,
    run_id: Annotated[str | None, typer.Option(
        "--run-id", metavar="ID",
        help="Store the run under this id instead of a random one (letters, digits, '.', "
             "'_', '-'; it must not be stored yet), e.g. a job's name.",
        show_default=False)] = None,
) -> None:
    """Run a workflow, showing each node's progress live, then print its outputs.

    On a terminal the nodes are shown in a live table; otherwise (logs, pipes) one line per
    event goes to stderr. Outputs and the summary go to stdout. Exits 0 when the run
    completed, 1 when it failed, 2 on bad input, 3 when it waits for answers (human input)
    and 130 when interrupted (Ctrl-C cancels the run cleanly).

    The run is stored in the database (PLAIT_DATABASE_URL, else PLAIT_HOME/plait.db): a
    checkpoint after each node, its events, and a recording of its model and tool calls.
    Its id is printed on stderr (and is in the --json result): after a failure, a kill or
    Ctrl-C, `plait runs resume ID` continues it without running completed nodes again; see
    `plait runs --help`.

    Models come from the environment (see `plait models`); agents get the built-in tools,
    with file tools in the project's sandbox/ folder (a temporary one outside a project)
    and no HTTP access.
    """
    from plait.cli.run import RunOptions, run_command

    with reporting(ctx):
        run_command(RunOptions(file=file, inputs=inputs or [], input_file=input_file,
                               json_output=json_output, profile=profile, timeout=timeout,
                               continue_on_error=continue_on_error, model=model,
                               record=record, replay=replay, store=not no_store,
                               durability=durability, run_id=run_id))


@app.command("graph")
def graph(
    ctx: typer.Context,
    file: WorkflowArg,
    fmt: Annotated[GraphFormat, typer.Option(
        "--format", "-F", case_sensitive=False,
        help="tree: the steps in the terminal; mermaid: flowchart text for docs and "
             "Markdown; json: nodes (with their step) and edges.")] = GraphFormat.TREE,
) -> None:
    """Draw a workflow: its steps as a tree in the terminal, or a Mermaid flowchart.

    In the tree, nodes in one step can run side by side; each node shows what it does and
    where its inputs come from. In Mermaid, shapes show kinds, conditional edges carry their
    branch and control edges are dotted. The workflow must be valid.
    """
    from plait.cli.graph import graph_data, render_mermaid, render_tree
    from plait.cli.validate import load_valid

    with reporting(ctx):
        spec = load_valid(file)
        if fmt is GraphFormat.MERMAID:
            typer.echo(render_mermaid(spec))
        elif fmt is GraphFormat.JSON:
            print_json(graph_data(spec))
        else:
            out_console().print(render_tree(spec))


@app.command("generate")
def generate(
    ctx: typer.Context,
    objective: Annotated[str | None, typer.Argument(
        metavar="OBJECTIVE", help="What the workflow should do, in plain words.",
        show_default=False)] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write the workflow here (.yaml, .yml or .json) instead of printing YAML.",
        show_default=False)] = None,
    model: ModelOption = None,
    max_iterations: Annotated[int, typer.Option(
        "--max-iterations", "-n", metavar="N", min=1, max=50,
        help="Proposals to ask for at most: the first and its corrections.")] = 3,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", min=0.001,
        help="Give up after this long, whatever the iteration.")] = 180.0,
    min_confidence: Annotated[float, typer.Option(
        "--min-confidence", metavar="X", min=0.0, max=1.0,
        help="Refuse a proposal whose confidence (0 to 1, the model's own) is lower.")] = 0.5,
    allow_kinds: Annotated[str | None, typer.Option(
        "--allow-kinds", metavar="K1,K2,...",
        help="The node kinds the workflow may use, comma-separated. Default: transform, "
             "condition, llm, agent, map, loop, output, delay.", show_default=False)] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Ask the model even if the same request was answered before.")
    ] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite the --output file if it exists.")] = False,
    stats: Annotated[bool, typer.Option(
        "--stats", help="Instead of generating, summarise past generations per model "
                        "(valid rate, cache hits, iterations, duration, tokens).")] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print the result (or the --stats summary) as JSON.")] = False,
) -> None:
    """Ask a model to design a workflow for OBJECTIVE and write it as a workflow file.

    The model proposes nodes and edges as JSON (constrained by a JSON schema built from the
    allowed kinds); plait checks the proposal like `plait validate` does, refuses other
    kinds and a confidence under --min-confidence, and sends the problems back for a
    corrected proposal until one is valid or --max-iterations or --timeout run out.
    Progress goes to stderr. Accepted results are cached under PLAIT_HOME/generations,
    where an analytics log is kept too (see --stats). With no keys set the embedded local
    model is used: it works offline but is small, so expect iterations and failures; point
    --model at a stronger one for real use. Exits 0 with a valid workflow, 1 when none was
    found in time, 2 on bad usage.
    """
    from plait.cli.generate import GenerateRequest, generate_command, parse_kinds, stats_command

    with reporting(ctx):
        if stats:
            stats_command(json_output)
            return
        if objective is None or not objective.strip():
            raise UsageError("say what the workflow should do: plait generate \"OBJECTIVE\"")
        generate_command(GenerateRequest(
            objective=objective, output=output, model=model, max_iterations=max_iterations,
            timeout=timeout, min_confidence=min_confidence, allowed_kinds=parse_kinds(
                allow_kinds), use_cache=not no_cache, force=force, json_output=json_output))


@app.command("chat")
def chat(
    ctx: typer.Context,
    model: ModelOption = None,
    workflow: Annotated[str | None, typer.Option(
        "--workflow", "-w", metavar="WORKFLOW",
        help="Chat with a workflow instead of a model: each line you type becomes its first "
             "string input, and its outputs are printed.", show_default=False)] = None,
    system: Annotated[str | None, typer.Option(
        "--system", "-s", metavar="TEXT", help="A system prompt for the model.",
        show_default=False)] = None,
) -> None:
    """Chat in the terminal with a model or with a workflow.

    With a model, replies stream as they are written and the conversation is remembered.
    Type /exit (or press Ctrl-D or Ctrl-C) to leave, /reset to forget the conversation.
    When stdin is not a terminal, each line read from it is one message, so
    `echo hello | plait chat` works in scripts. A workflow that declares a `history` input
    gets the conversation so far in it.
    """
    from plait.cli.chat import ChatOptions, chat_command

    with reporting(ctx):
        chat_command(ChatOptions(model=model, workflow=workflow, system=system))


@app.command("models")
def models(
    ctx: typer.Context,
    check: Annotated[bool, typer.Option(
        "--check", help="Health-check each model: a 1-token completion (for the local "
                        "model, loading it first), with its latency.")] = False,
    extra: Annotated[list[str] | None, typer.Option(
        "--model", "-m", metavar="PROVIDER:MODEL",
        help="Also show (and check) this model; repeat for more.", show_default=False)] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", min=0.001,
        help="How long each health check may take.")] = 20.0,
    json_output: JsonFlag = False,
) -> None:
    """Show the configured providers and models, and check that they answer.

    Lists each provider (whether its key is set; keys are never shown), the default model,
    and what each model can do: tool calling, JSON output, vision, streaming, context
    length. The models shown are the default, the usual model of each provider whose key
    is set, the embedded local model when installed, and any --model. With --check, exits
    1 when a check failed.
    """
    from plait.cli.models import ModelsOptions, models_command

    with reporting(ctx):
        models_command(ModelsOptions(check=check, extra=tuple(extra or ()), timeout=timeout,
                                     json_output=json_output))


CollectionOption = Annotated[str, typer.Option(
    "--collection", "-c", metavar="NAME", help="The collection (created by plait ingest).")]
TenantOption = Annotated[str | None, typer.Option(
    "--tenant", metavar="TENANT", help="Whose collections: every tenant's are separate.",
    show_default="default")]
ModeOption = Annotated[str, typer.Option(
    "--mode", help="vector (embeddings), keyword (BM25) or hybrid (both, fused).")]


def _exit(code: int) -> None:
    if code != 0:
        raise typer.Exit(code)


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH...", help="Files and directories to load (text, Markdown, HTML, PDF, "
                                "DOCX, CSV, JSON, JSONL).", show_default=False)],
    collection: CollectionOption = "default",
    tenant: TenantOption = None,
    chunking: Annotated[str, typer.Option(
        "--chunking", help="How to split documents: auto (Markdown by headings, the rest "
                           "recursively), recursive, fixed, sentence, token or markdown.")
    ] = "auto",
    chunk_size: Annotated[int | None, typer.Option(
        "--chunk-size", min=1, help="Chunk size in characters (tokens for --chunking token).",
        show_default="800, or 200 tokens")] = None,
    chunk_overlap: Annotated[int | None, typer.Option(
        "--chunk-overlap", min=0, help="Overlap between chunks.", show_default="100")] = None,
    include: Annotated[list[str] | None, typer.Option(
        "--include", metavar="GLOB", help="Only files matching this glob (repeatable).",
        show_default="every supported type")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", metavar="GLOB", help="Skip files matching this glob (repeatable).",
        show_default=False)] = None,
    no_prune: Annotated[bool, typer.Option(
        "--no-prune", help="Keep documents whose files are gone from the directory.")] = False,
    reembed: Annotated[bool, typer.Option(
        "--reembed", help="If the collection was built with another embedding model, "
                          "re-embed it first (resumable).")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Load, chunk, embed and store documents into a collection, incrementally.

    Unchanged documents are skipped (by content hash), changed ones replaced, and files gone
    from an ingested directory removed. A file that cannot be read is reported and the rest
    go on (exit 1 when any failed). The store is PLAIT_RAG_STORE (default: the embedded store
    under PLAIT_HOME); the embedder PLAIT_EMBEDDER (default: the local all-MiniLM-L6-v2).
    """
    from plait.cli.rag import IngestOptions, ingest_command

    with reporting(ctx):
        _exit(ingest_command(IngestOptions(
            paths=paths, collection=collection, tenant=tenant, chunking=chunking,
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, include=include,
            exclude=exclude or (), prune=not no_prune, reembed=reembed,
            json_output=json_output)))


@app.command("search")
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(metavar="QUERY", help="What to look for.",
                                         show_default=False)],
    collection: CollectionOption = "default",
    tenant: TenantOption = None,
    mode: ModeOption = "hybrid",
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="How many hits.")] = 5,
    where: Annotated[str | None, typer.Option(
        "--filter", metavar="JSON", help='A metadata filter, e.g. \'{"source": "a.md"}\' or '
                                         '\'{"page": {"$gte": 2}}\'.', show_default=False)
    ] = None,
    mmr: Annotated[bool, typer.Option("--mmr", help="Diversify the hits (MMR).")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Search a collection and show the best chunks with their scores and sources."""
    from plait.cli.rag import SearchOptions, search_command

    if mode not in ("vector", "keyword", "hybrid"):
        with reporting(ctx):
            raise UsageError(f"--mode must be vector, keyword or hybrid, not {mode!r}")
    with reporting(ctx):
        _exit(search_command(SearchOptions(query=query, collection=collection, tenant=tenant,
                                           mode=mode, top_k=top_k, where=where, mmr=mmr,
                                           json_output=json_output)))


@app.command("ask")
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(metavar="QUESTION", help="The question.",
                                            show_default=False)],
    collection: CollectionOption = "default",
    tenant: TenantOption = None,
    model: ModelOption = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1,
                                       help="How many chunks to give the model.")] = 4,
    mode: ModeOption = "hybrid",
    json_output: JsonFlag = False,
) -> None:
    """Answer a question from a collection, citing the sources as numbered references.

    Retrieves the best chunks (hybrid search by default) and asks the model (the default
    model: PLAIT_MODEL, a hosted provider whose key is set, else the embedded local model)
    to answer from them. The answer is followed by its numbered sources.
    """
    from plait.cli.rag import AskOptions, ask_command

    with reporting(ctx):
        if mode not in ("vector", "keyword", "hybrid"):
            raise UsageError(f"--mode must be vector, keyword or hybrid, not {mode!r}")
        _exit(ask_command(AskOptions(question=question, collection=collection, tenant=tenant,
                                     model=model, top_k=top_k, mode=mode,
                                     json_output=json_output)))


class CollectionAction(StrEnum):
    LIST = "list"
    STATS = "stats"
    DROP = "drop"


@app.command("collections")
def collections(
    ctx: typer.Context,
    action: Annotated[CollectionAction, typer.Argument(
        help="list the collections, show one's stats, or drop one.")] = CollectionAction.LIST,
    name: Annotated[str | None, typer.Argument(
        metavar="[NAME]", help="The collection (for stats and drop).", show_default=False)
    ] = None,
    tenant: TenantOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Drop without asking.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """List collections, show a collection's stats, or drop one."""
    from plait.cli.rag import collections_command

    with reporting(ctx):
        if action is CollectionAction.DROP and not yes:
            if name is None:
                raise UsageError("plait collections drop needs a collection NAME")
            if not typer.confirm(f"drop collection {name!r} and everything in it?"):
                raise typer.Exit(1)
        _exit(collections_command(action.value, name, tenant=tenant, json_output=json_output))


eval_app = typer.Typer(help="Measure plait: retrieval quality on BEIR datasets.",
                       no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(runs_app, name="runs")


@eval_app.command("retrieval")
def eval_retrieval(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(
        metavar="DIR", help="A BEIR-layout dataset: corpus.jsonl, queries.jsonl and "
                            "qrels/test.tsv (gzipped or not).", show_default=False)],
    method: Annotated[list[str] | None, typer.Option(
        "--method", help="vector, bm25 or hybrid (repeatable).",
        show_default="all three")] = None,
    split: Annotated[str, typer.Option("--split", help="The qrels split to score.")] = "test",
    fusion: Annotated[str, typer.Option(
        "--fusion", help="How hybrid fuses: rrf (reciprocal rank) or weighted.")] = "rrf",
    alpha: Annotated[float, typer.Option(
        "--alpha", min=0.0, max=1.0, help="Weighted fusion's vector weight.")] = 0.5,
    ignore_identical_ids: Annotated[bool, typer.Option(
        "--ignore-identical-ids", help="Drop hits whose id equals the query id (as BEIR does "
                                       "for datasets whose queries are also documents).")
    ] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object per method.")] = False,
) -> None:
    """nDCG@10, recall@10, recall@100 and MRR@10 of vector, BM25 and hybrid retrieval.

    Ingests the corpus (title + text, one record per document) into an in-memory store with
    the settings' embedder (PLAIT_EMBEDDER; cached, so reruns skip embedding), runs every
    query through each method and scores the rankings against the qrels.
    """
    from plait.cli.evaluate import EvalOptions, eval_retrieval_command

    with reporting(ctx):
        if fusion not in ("rrf", "weighted"):
            raise UsageError(f"--fusion must be rrf or weighted, not {fusion!r}")
        _exit(eval_retrieval_command(EvalOptions(
            dataset=dataset, methods=tuple(method or ("vector", "bm25", "hybrid")),
            split=split, fusion=fusion, alpha=alpha,
            ignore_identical_ids=ignore_identical_ids, json_output=json_output)))


@app.command("version")
def version(ctx: typer.Context) -> None:
    """Print plait's version, the Python version and the platform."""
    from plait.cli.doctor import version_command

    with reporting(ctx):
        version_command()


@app.command("doctor")
def doctor(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Show what is installed and available.

    Python, plait and its dependencies, and the optional components of later features (local
    models, PostgreSQL, Redis, Chromium). Always exits 0.
    """
    from plait.cli.doctor import doctor_command

    with reporting(ctx):
        doctor_command(json_output)


def main() -> None:
    """The ``plait`` console script."""
    app(prog_name="plait")
