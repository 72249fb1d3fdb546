"""Run an allowlisted program inside the sandbox (privileged).

The command is an argv list, never a shell string: no shell ever parses it, so ``;``, ``|``,
``$()`` and globs are plain characters. ``argv[0]`` must be one of the allowlisted commands,
which are resolved to absolute paths once, when the tool is made, on ``search_path`` (not on
the caller's ``PATH``). The child gets a minimal environment (``PATH``, ``LANG``, ``HOME`` =
the sandbox root, plus what the tool was configured with: none of the parent's variables, so
no API keys), a working directory inside the sandbox, its own process group (killed whole on
timeout or cancellation), and output caps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from typing import Annotated

from pydantic import Field

from plait.tools.errors import (
    SandboxViolation,
    ToolDefinitionError,
    ToolFailed,
    ToolTimeout,
)
from plait.tools.sandbox import Sandbox
from plait.tools.security import SecurityLevel
from plait.tools.tool import Tool

__all__ = ["ProcessTool"]

_CHUNK = 64 * 1024


async def _drain(stream: asyncio.StreamReader | None, cap: int) -> tuple[bytes, bool]:
    """Read a pipe to its end, keeping the first ``cap`` bytes."""
    if stream is None:
        return b"", False
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(_CHUNK):
        room = cap - len(kept)
        if len(chunk) > room:
            truncated = True
        kept += chunk[:max(room, 0)]
    return bytes(kept), truncated


async def _feed(stdin: asyncio.StreamWriter | None, data: bytes | None) -> None:
    if stdin is None:
        return
    try:
        if data:
            stdin.write(data)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        stdin.close()


def _kill_group(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()


def _kill_orphans(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class ProcessTool(Tool):
    """Run an allowlisted program with arguments, inside the sandbox, and return its exit
    code and output."""

    name = "run_process"
    level = SecurityLevel.PRIVILEGED

    def __init__(self, sandbox: Sandbox, commands: Sequence[str], *,
                 search_path: str = os.defpath, env: Mapping[str, str] | None = None,
                 name: str | None = None) -> None:
        if isinstance(commands, str):
            raise ToolDefinitionError("commands must be a list of program names, not a string")
        if not commands:
            raise ToolDefinitionError("the process tool needs at least one allowed command")
        self.sandbox = sandbox
        self.search_path = search_path
        self.commands: dict[str, str] = {}
        for command in commands:
            found = shutil.which(command, path=search_path)
            if found is None:
                raise ToolDefinitionError(
                    f"allowed command {command!r} is not an executable on {search_path!r}")
            self.commands[command] = os.path.realpath(found)
        self.env = {"PATH": search_path, "LANG": "C.UTF-8", "HOME": str(sandbox.root),
                    **(env or {})}
        super().__init__(name=name)
        allowed = ", ".join(sorted(self.commands))
        self.description = f"{self.description} Allowed commands: {allowed}."

    async def run(self, argv: Annotated[list[str], Field(min_length=1)], cwd: str = ".",
                  stdin: str | None = None,
                  timeout: Annotated[float, Field(gt=0)] | None = None
                  ) -> dict[str, object]:
        """Run a program.

        Args:
            argv: The program and its arguments as a list, e.g. ["ls", "-l"]; no shell is
                involved, so quoting and operators like ';' or '|' have no effect.
            cwd: Working directory relative to the sandbox root.
            stdin: Text to send to the program's standard input.
            timeout: Seconds before the program is killed (capped by the sandbox limit).
        """
        executable = self.commands.get(argv[0])
        if executable is None:
            raise SandboxViolation(
                f"command {argv[0]!r} is not allowed (allowed: {', '.join(sorted(self.commands))})",
                rule="command_not_allowed")
        limits = self.sandbox.limits
        seconds = min(timeout or limits.process_timeout, limits.process_timeout)
        workdir = self.sandbox.resolve(cwd)
        if not self.sandbox.is_dir(cwd):
            raise ToolFailed(f"working directory {cwd!r} is not a directory")
        try:
            process = await asyncio.create_subprocess_exec(
                executable, *argv[1:], cwd=workdir, env=self.env,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True)
        except OSError as exc:
            raise ToolFailed(f"cannot start {argv[0]!r}: {exc}", cause=exc) from None
        try:
            async with asyncio.timeout(seconds):
                async with asyncio.TaskGroup() as group:
                    out = group.create_task(_drain(process.stdout, limits.max_process_output))
                    err = group.create_task(_drain(process.stderr, limits.max_process_output))
                    group.create_task(_feed(process.stdin,
                                            stdin.encode() if stdin is not None else None))
                    code = await process.wait()
                    _kill_orphans(process.pid)  # background children would hold the pipes
        except TimeoutError:
            raise ToolTimeout(f"{argv[0]!r} ran longer than {seconds:g}s and was killed",
                              seconds=seconds) from None
        finally:
            _kill_group(process)
            if process.returncode is None:
                await asyncio.shield(process.wait())
        (stdout, out_cut), (stderr, err_cut) = out.result(), err.result()
        return {"exit_code": code, "stdout": stdout.decode("utf-8", "replace"),
                "stderr": stderr.decode("utf-8", "replace"),
                "stdout_truncated": out_cut, "stderr_truncated": err_cut}
