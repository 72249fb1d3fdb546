"""The built-in tools in one registry."""

from __future__ import annotations

import os
from collections.abc import Sequence

from plait.tools.errors import ToolDefinitionError
from plait.tools.network import NetworkPolicy, as_policy
from plait.tools.registry import ToolRegistry
from plait.tools.sandbox import Sandbox
from plait.tools.security import SecurityLevel
from plait.tools.tool import Tool

__all__ = ["default_tools"]


def default_tools(*, sandbox: Sandbox | str | os.PathLike[str] | None = None,
                  http_allowlist: NetworkPolicy | Sequence[str] | None = None,
                  commands: Sequence[str] = (),
                  max_level: SecurityLevel | str = SecurityLevel.RESTRICTED) -> ToolRegistry:
    """A registry of the built-in tools.

    The safe tools are always there. The file and archive tools come with a ``sandbox``
    (a :class:`Sandbox` or a directory), the HTTP and web page tools with an
    ``http_allowlist``, and the process tool with ``commands`` (and a sandbox), which also
    needs ``max_level=SecurityLevel.PRIVILEGED``: a tool above ``max_level`` raises
    :class:`~plait.tools.ToolDenied` instead of being left out quietly.
    """
    from plait.tools.builtin import (  # imported on first use: it builds every tool's schema
        ArchiveExtractTool,
        ArchiveListTool,
        CalculatorTool,
        DateTimeTool,
        FileListTool,
        FileReadTool,
        FileSearchTool,
        FileWriteTool,
        HttpRequestTool,
        ProcessTool,
        RegexTool,
        TemplateTool,
        WebPageTool,
        base64_tool,
        csv_tool,
        diff_tool,
        hash_tool,
        json_query_tool,
        text_tool,
        uuid_tool,
        validate_json_tool,
    )

    tools: list[Tool] = [
        CalculatorTool(), DateTimeTool(), uuid_tool, hash_tool, base64_tool, diff_tool,
        text_tool, TemplateTool(), json_query_tool, csv_tool, RegexTool(), validate_json_tool,
    ]
    box = sandbox if isinstance(sandbox, Sandbox) or sandbox is None else Sandbox(sandbox)
    if box is not None:
        tools += [FileReadTool(box), FileWriteTool(box), FileListTool(box), FileSearchTool(box),
                  ArchiveListTool(box), ArchiveExtractTool(box)]
    if http_allowlist is not None:
        policy = as_policy(http_allowlist)
        tools += [HttpRequestTool(policy), WebPageTool(policy)]
    if commands:
        if box is None:
            raise ToolDefinitionError("the process tool needs a sandbox to run in")
        tools.append(ProcessTool(box, commands))
    return ToolRegistry(tools, max_level=max_level)
