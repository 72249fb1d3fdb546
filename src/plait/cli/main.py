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
from plait.graph.spec import Profile

__all__ = ["app", "main"]

app = typer.Typer(
    name="plait",
    help="Build, validate, run and inspect plait workflows (YAML or JSON files).\n\n"
         "Exit codes: 0 success · 1 the run failed · 2 bad usage, input, file or workflow · "
         "130 interrupted.",
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
) -> None:
    """Run a workflow, showing each node's progress live, then print its outputs.

    On a terminal the nodes are shown in a live table; otherwise (logs, pipes) one line per
    event goes to stderr. Outputs and the summary go to stdout. Exits 0 when the run
    completed, 1 when it failed, 2 on bad input and 130 when interrupted (Ctrl-C cancels
    the run cleanly).
    """
    from plait.cli.run import RunOptions, run_command

    with reporting(ctx):
        run_command(RunOptions(file=file, inputs=inputs or [], input_file=input_file,
                               json_output=json_output, profile=profile, timeout=timeout,
                               continue_on_error=continue_on_error))


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
