"""How the CLI fails: one clear message with the error's stable code and location, the right
exit code, and a traceback only with ``plait --debug``.

Exit codes: 0 success, 1 a run failed (or plait hit a bug), 2 bad usage, input, file or spec,
3 a run waits for answers (human input; resume it with ``plait runs resume``), 130 interrupted
(Ctrl-C).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.text import Text

from plait.cli.console import err_console, state
from plait.errors import InputError, PlaitError, Problem, SpecError, UsageError

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_WAITING",
    "ConfigError",
    "TargetExists",
    "exit_code",
    "print_error",
    "print_problems",
    "reporting",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_WAITING = 3
EXIT_INTERRUPTED = 130


class TargetExists(UsageError):
    """``plait init`` was asked to write into a path that already holds something."""

    code = "target_exists"


class ConfigError(UsageError):
    """A ``plait.toml`` project file is malformed or has invalid values."""

    code = "config_invalid"

    def __init__(self, problems: Sequence[Problem], *, source: str) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(f"{source}: " + "; ".join(str(p) for p in self.problems))


def exit_code(err: BaseException) -> int:
    if isinstance(err, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(err, UsageError):
        return EXIT_USAGE
    return EXIT_FAILED


def _problems_of(err: PlaitError) -> tuple[str, list[Problem]]:
    """A headline and the located problems of ``err`` (a lone problem joins the headline)."""
    if isinstance(err, SpecError | ConfigError | InputError):
        source = "" if isinstance(err, InputError) else err.source
        if len(err.problems) == 1:
            problem = err.problems[0]
            parts = [problem.location, problem.message]
            if source and source not in problem.message:
                parts.insert(0, source)
            return ": ".join(p for p in parts if p) + f"  [{problem.code}]", []
        n = len(err.problems)
        if isinstance(err, InputError):
            return f"{n} problems with the run's inputs", err.problems
        return f"{source or 'the workflow'}: {n} problems", err.problems
    return str(err), []


def print_problems(problems: Sequence[Problem], console: Console, *, indent: int = 2) -> None:
    """One line per problem: ``location: message  [code]``."""
    pad = " " * indent
    for problem in problems:
        line = Text(pad + "• ")
        if problem.location:
            line.append(problem.location, style="bold")
            line.append(": ")
        line.append(problem.message)
        line.append(f"  [{problem.code}]", style="dim")
        console.print(line, soft_wrap=True)


def print_error(err: BaseException, console: Console | None = None) -> None:
    """Print ``err`` as ``error[code]: message`` plus its problems, in red, on stderr."""
    console = console or err_console()
    if isinstance(err, PlaitError):
        code = err.code
        headline, problems = _problems_of(err)
    else:
        code = "internal"
        what = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        headline = f"{what} (this is a bug in plait; rerun with 'plait --debug' for details)"
        problems = []
    console.print(Text.assemble((f"error[{code}]", "bold red"), ": ", (headline, "red")),
                  soft_wrap=True)
    print_problems(problems, console)


@contextmanager
def reporting(ctx: typer.Context | None = None) -> Iterator[None]:
    """Turn any error raised inside into one clear message and the right exit code.

    With ``plait --debug`` the traceback is printed first.
    """
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        err_console().print("[yellow]interrupted[/yellow]")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as err:
        if state(ctx).debug:
            err_console().print(traceback.format_exc(), markup=False, soft_wrap=True)
        print_error(err)
        raise typer.Exit(exit_code(err)) from None
