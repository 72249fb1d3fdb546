from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from plait.errors import UsageError
from plait.tools import Sandbox, SandboxLimits, ToolFailed, ToolLimitExceeded
from plait.tools.builtin import FileListTool, FileReadTool, FileSearchTool, FileWriteTool


def test_the_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        Sandbox(tmp_path / "nope")
    made = Sandbox(tmp_path / "new" / "root", create=True)
    assert made.root == (tmp_path / "new" / "root").resolve()
    with pytest.raises(UsageError, match="positive"):
        SandboxLimits(max_read_bytes=0)


async def test_read(sandbox: Sandbox) -> None:
    read = FileReadTool(sandbox)
    assert read.level == "restricted"
    assert await read.call({"path": "notes.txt"}) == "hello\nworld\n"
    assert await read.call({"path": "./docs//readme.md"}) == (
        "# Title\nSome text about sandboxes.\n")
    (sandbox.root / "bin.dat").write_bytes(b"\xff\x00")
    assert await read.call({"path": "bin.dat"}) == "\ufffd\x00"
    assert await read.call({"path": "bin.dat", "encoding": "base64"}) == "/wA="


async def test_read_errors(sandbox: Sandbox) -> None:
    read = FileReadTool(sandbox)
    with pytest.raises(ToolFailed, match=r"'missing\.txt' does not exist"):
        await read.call({"path": "missing.txt"})
    with pytest.raises(ToolFailed, match="is a directory"):
        await read.call({"path": "docs"})
    with pytest.raises(ToolFailed, match="is a directory"):
        await read.call({"path": "."})
    (sandbox.root / "big.txt").write_text("x" * 10_001)
    with pytest.raises(ToolLimitExceeded, match="10001 bytes"):
        await read.call({"path": "big.txt"})


async def test_fifos_are_not_read(sandbox: Sandbox) -> None:
    os.mkfifo(sandbox.root / "pipe")
    with pytest.raises(ToolFailed, match="not a regular file"):
        await FileReadTool(sandbox).call({"path": "pipe"})


async def test_write_modes(sandbox: Sandbox) -> None:
    write = FileWriteTool(sandbox)
    assert await write.call({"path": "out/new.txt", "content": "one\n", "make_dirs": True}) == {
        "path": "out/new.txt", "bytes_written": 4}
    await write.call({"path": "out/new.txt", "content": "two\n", "mode": "append"})
    assert (sandbox.root / "out/new.txt").read_text() == "one\ntwo\n"
    await write.call({"path": "out/new.txt", "content": "three\n"})
    assert (sandbox.root / "out/new.txt").read_text() == "three\n"
    with pytest.raises(ToolFailed, match="already exists"):
        await write.call({"path": "out/new.txt", "content": "x", "mode": "create"})
    await write.call({"path": "raw.bin", "content": base64.b64encode(b"\x00\x01").decode(),
                      "encoding": "base64"})
    assert (sandbox.root / "raw.bin").read_bytes() == b"\x00\x01"


async def test_write_errors(sandbox: Sandbox) -> None:
    write = FileWriteTool(sandbox)
    with pytest.raises(ToolFailed, match="does not exist"):
        await write.call({"path": "no/such/dir.txt", "content": "x"})
    with pytest.raises(ToolLimitExceeded):
        await write.call({"path": "big.txt", "content": "x" * 10_001})
    with pytest.raises(ToolFailed, match="is a directory"):
        await write.call({"path": "docs", "content": "x"})
    assert not (sandbox.root / "big.txt").exists()


async def test_list(sandbox: Sandbox) -> None:
    (sandbox.root / "docs" / "sub").mkdir()
    (sandbox.root / "docs" / "sub" / "deep.md").write_text("deep")
    listed = await FileListTool(sandbox).call({})
    assert listed == {"path": ".", "truncated": False, "entries": [
        {"path": "docs", "type": "dir"}, {"path": "notes.txt", "type": "file", "size": 12}]}
    deep = await FileListTool(sandbox).call({"path": "docs", "recursive": True,
                                             "pattern": "*.md"})
    assert [e["path"] for e in deep["entries"]] == [  # type: ignore[index,union-attr]
        "docs/readme.md", "docs/sub/deep.md"]


async def test_list_is_capped(sandbox: Sandbox, tmp_path: Path) -> None:
    for i in range(5):
        (sandbox.root / f"f{i}").write_text("")
    small = Sandbox(sandbox.root, limits=SandboxLimits(max_list_entries=3))
    listed = await FileListTool(small).call({})
    assert listed["truncated"] is True  # type: ignore[index]
    assert len(listed["entries"]) == 3  # type: ignore[index,arg-type]


async def test_search_by_name_and_text(sandbox: Sandbox) -> None:
    search = FileSearchTool(sandbox)
    assert await search.call({"pattern": "*.md"}) == {
        "matches": [{"path": "docs/readme.md"}], "files_scanned": 2, "truncated": False}
    found = await search.call({"text": "WORLD", "ignore_case": True})
    assert found["matches"] == [{"path": "notes.txt", "line": 2,  # type: ignore[index]
                                 "text": "world"}]
    (sandbox.root / "blob.bin").write_bytes(b"world\x00")
    (sandbox.root / "huge.txt").write_text("world " * 3000)
    found = await search.call({"text": "world"})
    assert [m["path"] for m in found["matches"]] == ["notes.txt"]  # type: ignore[index]


async def test_walks_stop_at_64_levels(sandbox: Sandbox) -> None:
    deep = sandbox.root.joinpath(*["d"] * 70)
    deep.mkdir(parents=True)
    listed = await FileListTool(sandbox).call({"recursive": True, "pattern": "d"})
    depths = [e["path"].count("/") + 1 for e in listed["entries"]]  # type: ignore[index,union-attr]
    assert max(depths) == 64


async def test_search_counts_every_file_it_looks_at(sandbox: Sandbox) -> None:
    for i in range(5):
        (sandbox.root / f"other{i}.log").write_text("")
    small = Sandbox(sandbox.root, limits=SandboxLimits(max_search_files=3))
    found = await FileSearchTool(small).call({"pattern": "*.md"})
    assert found["truncated"] is True  # type: ignore[index]
    assert found["files_scanned"] == 3  # type: ignore[index]
