"""``plait init``: write a new project from the templates in ``plait/cli/templates``."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from rich.text import Text

from plait.cli.config import CONFIG_FILE
from plait.cli.console import out_console
from plait.cli.errors import TargetExists
from plait.errors import UsageError

__all__ = ["SCAFFOLD", "Scaffold", "create_project"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PLACEHOLDER = "__PROJECT_NAME__"


@dataclass(frozen=True, slots=True)
class Scaffold:
    template: str
    """File name under ``plait/cli/templates``."""
    target: str
    """Path inside the new project."""


SCAFFOLD = (
    Scaffold("plait.toml", CONFIG_FILE),
    Scaffold("hello.yaml", "workflows/hello.yaml"),
    Scaffold("README.md", "README.md"),
    Scaffold("gitignore", ".gitignore"),
)


def _template(name: str) -> str:
    return files("plait.cli").joinpath("templates", name).read_text(encoding="utf-8")


def create_project(name: str, parent: Path) -> list[Path]:
    """Write project ``name`` into ``parent/name``; returns the files written.

    Refuses (``TargetExists``) to write into anything but a missing or empty folder."""
    if not _NAME.fullmatch(name):
        raise UsageError(f"project name {name!r} must start with a letter or digit and use "
                         "only letters, digits, '.', '_' and '-'")
    root = parent / name
    if root.exists() and not root.is_dir():
        raise TargetExists(f"{root} already exists and is not a folder; choose another NAME "
                           "or --path")
    if root.is_dir() and any(root.iterdir()):
        raise TargetExists(f"{root} already exists and is not empty; choose another NAME or "
                           "--path (plait init never overwrites files)")
    written = []
    for item in SCAFFOLD:
        target = root / item.target
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_template(item.template).replace(_PLACEHOLDER, name),
                          encoding="utf-8")
        written.append(target)
    return written


def init_command(name: str, path: Path) -> None:
    written = create_project(name, path)
    root = path / name
    console = out_console()
    console.print(Text.assemble(("✓ created project ", "green"), (name, "bold green"),
                                f" in {root}"), soft_wrap=True)
    for file in written:
        console.print(f"  {file.relative_to(root)}", markup=False, highlight=False)
    console.print(Text("\nNext steps:", style="bold"))
    for step in (f"cd {shlex.quote(str(root))}", "plait validate workflows/hello.yaml",
                 "plait run hello", "plait run hello --input name=Ada --input excited=true",
                 "plait graph hello"):
        console.print(f"  {step}", markup=False, highlight=False, soft_wrap=True)
