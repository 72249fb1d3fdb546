"""The documentation's code runs.

For every Markdown file under ``docs/``, its fenced blocks are taken in order:

* ```python blocks run, all blocks of one file in one namespace, in a fresh working folder
  (```python no-run skips one; use it sparingly);
* ```yaml blocks that are workflows (a mapping with ``nodes``) must validate with no
  problems; ```yaml file=NAME also writes the block to NAME in the working folder, so later
  blocks and commands can use it;
* ```console blocks: every ``$ plait ...`` line runs the CLI in the working folder (where
  ``examples/`` is the repository's) and must exit 0, or N when the line ends with
  ``# exit N``; the lines after it, if any, must match its stdout, where ``...`` stands for
  any text (a line of just ``...`` for any lines); errors may match stderr instead. Other
  commands are not run.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from plait import Engine
from plait.nodes.loader import parse_spec

from .blocks import ROOT, Block, blocks, doc_files

FILES = [path for path in doc_files() if any(
    b.lang in ("python", "yaml", "console") for b in blocks(path))]


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT / "docs"))


def _exec_python(block: Block, namespace: dict[str, object]) -> None:
    # pad so tracebacks point at the Markdown file's own line numbers
    code = compile("\n" * (block.line - 1) + block.code, str(block.path), "exec")
    exec(code, namespace)


def _check_yaml(block: Block, engine: Engine, folder: Path) -> None:
    data = yaml.safe_load(block.code)
    name = next((f.split("=", 1)[1] for f in block.flags if f.startswith("file=")), None)
    if name is not None:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(block.code, encoding="utf-8")
    if isinstance(data, dict) and "nodes" in data:
        problems = engine.validate(parse_spec(block.code, source=block.where))
        assert problems == [], f"{block.where}: the workflow has problems: {problems}"


def _pattern(expected: list[str]) -> re.Pattern[str]:
    parts = []
    for line in expected:
        if line.strip() == "...":
            parts.append(r"(?:.*\n)*?")
        else:
            parts.append(".*?".join(re.escape(p) for p in line.rstrip().split("...")) +
                         r"[ \t]*\n")
    return re.compile("".join(parts))


def _commands(block: Block) -> list[tuple[int, str, list[str]]]:
    """(line, command, expected output lines) for each ``$ `` line."""
    found: list[tuple[int, str, list[str]]] = []
    for offset, line in enumerate(block.code.splitlines()):
        if line.startswith("$ "):
            found.append((block.line + offset, line[2:], []))
        elif found:
            found[-1][2].append(line)
    return found


def _run_console(block: Block, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("typer", reason="the CLI needs the 'cli' extra")
    from typer.testing import CliRunner

    from plait.cli.main import app

    runner = CliRunner()
    for line, command, expected in _commands(block):
        argv = shlex.split(command, comments=True)
        if not argv or argv[0] != "plait":
            continue
        want = re.search(r"#\s*exit\s+(\d+)", command)
        code = int(want.group(1)) if want else 0
        monkeypatch.chdir(folder)
        result = runner.invoke(app, argv[1:], env={"COLUMNS": "100", "NO_COLOR": "1"})
        where = f"{block.path.relative_to(ROOT)}:{line}: $ {command}"
        assert result.exit_code == code, (
            f"{where}\nexit {result.exit_code}\n{result.stdout}{result.stderr}")
        while expected and not expected[-1].strip():
            expected.pop()
        if expected:
            pattern = _pattern(expected)
            streams = [s if s.endswith("\n") else s + "\n"
                       for s in (result.stdout, result.stderr) if s]
            assert any(pattern.fullmatch(s) for s in streams), (
                f"{where}\nexpected:\n" + "\n".join(expected) + "\ngot:\n" +
                "\n".join(streams))


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_doc_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs.{path.stem}"}
    engine = Engine()
    for block in blocks(path):
        if "no-run" in block.flags:
            continue
        if block.lang == "python":
            _exec_python(block, namespace)
        elif block.lang == "yaml":
            _check_yaml(block, engine, tmp_path)
        elif block.lang == "console":
            _run_console(block, tmp_path, monkeypatch)


def test_no_run_is_rare() -> None:
    code = [b for path in doc_files() for b in blocks(path) if b.lang == "python"]
    skipped = [b.where for b in code if "no-run" in b.flags]
    assert len(skipped) * 5 <= len(code), f"too many skipped blocks: {skipped}"


def test_docs_link_to_existing_files() -> None:
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    for path in doc_files():
        for target in link.findall(path.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (path.parent / target).exists(), f"{_id(path)}: broken link {target}"
