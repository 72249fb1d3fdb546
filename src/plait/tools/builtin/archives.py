"""Archive tools inside a :class:`~plait.tools.Sandbox`: list and extract zip and tar files.

Extraction checks every member before writing anything. It refuses absolute names, ``..``
components, symlinks and hard links, devices and FIFOs, more members than
``max_archive_members``, more bytes than ``max_extract_bytes``, and (past 1 MiB) an
uncompressed/compressed ratio above ``max_compression_ratio``. While it writes, it counts
the bytes actually decompressed, so lying headers stop at the same caps. Files are written
through the sandbox (never through a symlink) with mode 0644; archive permissions, owners
and times are ignored.
"""

from __future__ import annotations

import contextlib
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, BinaryIO, Literal

from plait.tools.builtin.files import _SandboxTool
from plait.tools.errors import SandboxViolation, ToolFailed, ToolLimitExceeded
from plait.tools.sandbox import Sandbox, SandboxLimits, check_relative_path

__all__ = ["ArchiveExtractTool", "ArchiveListTool"]

_RATIO_FLOOR = 1024 * 1024
"""Below this many uncompressed bytes the ratio is not checked (small files compress well)."""
_CHUNK = 64 * 1024

Kind = Literal["file", "dir", "symlink", "hardlink", "other"]


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    kind: Kind
    size: int
    compressed: int | None
    ref: zipfile.ZipInfo | tarfile.TarInfo


@dataclass(slots=True)
class _Archive:
    format: Literal["zip", "tar"]
    members: list[_Member]
    archive_size: int
    zip: zipfile.ZipFile | None = None
    tar: tarfile.TarFile | None = None

    def open_member(self, member: _Member) -> IO[bytes]:
        if self.zip is not None:
            assert isinstance(member.ref, zipfile.ZipInfo)
            return self.zip.open(member.ref)
        assert self.tar is not None
        assert isinstance(member.ref, tarfile.TarInfo)
        handle = self.tar.extractfile(member.ref)
        if handle is None:
            raise ToolFailed(f"cannot read member {member.name!r}")
        return handle


def _zip_kind(info: zipfile.ZipInfo) -> Kind:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symlink"
    if info.is_dir():
        return "dir"
    return "file" if stat.S_IFMT(mode) in (0, stat.S_IFREG) else "other"


def _tar_kind(info: tarfile.TarInfo) -> Kind:
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.isdir():
        return "dir"
    return "file" if info.isreg() and not info.issparse() else "other"


def _check_ratio(total: int, compressed: int, limits: SandboxLimits, what: str) -> None:
    if total > _RATIO_FLOOR and total / max(compressed, 1) > limits.max_compression_ratio:
        raise ToolLimitExceeded(
            f"{what} expands {total / max(compressed, 1):.0f}x, more than the "
            f"{limits.max_compression_ratio:g}x allowed (a zip bomb?)",
            limit="max_compression_ratio")


def _check_total(total: int, limits: SandboxLimits) -> None:
    if total > limits.max_extract_bytes:
        raise ToolLimitExceeded(
            f"the archive holds more than the {limits.max_extract_bytes} bytes allowed",
            limit="max_extract_bytes")


def _check_count(count: int, limits: SandboxLimits) -> None:
    if count > limits.max_archive_members:
        raise ToolLimitExceeded(
            f"the archive has more than the {limits.max_archive_members} members allowed",
            limit="max_archive_members")


@contextmanager
def _open_archive(sandbox: Sandbox, path: str) -> Iterator[_Archive]:
    handle, size = sandbox.open_read(path)
    limits = sandbox.limits
    with handle:
        if zipfile.is_zipfile(handle):
            handle.seek(0)
            with zipfile.ZipFile(handle) as zf:
                infos = zf.infolist()
                _check_count(len(infos), limits)
                members = [_Member(i.filename, _zip_kind(i), i.file_size, i.compress_size, i)
                           for i in infos]
                yield _Archive("zip", members, size, zip=zf)
            return
        handle.seek(0)
        try:
            tar = tarfile.open(fileobj=handle, mode="r:*")  # noqa: SIM115 - closed below
        except (tarfile.TarError, EOFError, OSError):
            raise ToolFailed(f"{path!r} is not a zip or tar archive") from None
        with tar:
            yield _Archive("tar", list(_tar_members(tar, handle, size, limits)), size, tar=tar)


def _tar_members(tar: tarfile.TarFile, raw: BinaryIO, size: int,
                 limits: SandboxLimits) -> Iterator[_Member]:
    """Members one header at a time, checking the caps before the next header is looked
    for: skipping a member's data decompresses it, so a bomb stops here, not after."""
    count = 0
    while True:
        try:
            info = tar.next()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ToolFailed(f"the tar archive is damaged ({exc})") from None
        if info is None:
            return
        count += 1
        _check_count(count, limits)
        _check_total(info.offset_data + max(info.size, 0), limits)
        # the data before this header has been decompressed: that is the ratio so far
        _check_ratio(info.offset_data, raw.tell() or size, limits, "the archive")
        yield _Member(info.name, _tar_kind(info), info.size, None, info)


def _problem(member: _Member) -> SandboxViolation | None:
    if member.kind in ("symlink", "hardlink"):
        return SandboxViolation(f"archive member {member.name!r} is a {member.kind}",
                                rule="archive_link")
    if member.kind == "other":
        return SandboxViolation(
            f"archive member {member.name!r} is not a regular file or directory",
            rule="archive_member_type")
    if not member.name.strip("/"):
        return SandboxViolation("an archive member has an empty name", rule="archive_member")
    try:
        check_relative_path(member.name, what="archive member")
    except SandboxViolation as exc:
        return exc
    return None


class ArchiveListTool(_SandboxTool):
    """List the members of a zip or tar archive inside the sandbox, flagging unsafe ones."""

    name = "archive_list"

    def run(self, path: str) -> dict[str, object]:
        """List an archive.

        Args:
            path: Archive path relative to the sandbox root (.zip, .tar, .tar.gz, .tgz,
                .tar.bz2, .tar.xz).
        """
        cap = self.sandbox.limits.max_list_entries
        with _open_archive(self.sandbox, path) as archive:
            listed: list[dict[str, object]] = []
            for member in archive.members[:cap]:
                item: dict[str, object] = {"name": member.name, "type": member.kind,
                                           "size": member.size}
                problem = _problem(member)
                if problem is not None:
                    item["unsafe"] = problem.message
                listed.append(item)
            return {"format": archive.format, "members": listed,
                    "total_size": sum(m.size for m in archive.members),
                    "truncated": len(archive.members) > cap}


class ArchiveExtractTool(_SandboxTool):
    """Extract a zip or tar archive inside the sandbox. Unsafe archives are refused whole."""

    name = "archive_extract"

    def run(self, path: str, destination: str = ".", overwrite: bool = False
            ) -> dict[str, object]:
        """Extract an archive.

        Args:
            path: Archive path relative to the sandbox root.
            destination: Directory to extract into, relative to the sandbox root.
            overwrite: Replace files that already exist instead of failing.
        """
        limits = self.sandbox.limits
        self.sandbox.parts(destination)  # refuse a bad destination before reading anything
        with _open_archive(self.sandbox, path) as archive:
            for member in archive.members:
                problem = _problem(member)
                if problem is not None:
                    raise problem
                if member.compressed is not None:
                    _check_ratio(member.size, member.compressed, limits,
                                 f"member {member.name!r}")
            total = sum(m.size for m in archive.members)
            _check_total(total, limits)
            _check_ratio(total, archive.archive_size, limits, "the archive")
            target = self.sandbox.make_dirs(destination)
            written = 0
            files: list[str] = []
            for member in archive.members:
                where = f"{target}/{member.name}"
                if member.kind == "dir":
                    self.sandbox.make_dirs(where)
                    continue
                written += self._copy(archive, member, where, overwrite, written)
                files.append(member.name)
        return {"destination": target, "files": files, "bytes": written}

    def _copy(self, archive: _Archive, member: _Member, where: str, overwrite: bool,
              written: int) -> int:
        limits = self.sandbox.limits
        count = 0
        mode: Literal["overwrite", "create"] = "overwrite" if overwrite else "create"
        with archive.open_member(member) as source, \
                self.sandbox.open_write(where, mode=mode, make_dirs=True) as sink:
            try:
                while chunk := source.read(_CHUNK):
                    count += len(chunk)
                    if count > member.size:
                        raise ToolLimitExceeded(
                            f"member {member.name!r} holds more data than its header says",
                            limit="max_extract_bytes")
                    _check_total(written + count, limits)
                    sink.write(chunk)
            except BaseException:
                with contextlib.suppress(ToolFailed, SandboxViolation):
                    self.sandbox.remove_file(where)  # no half-written member is left
                raise
        return count
