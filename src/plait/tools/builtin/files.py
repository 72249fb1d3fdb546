"""File tools inside a :class:`~plait.tools.Sandbox`: read, write, list, search."""

from __future__ import annotations

import base64
import binascii
import fnmatch
from typing import Literal

from plait.tools.errors import ToolArgumentError, ToolLimitExceeded
from plait.tools.sandbox import Sandbox
from plait.tools.security import SecurityLevel
from plait.tools.tool import Tool

__all__ = ["FileListTool", "FileReadTool", "FileSearchTool", "FileWriteTool"]

_BINARY_PROBE = 8192


class _SandboxTool(Tool):
    level = SecurityLevel.RESTRICTED

    def __init__(self, sandbox: Sandbox, *, name: str | None = None,
                 level: SecurityLevel | str | None = None,
                 timeout: float | None = None) -> None:
        self.sandbox = sandbox
        super().__init__(name=name, level=level, timeout=timeout)


class FileReadTool(_SandboxTool):
    """Read a file inside the sandbox and return its content."""

    name = "file_read"

    def run(self, path: str, encoding: Literal["utf-8", "base64"] = "utf-8") -> str:
        """Read a file.

        Args:
            path: File path relative to the sandbox root.
            encoding: "utf-8" for text (undecodable bytes become U+FFFD), "base64" for
                binary content.
        """
        data = self.sandbox.read_bytes(path)
        if encoding == "base64":
            return base64.b64encode(data).decode("ascii")
        return data.decode("utf-8", errors="replace")


class FileWriteTool(_SandboxTool):
    """Write a file inside the sandbox (never through a symlink)."""

    name = "file_write"

    def run(self, path: str, content: str,
            mode: Literal["overwrite", "append", "create"] = "overwrite",
            encoding: Literal["utf-8", "base64"] = "utf-8",
            make_dirs: bool = False) -> dict[str, object]:
        """Write a file.

        Args:
            path: File path relative to the sandbox root.
            content: The text, or base64 data when encoding is "base64".
            mode: "overwrite" replaces the file, "append" adds to it, "create" fails if
                the file exists.
            encoding: How content is given: "utf-8" text or "base64" bytes.
            make_dirs: Create missing parent directories.
        """
        if encoding == "base64":
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ToolArgumentError.single("content", f"invalid base64: {exc}") from None
        else:
            data = content.encode("utf-8")
        cap = self.sandbox.limits.max_write_bytes
        if len(data) > cap:
            raise ToolLimitExceeded(f"{len(data)} bytes is more than the {cap} allowed",
                                    limit="max_write_bytes")
        with self.sandbox.open_write(path, mode=mode, make_dirs=make_dirs) as handle:
            handle.write(data)
        return {"path": self.sandbox.relative(self.sandbox.parts(path)),
                "bytes_written": len(data)}


class FileListTool(_SandboxTool):
    """List a directory inside the sandbox (symlinks are shown, never followed)."""

    name = "file_list"

    def run(self, path: str = ".", recursive: bool = False,
            pattern: str | None = None) -> dict[str, object]:
        """List a directory.

        Args:
            path: Directory relative to the sandbox root.
            recursive: Include subdirectories' contents.
            pattern: Only entries whose name matches this glob (e.g. "*.py").
        """
        cap = self.sandbox.limits.max_list_entries
        entries: list[dict[str, object]] = []
        truncated = False
        for entry in self.sandbox.walk(path, recursive=recursive):
            if pattern and not fnmatch.fnmatchcase(entry.path.rsplit("/", 1)[-1], pattern):
                continue
            if len(entries) >= cap:
                truncated = True
                break
            item: dict[str, object] = {"path": entry.path, "type": entry.kind}
            if entry.size is not None:
                item["size"] = entry.size
            entries.append(item)
        return {"path": self.sandbox.relative(self.sandbox.parts(path)), "entries": entries,
                "truncated": truncated}


class FileSearchTool(_SandboxTool):
    """Find files inside the sandbox by name and, optionally, by a text they contain."""

    name = "file_search"

    def run(self, pattern: str = "*", text: str | None = None, path: str = ".",
            ignore_case: bool = False) -> dict[str, object]:
        """Search files.

        Args:
            pattern: Glob the file name must match (e.g. "*.md").
            text: If given, report each line containing this text.
            path: Directory to search, relative to the sandbox root.
            ignore_case: Compare text case-insensitively.
        """
        limits = self.sandbox.limits
        needle = text.lower() if text and ignore_case else text
        matches: list[dict[str, object]] = []
        scanned = 0
        truncated = False
        for entry in self.sandbox.walk(path, recursive=True):
            if entry.kind != "file":
                continue
            if scanned >= limits.max_search_files or len(matches) >= limits.max_search_results:
                truncated = True
                break
            scanned += 1
            if not fnmatch.fnmatchcase(entry.path.rsplit("/", 1)[-1], pattern):
                continue
            if not needle:
                matches.append({"path": entry.path})
                continue
            if entry.size is not None and entry.size > limits.max_read_bytes:
                continue
            try:
                data = self.sandbox.read_bytes(entry.path)
            except ToolLimitExceeded:
                continue
            if b"\x00" in data[:_BINARY_PROBE]:
                continue
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if needle in (line.lower() if ignore_case else line):
                    if len(matches) >= limits.max_search_results:
                        truncated = True
                        break
                    matches.append({"path": entry.path, "line": number, "text": line[:500]})
        return {"matches": matches, "files_scanned": scanned, "truncated": truncated}
