from __future__ import annotations

import json
import sys

import pytest

from plait.tools import Sandbox, SecurityLevel, ToolDefinitionError, ToolFailed
from plait.tools.builtin import ProcessTool

PY = sys.executable


def test_commands_resolve_when_the_tool_is_made(sandbox: Sandbox) -> None:
    tool = ProcessTool(sandbox, [PY, "echo"])
    assert tool.level is SecurityLevel.PRIVILEGED
    assert tool.commands["echo"].endswith("/echo")
    assert "Allowed commands: " in tool.description
    with pytest.raises(ToolDefinitionError, match="not an executable"):
        ProcessTool(sandbox, ["no-such-program-here"])
    with pytest.raises(ToolDefinitionError, match="list"):
        ProcessTool(sandbox, "echo")
    with pytest.raises(ToolDefinitionError, match="at least one"):
        ProcessTool(sandbox, [])


async def test_runs_in_the_sandbox_with_a_minimal_environment(sandbox: Sandbox) -> None:
    tool = ProcessTool(sandbox, [PY])
    code = ("import json, os, sys; print(os.getcwd()); print(json.dumps(sorted(os.environ)));"
            " sys.exit(3)")
    result = await tool.call({"argv": [PY, "-c", code], "cwd": "docs"})
    assert isinstance(result, dict)
    assert result["exit_code"] == 3
    cwd, env = str(result["stdout"]).splitlines()
    assert cwd == str(sandbox.root / "docs")
    assert set(json.loads(env)) <= {"PATH", "LANG", "HOME", "LC_CTYPE"}


async def test_stdin_stderr_and_output_caps(sandbox: Sandbox) -> None:
    tool = ProcessTool(sandbox, [PY])
    code = ("import sys; data = sys.stdin.read(); sys.stderr.write('err:' + data); "
            "sys.stdout.write('x' * 5000)")
    result = await tool.call({"argv": [PY, "-c", code], "stdin": "hi"})
    assert result == {"exit_code": 0, "stdout": "x" * 1000, "stderr": "err:hi",
                      "stdout_truncated": True, "stderr_truncated": False}


async def test_the_working_directory_must_exist(sandbox: Sandbox) -> None:
    with pytest.raises(ToolFailed, match="not a directory"):
        await ProcessTool(sandbox, ["echo"]).call({"argv": ["echo"], "cwd": "notes.txt"})
