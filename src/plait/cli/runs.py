"""``plait runs``: the stored runs of the settings' database (PLAIT_DATABASE_URL, else
PLAIT_HOME/plait.db) — list, show, resume, cancel, replay, fork and prune them.

This module only declares the interface; the work lives in :mod:`plait.cli.history` (list,
show), :mod:`plait.cli.resume` (resume, cancel, fork), :mod:`plait.cli.replay` and
:mod:`plait.cli.prune`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plait.cli.errors import reporting
from plait.graph.durability import Durability
from plait.types import RunStatus

__all__ = ["runs_app"]

runs_app = typer.Typer(
    help="Stored runs: list, show (lineage and timeline), resume (answering human input), "
         "cancel, replay offline, fork from a node, prune.\n\n"
         "Every `plait run` is stored unless --no-store. RUN is a run id or a unique prefix "
         "of one (4 characters or more).",
    no_args_is_help=True,
)

RunArg = Annotated[str, typer.Argument(
    metavar="RUN", help="A run id, or a unique prefix of one.", show_default=False)]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]
DurabilityOption = Annotated[Durability, typer.Option(
    "--durability", case_sensitive=False,
    help="When checkpoints reach the database: sync, async or exit (see plait run).")]
TimeoutOption = Annotated[float | None, typer.Option(
    "--timeout", metavar="SECONDS", min=0.001,
    help="Fail the run if this part of it takes longer.", show_default=False)]


def _exit(code: int) -> None:
    if code != 0:
        raise typer.Exit(code)


@runs_app.command("list")
def list_runs(
    ctx: typer.Context,
    status: Annotated[RunStatus | None, typer.Option(
        "--status", case_sensitive=False,
        help="Only runs with this status.", show_default=False)] = None,
    workflow: Annotated[str | None, typer.Option(
        "--workflow", "-w", metavar="NAME", help="Only runs of this workflow.",
        show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")] = 20,
    json_output: JsonFlag = False,
) -> None:
    """List recent runs, most recently updated first: id, workflow, status, start, duration."""
    from plait.cli.history import ListOptions, list_command

    with reporting(ctx):
        _exit(list_command(ListOptions(status=status, workflow=workflow, limit=limit,
                                       json_output=json_output)))


@runs_app.command("show")
def show(
    ctx: typer.Context,
    run: RunArg,
    no_events: Annotated[bool, typer.Option(
        "--no-events", help="Leave out the timeline of events.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Show a run: status, inputs, outputs, what it waits for, its lineage and timeline.

    The lineage says what produced the result: the digest of the workflow spec the run
    executed, and for each node (its newest checkpoint) the model ids, the hash of the
    prompt it sent and the blake3 hash of its output. The timeline lists the events of the
    run log (token deltas are counted, not listed).
    """
    from plait.cli.history import show_command

    with reporting(ctx):
        _exit(show_command(run, json_output=json_output, events=not no_events))


@runs_app.command("resume")
def resume(
    ctx: typer.Context,
    run: RunArg,
    answers: Annotated[list[str] | None, typer.Option(
        "--answer", "-a", metavar="INTERRUPT_ID=VALUE",
        help="Answer an interrupt (human input); repeat for more. INTERRUPT_ID is the id "
             "shown by plait run or plait runs show (or NODE, or NODE:KEY). VALUE is read as "
             "JSON when it parses and as text otherwise (an interrupt asking for a string "
             "always takes the text).", show_default=False)] = None,
    answer_file: Annotated[Path | None, typer.Option(
        "--answer-file", metavar="FILE",
        help="A JSON or YAML mapping of interrupt ids to answers; --answer overrides it.",
        show_default=False)] = None,
    durability: DurabilityOption = Durability.SYNC,
    timeout: TimeoutOption = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print only the result as JSON (as plait run --json).")] = False,
) -> None:
    """Continue a waiting, failed or interrupted run (Ctrl-C, a crash, kill -9).

    Completed nodes are not run again: their outputs come from the checkpoints. Failed,
    cancelled and unfinished nodes run; a node waiting for human input runs again once all
    of its interrupts are answered. The workflow is recompiled from the spec stored with the
    run. Exit codes as plait run: 0 completed, 1 failed, 3 still waiting for answers.
    """
    from plait.cli.resume import ResumeOptions, resume_command

    with reporting(ctx):
        _exit(resume_command(ResumeOptions(run=run, answers=answers or [],
                                           answer_file=answer_file, json_output=json_output,
                                           durability=durability, timeout=timeout)))


@runs_app.command("cancel")
def cancel(ctx: typer.Context, run: RunArg, json_output: JsonFlag = False) -> None:
    """Cancel a pending or waiting run (or a running one whose process is gone) for good.

    A cancelled run cannot be resumed (fork it to run it again). A run still executing in
    another process is refused: stop it there with Ctrl-C.
    """
    from plait.cli.resume import cancel_command

    with reporting(ctx):
        _exit(cancel_command(run, json_output=json_output))


@runs_app.command("replay")
def replay(
    ctx: typer.Context,
    run: RunArg,
    no_store: Annotated[bool, typer.Option(
        "--no-store", help="Do not store the replay as a run.")] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print the replay's result as JSON, with replay_of, identical and "
                       "diff.")] = False,
) -> None:
    """Re-execute a finished run from its recorded model and tool calls, offline.

    A fresh run (a new id) of the stored spec and inputs, where every model and tool call is
    answered from the original's recording: no network, no keys, no real model. Human input
    gets the original's answers. Exits 0 when its status and outputs are identical to the
    original's, 1 with a diff otherwise.
    """
    from plait.cli.replay import replay_command

    with reporting(ctx):
        _exit(replay_command(run, json_output=json_output, store=not no_store))


@runs_app.command("fork")
def fork(
    ctx: typer.Context,
    run: RunArg,
    from_node: Annotated[str, typer.Option(
        "--from", metavar="NODE", help="Run this node and everything downstream again.",
        show_default=False)],
    edits: Annotated[list[str] | None, typer.Option(
        "--set", metavar="NODE=VALUE",
        help="Replace a kept node's output (JSON, else text); what depends on it runs "
             "again. Repeat for more.", show_default=False)] = None,
    durability: DurabilityOption = Durability.SYNC,
    timeout: TimeoutOption = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print only the new run's result as JSON, with parent_id.")] = False,
) -> None:
    """Time travel: a new run that keeps the original's outputs up to NODE and runs the rest.

    Nodes that are neither NODE nor downstream of it keep their stored outputs (as edited by
    --set); NODE and everything downstream run again. The original run is untouched; the
    new one records it as its parent.
    """
    from plait.cli.resume import ForkOptions, fork_command

    with reporting(ctx):
        _exit(fork_command(ForkOptions(run=run, from_node=from_node, edits=edits or [],
                                       json_output=json_output, durability=durability,
                                       timeout=timeout)))


@runs_app.command("prune")
def prune(
    ctx: typer.Context,
    keep_last: Annotated[int | None, typer.Option(
        "--keep-last", metavar="N", min=0,
        help="Keep the newest N finished runs of each workflow.", show_default=False)] = None,
    older_than: Annotated[float | None, typer.Option(
        "--older-than", metavar="DAYS", min=0,
        help="Remove finished runs last updated more than DAYS ago.",
        show_default=False)] = None,
    compact: Annotated[bool, typer.Option(
        "--compact", help="Also drop checkpoints that a later checkpoint of the same node "
                          "superseded (loop iterations) in finished runs.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Remove finished runs (completed, failed, cancelled) with their checkpoints, answers,
    events and recorded calls. Pending, running and waiting runs are never removed."""
    from plait.cli.prune import prune_command

    with reporting(ctx):
        _exit(prune_command(keep_last=keep_last, older_than=older_than, compact=compact,
                            json_output=json_output))
