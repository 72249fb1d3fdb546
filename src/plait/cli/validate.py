"""``plait validate``: every problem of each workflow file, with its location."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import typer
from rich.text import Text

from plait.cli.config import resolve_workflow
from plait.cli.console import jsonable, out_console
from plait.cli.errors import EXIT_USAGE, print_problems
from plait.cli.wiring import EngineParts
from plait.cli.wiring import engine as wired_engine
from plait.errors import Problem, SpecError
from plait.graph.spec import WorkflowSpec
from plait.nodes.defaults import Engine
from plait.nodes.loader import load_spec

__all__ = ["Report", "check_file", "load_valid", "validate_command"]


@dataclass(slots=True)
class Report:
    file: str
    spec: WorkflowSpec | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.spec is not None and not self.problems

    def data(self) -> dict[str, object]:
        return {"file": self.file, "valid": self.valid,
                "workflow": self.spec.name if self.spec is not None else None,
                "problems": [{"code": p.code, "message": p.message, "location": p.location}
                             for p in self.problems]}


def check_file(arg: str, engine: Engine) -> Report:
    """Load and validate one workflow file; file and spec problems land in the report."""
    path = resolve_workflow(arg)
    report = Report(str(path))
    try:
        report.spec = load_spec(path)
    except SpecError as err:
        report.problems = err.problems
        return report
    report.problems = engine.validate(report.spec)
    return report


def load_valid(arg: str, engine: Engine | None = None) -> WorkflowSpec:
    """The spec of a workflow file, or :class:`SpecError` with every problem it has
    (checked against ``engine``, else against the engine ``plait run`` would build)."""
    if engine is None:
        with wired_engine(EngineParts(sandbox=False)) as built:
            return load_valid(arg, built)
    report = check_file(arg, engine)
    if report.spec is None or report.problems:
        raise SpecError(report.problems, source=report.file)
    return report.spec


def _print_report(report: Report) -> None:
    console = out_console()
    if report.valid:
        assert report.spec is not None
        spec = report.spec
        console.print(Text.assemble(("✓ ", "green"), (report.file, "bold"),
                                    f": valid · workflow {spec.name!r}, {len(spec.nodes)} "
                                    f"nodes, {len(spec.edges)} edges"), soft_wrap=True)
        return
    n = len(report.problems)
    console.print(Text.assemble(("✗ ", "red"), (report.file, "bold"),
                                (f": {n} problem{'s' if n != 1 else ''}", "red")),
                  soft_wrap=True)
    print_problems(report.problems, console)


def validate_command(files: Sequence[str], json_output: bool) -> None:
    with wired_engine(EngineParts(sandbox=False)) as engine:
        reports = [check_file(arg, engine) for arg in files]
    for report in reports:
        if json_output:
            typer.echo(json.dumps(jsonable(report.data()), ensure_ascii=False))
        else:
            _print_report(report)
    if not all(report.valid for report in reports):
        raise typer.Exit(EXIT_USAGE)
