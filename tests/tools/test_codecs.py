"""uuid, hash, base64 and diff."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from plait.tools import ToolArgumentError
from plait.tools.builtin import base64_tool, diff_tool, hash_tool, uuid_tool


async def test_random_uuids() -> None:
    made = await uuid_tool.call({"count": 3})
    assert isinstance(made, list)
    assert len(set(made)) == 3
    assert all(uuid.UUID(str(u)).version == 4 for u in made)


async def test_name_based_uuids_are_stable() -> None:
    one = await uuid_tool.call({"version": 5, "namespace": "dns", "name": "example.com"})
    assert one == ["cfbff0d1-9375-5685-968c-48ce8b15ae17"]
    custom = await uuid_tool.call({"version": 3, "namespace": str(uuid.NAMESPACE_URL),
                                   "name": "x"})
    assert custom == [str(uuid.uuid3(uuid.NAMESPACE_URL, "x"))]


@pytest.mark.parametrize("arguments", [
    {"version": 5, "name": "x"}, {"version": 5, "namespace": "galaxy", "name": "x"},
    {"count": 0}, {"count": 101}, {"version": 1}])
async def test_uuid_argument_errors(arguments: dict[str, object]) -> None:
    with pytest.raises(ToolArgumentError):
        await uuid_tool.call(arguments)


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha256", "sha512", "blake2b"])
async def test_hashes(algorithm: str) -> None:
    expected = hashlib.new(algorithm, "héllo".encode()).hexdigest()
    assert await hash_tool.call({"text": "héllo", "algorithm": algorithm}) == expected


async def test_hash_of_base64_bytes() -> None:
    assert await hash_tool.call({"text": "AAEC", "encoding": "base64", "algorithm": "md5"}) \
        == hashlib.md5(b"\x00\x01\x02").hexdigest()
    with pytest.raises(ToolArgumentError, match="invalid base64"):
        await hash_tool.call({"text": "***", "encoding": "base64"})
    with pytest.raises(ToolArgumentError):
        await hash_tool.call({"text": "x", "algorithm": "crc32"})


async def test_base64_round_trip() -> None:
    encoded = await base64_tool.call({"operation": "encode", "text": "héllo ✓?>"})
    assert encoded == "aMOpbGxvIOKckz8+"
    assert await base64_tool.call({"operation": "decode", "text": encoded}) == "héllo ✓?>"
    safe = await base64_tool.call({"operation": "encode", "text": "héllo ✓?>",
                                   "url_safe": True})
    assert safe == "aMOpbGxvIOKckz8-"
    assert await base64_tool.call({"operation": "decode", "text": "aMOpbGxvIOKckz8-",
                                   "url_safe": True}) == "héllo ✓?>"


async def test_base64_decode_tolerates_whitespace_and_missing_padding() -> None:
    assert await base64_tool.call({"operation": "decode", "text": "aGVs\nbG8"}) == "hello"


async def test_base64_decode_errors() -> None:
    with pytest.raises(ToolArgumentError, match="invalid base64"):
        await base64_tool.call({"operation": "decode", "text": "ab$d"})
    with pytest.raises(ToolArgumentError, match="not UTF-8"):
        await base64_tool.call({"operation": "decode", "text": "//79"})


async def test_unified_diff() -> None:
    result = await diff_tool.call({"old": "a\nb\nc\n", "new": "a\nB\nc\nd", "old_name": "x.txt",
                                   "new_name": "x.txt", "context": 1})
    assert result == {
        "diff": "--- x.txt\n+++ x.txt\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n"
                "\\ No newline at end of file\n",
        "changed": True, "added": 2, "removed": 1}


async def test_no_diff() -> None:
    assert await diff_tool.call({"old": "same\n", "new": "same\n"}) == {
        "diff": "", "changed": False, "added": 0, "removed": 0}
