"""The project file ``plait.toml`` (written by ``plait init``) and finding workflows by name.

::

    [project]
    name = "demo"
    workflows = "workflows"   # `plait run hello` finds workflows/hello.yaml
    data = "data"             # run history, state and artifacts (used by later components)

    [run]
    profile = "low_latency"   # used when neither --profile nor the workflow sets one

Unknown top-level tables are left for other components; unknown keys inside ``[project]``
and ``[run]`` are errors, so typos do not pass silently.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from plait.cli.errors import ConfigError
from plait.errors import Problem
from plait.graph.spec import Profile

__all__ = ["CONFIG_FILE", "WORKFLOW_SUFFIXES", "Project", "find_project", "resolve_workflow"]

CONFIG_FILE = "plait.toml"
WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json")


class _ProjectTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    workflows: str = "workflows"
    data: str = "data"


class _RunTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Profile | None = None


class _ConfigFile(BaseModel):
    model_config = ConfigDict(extra="allow")
    project: _ProjectTable = _ProjectTable()
    run: _RunTable = _RunTable()


@dataclass(frozen=True, slots=True)
class Project:
    """A project: the folder holding ``plait.toml`` and what that file says."""

    root: Path
    name: str
    workflows: Path
    data: Path
    profile: Profile | None

    @classmethod
    def load(cls, file: Path) -> Project:
        source = str(file)
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError([Problem("malformed_toml", str(err))], source=source) from None
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError([Problem("unreadable_file", str(err))], source=source) from None
        try:
            config = _ConfigFile.model_validate(raw)
        except ValidationError as err:
            raise ConfigError([
                Problem("invalid_config", item["msg"], ".".join(str(p) for p in item["loc"]))
                for item in err.errors()], source=source) from None
        root = file.parent
        return cls(root=root, name=config.project.name or root.name,
                   workflows=root / config.project.workflows, data=root / config.project.data,
                   profile=config.run.profile)


def find_project(start: Path) -> Project | None:
    """The project whose ``plait.toml`` is in ``start`` or the nearest folder above it."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return Project.load(candidate)
    return None


def resolve_workflow(arg: str) -> Path:
    """``arg`` as a path; a bare name that is no file (``hello``) is looked up in the
    current project's workflows folder. What cannot be found is returned as given, so the
    loader reports it."""
    path = Path(arg)
    if path.exists() or path.suffix or len(path.parts) != 1:
        return path
    project = find_project(Path.cwd())
    if project is not None:
        for suffix in WORKFLOW_SUFFIXES:
            candidate = project.workflows / f"{arg}{suffix}"
            if candidate.is_file():
                return candidate
    return path
