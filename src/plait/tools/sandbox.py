"""A directory that file, archive and process tools may not leave, and the limits they obey.

Guarantees (POSIX only: they rest on ``openat`` with ``O_NOFOLLOW``):

* a path is relative, POSIX-style (``/`` separated); absolute paths (``/x``, ``\\\\x``,
  ``C:x``), any ``..`` component and NUL bytes are refused before the disk is touched;
* symlinks inside the root are followed only while their target stays inside it; a path that
  resolves outside is refused;
* files are then opened one component at a time from the root's descriptor, none of them
  followed if it is a symlink, so a symlink swapped in after the check is refused too;
* reads, writes, listings, searches, archive extraction and process output all have caps
  (:class:`SandboxLimits`).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import BinaryIO, Literal

from plait.errors import UsageError
from plait.tools.errors import SandboxViolation, ToolFailed, ToolLimitExceeded

__all__ = ["Entry", "Sandbox", "SandboxLimits", "check_relative_path"]

_DRIVE = re.compile(r"^[A-Za-z]:")
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_MAX_DEPTH = 64
"""Walks descend at most this many directories (each level holds a descriptor open)."""
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
"""Opening a FIFO must not block a worker thread; regular files ignore the flag."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxLimits:
    """Caps shared by the tools that use a :class:`Sandbox`."""

    max_read_bytes: int = 1024 * 1024
    """Largest file ``file_read`` returns (and ``file_search`` scans)."""
    max_write_bytes: int = 1024 * 1024
    """Largest content ``file_write`` writes."""
    max_list_entries: int = 1000
    """Most entries one listing returns (the rest is reported as truncated)."""
    max_search_files: int = 10_000
    """Most files one search looks at, whether their names match or not."""
    max_search_results: int = 200
    """Most matches one search returns."""
    max_archive_members: int = 10_000
    """Most members an archive may have."""
    max_extract_bytes: int = 100 * 1024 * 1024
    """Most bytes one extraction may write, all members together."""
    max_compression_ratio: float = 100.0
    """Largest uncompressed/compressed ratio of an archive or one of its members."""
    max_process_output: int = 64 * 1024
    """Most bytes of stdout (and, separately, of stderr) kept from a process."""
    process_timeout: float = 30.0
    """Longest a process may run, in seconds."""

    def __post_init__(self) -> None:
        for item in fields(self):
            if getattr(self, item.name) <= 0:
                raise UsageError(f"SandboxLimits.{item.name} must be positive")


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing found in the sandbox."""

    path: str
    """POSIX path relative to the sandbox root."""
    kind: Literal["file", "dir", "symlink", "other"]
    size: int | None = None
    """Bytes, for files."""


def check_relative_path(path: str, *, what: str = "path") -> tuple[str, ...]:
    """The components of a relative POSIX path, refusing absolute paths, ``..`` and NULs.

    ``\\`` counts as a separator too, so Windows-style ``..\\x`` is refused everywhere.
    """
    if "\x00" in path:
        raise SandboxViolation(f"{what} {path!r} contains a NUL byte", rule="invalid_path")
    if path.startswith(("/", "\\")) or _DRIVE.match(path):
        raise SandboxViolation(f"{what} {path!r} is absolute; give a path relative to the "
                               "sandbox root", rule="absolute_path")
    parts = tuple(p for p in re.split(r"[/\\]", path) if p not in ("", "."))
    if ".." in parts:
        raise SandboxViolation(f"{what} {path!r} contains '..'", rule="path_traversal")
    return parts


class Sandbox:
    """A root directory and :class:`SandboxLimits`. ``create=True`` makes the root."""

    def __init__(self, root: str | os.PathLike[str], *,
                 limits: SandboxLimits | None = None, create: bool = False) -> None:
        if os.open not in os.supports_dir_fd or not _NOFOLLOW:
            raise UsageError("the sandbox needs a POSIX system (openat with O_NOFOLLOW)")
        path = Path(root)
        if create:
            path.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            raise UsageError(f"sandbox root {str(path)!r} is not a directory")
        self.root = Path(os.path.realpath(path))
        self.limits = limits or SandboxLimits()

    def __repr__(self) -> str:
        return f"Sandbox({str(self.root)!r})"

    # -- paths -----------------------------------------------------------------------------

    def parts(self, path: str) -> tuple[str, ...]:
        """The components of ``path`` after resolving symlinks, relative to the root.

        Raises :class:`SandboxViolation` for absolute paths, ``..`` and symlink escapes.
        """
        lexical = check_relative_path(path)
        real = Path(os.path.realpath(self.root.joinpath(*lexical)))
        if real != self.root and not real.is_relative_to(self.root):
            raise SandboxViolation(f"path {path!r} leads outside the sandbox through a symlink",
                                   rule="symlink_escape")
        return real.relative_to(self.root).parts

    def resolve(self, path: str) -> Path:
        """The real absolute path of ``path``, checked to be inside the root."""
        return self.root.joinpath(*self.parts(path))

    def relative(self, parts: tuple[str, ...]) -> str:
        return "/".join(parts) or "."

    # -- descriptors -----------------------------------------------------------------------

    def _open_component(self, name: str, flags: int, dir_fd: int, shown: str,
                        mode: int = 0o644) -> int:
        try:
            return os.open(name, flags | _NOFOLLOW | _CLOEXEC, mode, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK) and _is_link(name, dir_fd):
                raise SandboxViolation(f"{shown!r} is (or went through) a symlink",
                                       rule="symlink") from None
            raise _os_error(exc, shown) from None

    @contextmanager
    def _dir_fd(self, parts: tuple[str, ...], *, make: bool = False) -> Iterator[int]:
        """A descriptor of directory ``parts``, opened component by component."""
        fd = os.open(self.root, _DIR_FLAGS | _CLOEXEC)
        try:
            for i, name in enumerate(parts):
                shown = "/".join(parts[: i + 1])
                if make:
                    try:
                        os.mkdir(name, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                    except OSError as exc:
                        raise _os_error(exc, shown) from None
                inner = self._open_component(name, _DIR_FLAGS, fd, shown)
                os.close(fd)
                fd = inner
            yield fd
        finally:
            os.close(fd)

    def open_read(self, path: str) -> tuple[BinaryIO, int]:
        """An open regular file and its size. Raises :class:`ToolLimitExceeded` past
        ``max_read_bytes``."""
        parts = self.parts(path)
        if not parts:
            raise ToolFailed(f"{path!r} is a directory")
        with self._dir_fd(parts[:-1]) as dir_fd:
            fd = self._open_component(parts[-1], os.O_RDONLY | _NONBLOCK, dir_fd,
                                      self.relative(parts))
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise ToolFailed(f"{path!r} is {kind}")
        return os.fdopen(fd, "rb"), info.st_size

    def read_bytes(self, path: str, *, limit: int | None = None) -> bytes:
        cap = limit or self.limits.max_read_bytes
        handle, size = self.open_read(path)
        with handle:
            if size > cap:
                raise ToolLimitExceeded(f"{path!r} has {size} bytes, more than the {cap} allowed",
                                        limit="max_read_bytes")
            data = handle.read(cap + 1)
        if len(data) > cap:
            raise ToolLimitExceeded(f"{path!r} has more than the {cap} bytes allowed",
                                    limit="max_read_bytes")
        return data

    def open_write(self, path: str, *, mode: Literal["overwrite", "append", "create"],
                   make_dirs: bool = False) -> BinaryIO:
        """A file opened for writing (never through a symlink). ``create`` refuses to replace
        an existing file."""
        parts = self.parts(path)
        if not parts:
            raise ToolFailed(f"{path!r} is a directory")
        flags = os.O_WRONLY | os.O_CREAT | _NONBLOCK | {
            "overwrite": os.O_TRUNC, "append": os.O_APPEND, "create": os.O_EXCL}[mode]
        with self._dir_fd(parts[:-1], make=make_dirs) as dir_fd:
            fd = self._open_component(parts[-1], flags, dir_fd, self.relative(parts))
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ToolFailed(f"{path!r} is not a regular file")
        return os.fdopen(fd, "ab" if mode == "append" else "wb")

    def make_dirs(self, path: str) -> str:
        """Create directory ``path`` and its parents; its relative path."""
        parts = self.parts(path)
        with self._dir_fd(parts, make=True):
            pass
        return self.relative(parts)

    def remove_file(self, path: str) -> None:
        """Delete file ``path`` (a symlink itself, never its target)."""
        parts = self.parts(path) if path else ()
        if not parts:
            raise ToolFailed(f"{path!r} is a directory")
        with self._dir_fd(parts[:-1]) as dir_fd:
            try:
                os.unlink(parts[-1], dir_fd=dir_fd)
            except OSError as exc:
                raise _os_error(exc, self.relative(parts)) from None

    def is_dir(self, path: str) -> bool:
        try:
            with self._dir_fd(self.parts(path)):
                return True
        except ToolFailed:
            return False

    # -- walking ---------------------------------------------------------------------------

    def walk(self, path: str = ".", *, recursive: bool = False) -> Iterator[Entry]:
        """Entries under directory ``path`` (sorted by name, depth first, at most 64 levels
        down). Symlinks are reported, never followed."""
        parts = self.parts(path)
        with self._dir_fd(parts) as fd:
            yield from self._walk_fd(fd, parts, recursive, parts)

    def _walk_fd(self, fd: int, parts: tuple[str, ...], recursive: bool,
                 start: tuple[str, ...]) -> Iterator[Entry]:
        with os.scandir(fd) as listing:
            items = sorted(listing, key=lambda e: e.name)
        for item in items:
            sub = (*parts, item.name)
            shown = self.relative(sub)
            if item.is_symlink():
                yield Entry(shown, "symlink")
            elif item.is_dir(follow_symlinks=False):
                yield Entry(shown, "dir")
                if recursive and len(sub) - len(start) < _MAX_DEPTH:
                    inner = self._open_component(item.name, _DIR_FLAGS, fd, shown)
                    try:
                        yield from self._walk_fd(inner, sub, recursive, start)
                    finally:
                        os.close(inner)
            elif item.is_file(follow_symlinks=False):
                yield Entry(shown, "file", item.stat(follow_symlinks=False).st_size)
            else:
                yield Entry(shown, "other")


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _os_error(exc: OSError, shown: str) -> ToolFailed:
    reasons = {
        errno.ENOENT: "does not exist",
        errno.EEXIST: "already exists",
        errno.ENOTDIR: "is not a directory (or a parent is not)",
        errno.EISDIR: "is a directory",
        errno.EACCES: "is not accessible (permission denied)",
    }
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return ToolFailed(f"{shown!r} {reason}", cause=exc)
