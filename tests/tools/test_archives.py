from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from plait.tools import Sandbox, ToolFailed
from plait.tools.builtin import ArchiveExtractTool, ArchiveListTool


def make_zip(sandbox: Sandbox, name: str, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(sandbox.root / name, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in files.items():
            zf.writestr(member, data)


def make_tar(sandbox: Sandbox, name: str, files: dict[str, bytes], mode: str = "w:gz") -> None:
    with tarfile.open(sandbox.root / name, mode) as tf:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            if member.endswith("/"):
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
                continue
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


FILES = {"pkg/": b"", "pkg/a.txt": b"alpha\n", "pkg/sub/b.txt": b"beta\n", "top.md": b"# top\n"}


async def test_zip_list_and_extract(sandbox: Sandbox) -> None:
    make_zip(sandbox, "bundle.zip", FILES)
    listed = await ArchiveListTool(sandbox).call({"path": "bundle.zip"})
    assert listed == {"format": "zip", "total_size": 17, "truncated": False, "members": [
        {"name": "pkg/", "type": "dir", "size": 0},
        {"name": "pkg/a.txt", "type": "file", "size": 6},
        {"name": "pkg/sub/b.txt", "type": "file", "size": 5},
        {"name": "top.md", "type": "file", "size": 6}]}
    done = await ArchiveExtractTool(sandbox).call({"path": "bundle.zip", "destination": "out"})
    assert done == {"destination": "out", "files": ["pkg/a.txt", "pkg/sub/b.txt", "top.md"],
                    "bytes": 17}
    assert (sandbox.root / "out/pkg/sub/b.txt").read_bytes() == b"beta\n"


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
async def test_tar_flavours(sandbox: Sandbox, mode: str) -> None:
    make_tar(sandbox, "bundle.tar", FILES, mode)
    listed = await ArchiveListTool(sandbox).call({"path": "bundle.tar"})
    assert listed["format"] == "tar"  # type: ignore[index]
    assert [m["name"] for m in listed["members"]] == [  # type: ignore[index,union-attr]
        "pkg", "pkg/a.txt", "pkg/sub/b.txt", "top.md"]
    await ArchiveExtractTool(sandbox).call({"path": "bundle.tar"})
    assert (sandbox.root / "pkg/a.txt").read_bytes() == b"alpha\n"


async def test_existing_files_need_overwrite(sandbox: Sandbox) -> None:
    make_zip(sandbox, "one.zip", {"notes.txt": b"replaced"})
    extract = ArchiveExtractTool(sandbox)
    with pytest.raises(ToolFailed, match="already exists"):
        await extract.call({"path": "one.zip"})
    await extract.call({"path": "one.zip", "overwrite": True})
    assert (sandbox.root / "notes.txt").read_bytes() == b"replaced"


async def test_not_an_archive(sandbox: Sandbox) -> None:
    with pytest.raises(ToolFailed, match="not a zip or tar archive"):
        await ArchiveListTool(sandbox).call({"path": "notes.txt"})
