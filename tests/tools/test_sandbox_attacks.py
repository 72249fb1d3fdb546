"""Attacks on the sandbox: files, archives, processes and the network. Every one must be
refused with a clear error, and leave nothing behind outside the sandbox."""

from __future__ import annotations

import io
import os
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from plait.tools import (
    NetworkPolicy,
    Sandbox,
    SandboxLimits,
    SandboxViolation,
    ToolArgumentError,
    ToolDenied,
    ToolFailed,
    ToolLimitExceeded,
    ToolRegistry,
    ToolTimeout,
    default_tools,
)
from plait.tools.builtin import (
    ArchiveExtractTool,
    ArchiveListTool,
    FileListTool,
    FileReadTool,
    FileSearchTool,
    FileWriteTool,
    HttpRequestTool,
    ProcessTool,
    WebPageTool,
)

PY = sys.executable

# -- paths -------------------------------------------------------------------------------

ESCAPES = [
    ("../outside/secret.txt", "path_traversal"),
    ("docs/../../outside/secret.txt", "path_traversal"),
    ("docs/..", "path_traversal"),
    ("..\\outside\\secret.txt", "path_traversal"),
    ("/etc/passwd", "absolute_path"),
    ("\\\\server\\share\\x", "absolute_path"),
    ("C:\\Windows\\win.ini", "absolute_path"),
    ("notes.txt\x00.png", "invalid_path"),
]


@pytest.mark.parametrize(("path", "rule"), ESCAPES)
async def test_traversal_and_absolute_paths_are_refused_by_every_file_tool(
        sandbox: Sandbox, path: str, rule: str) -> None:
    calls = [
        (FileReadTool(sandbox), {"path": path}),
        (FileWriteTool(sandbox), {"path": path, "content": "pwned", "make_dirs": True}),
        (FileListTool(sandbox), {"path": path}),
        (FileSearchTool(sandbox), {"path": path, "text": "secret"}),
        (ArchiveListTool(sandbox), {"path": path}),
        (ArchiveExtractTool(sandbox), {"path": "notes.txt", "destination": path}),
    ]
    for tool, arguments in calls:
        with pytest.raises(SandboxViolation) as info:
            await tool.call(arguments)
        assert info.value.rule == rule, tool.name
        assert info.value.tool == tool.name


async def test_the_absolute_path_of_a_file_outside(sandbox: Sandbox, outside: Path) -> None:
    with pytest.raises(SandboxViolation, match="absolute"):
        await FileReadTool(sandbox).call({"path": str(outside / "secret.txt")})


async def test_symlink_escapes_are_refused(sandbox: Sandbox, outside: Path) -> None:
    (sandbox.root / "dirlink").symlink_to(outside, target_is_directory=True)
    (sandbox.root / "filelink").symlink_to(outside / "secret.txt")
    (sandbox.root / "dangling").symlink_to(outside / "created-by-attack.txt")
    (sandbox.root / "chain").symlink_to(sandbox.root / "dirlink")
    attempts = [
        (FileReadTool(sandbox), {"path": "dirlink/secret.txt"}),
        (FileReadTool(sandbox), {"path": "filelink"}),
        (FileReadTool(sandbox), {"path": "chain/secret.txt"}),
        (FileWriteTool(sandbox), {"path": "dangling", "content": "pwned"}),
        (FileWriteTool(sandbox), {"path": "dirlink/new.txt", "content": "pwned"}),
        (FileWriteTool(sandbox), {"path": "filelink", "content": "pwned"}),
        (FileListTool(sandbox), {"path": "dirlink"}),
        (FileSearchTool(sandbox), {"path": "chain", "text": "secret"}),
    ]
    for tool, arguments in attempts:
        with pytest.raises(SandboxViolation) as info:
            await tool.call(arguments)
        assert info.value.rule == "symlink_escape"
    assert (outside / "secret.txt").read_text() == "top secret"
    assert sorted(os.listdir(outside)) == ["secret.txt"]


async def test_walking_never_follows_symlinks(sandbox: Sandbox, outside: Path) -> None:
    (sandbox.root / "dirlink").symlink_to(outside, target_is_directory=True)
    listed = await FileListTool(sandbox).call({"recursive": True})
    entries = {e["path"]: e["type"] for e in listed["entries"]}  # type: ignore[index,union-attr]
    assert entries["dirlink"] == "symlink"
    assert not any("secret" in p for p in entries)
    found = await FileSearchTool(sandbox).call({"text": "top secret"})
    assert found["matches"] == []  # type: ignore[index]


async def test_symlinks_that_stay_inside_work(sandbox: Sandbox) -> None:
    (sandbox.root / "alias").symlink_to(sandbox.root / "docs", target_is_directory=True)
    assert await FileReadTool(sandbox).call({"path": "alias/readme.md"}) == (
        "# Title\nSome text about sandboxes.\n")


async def test_a_symlink_swapped_in_after_the_check_is_refused(
        sandbox: Sandbox, outside: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Race: the path resolves safely, then a directory becomes a symlink before the open.
    The component-by-component O_NOFOLLOW open still refuses it."""
    (sandbox.root / "swap").symlink_to(outside, target_is_directory=True)
    monkeypatch.setattr(sandbox, "parts", lambda path: tuple(path.split("/")))
    for tool, arguments in ((FileReadTool(sandbox), {"path": "swap/secret.txt"}),
                            (FileWriteTool(sandbox), {"path": "swap/x.txt", "content": "x"}),
                            (FileReadTool(sandbox), {"path": "swap"})):
        with pytest.raises(SandboxViolation) as info:
            await tool.call(arguments)
        assert info.value.rule == "symlink"
    assert not (outside / "x.txt").exists()


# -- archives ----------------------------------------------------------------------------


def _zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info, data)


def _tar(path: Path, members: list[tarfile.TarInfo], mode: str = "w") -> None:
    with tarfile.open(path, mode) as tf:
        for info in members:
            tf.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)


def _member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 1,
            link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size if kind == tarfile.REGTYPE else 0
    info.linkname = link
    return info


def _symlink_zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


ZIP_ATTACKS = {
    "zip-slip": ([("ok.txt", b"fine"), ("../evil.txt", b"pwned")], "path_traversal"),
    "deep zip-slip": ([("a/b/../../../evil.txt", b"pwned")], "path_traversal"),
    "backslashes": ([("..\\evil.txt", b"pwned")], "path_traversal"),
    "absolute": ([("/tmp/evil.txt", b"pwned")], "absolute_path"),
    "symlink": ([(_symlink_zip_info("link"), b"/etc/passwd")], "archive_link"),
}


@pytest.mark.parametrize("attack", ZIP_ATTACKS)
async def test_malicious_zips_are_refused_whole(sandbox: Sandbox, tmp_path: Path,
                                                attack: str) -> None:
    members, rule = ZIP_ATTACKS[attack]
    _zip(sandbox.root / "evil.zip", members)
    before = sorted(p.name for p in sandbox.root.iterdir())
    with pytest.raises(SandboxViolation) as info:
        await ArchiveExtractTool(sandbox).call({"path": "evil.zip", "destination": "out"})
    assert info.value.rule == rule
    assert sorted(p.name for p in sandbox.root.iterdir()) == before  # nothing written
    assert not (tmp_path / "evil.txt").exists()
    listed = await ArchiveListTool(sandbox).call({"path": "evil.zip"})
    assert any("unsafe" in m for m in listed["members"])  # type: ignore[index,union-attr]


TAR_ATTACKS = {
    "dot-dot": ([_member("../evil.txt")], "path_traversal"),
    "absolute": ([_member("/tmp/evil.txt")], "absolute_path"),
    "symlink": ([_member("link", tarfile.SYMTYPE, link="/etc")], "archive_link"),
    "symlink then write through it": (
        [_member("link", tarfile.SYMTYPE, link="../../"), _member("link/evil.txt")],
        "archive_link"),
    "hard link": ([_member("passwd", tarfile.LNKTYPE, link="/etc/passwd")], "archive_link"),
    "device": ([_member("null", tarfile.CHRTYPE)], "archive_member_type"),
    "fifo": ([_member("pipe", tarfile.FIFOTYPE)], "archive_member_type"),
}


@pytest.mark.parametrize("attack", TAR_ATTACKS)
async def test_malicious_tars_are_refused_whole(sandbox: Sandbox, tmp_path: Path,
                                                attack: str) -> None:
    members, rule = TAR_ATTACKS[attack]
    _tar(sandbox.root / "evil.tar", [_member("fine.txt"), *members])
    with pytest.raises(SandboxViolation) as info:
        await ArchiveExtractTool(sandbox).call({"path": "evil.tar"})
    assert info.value.rule == rule
    assert not (sandbox.root / "fine.txt").exists()
    assert not (tmp_path / "evil.txt").exists()


async def test_extracting_through_an_existing_symlink_is_refused(
        sandbox: Sandbox, outside: Path) -> None:
    (sandbox.root / "out").mkdir()
    (sandbox.root / "out" / "link").symlink_to(outside, target_is_directory=True)
    _zip(sandbox.root / "a.zip", [("link/evil.txt", b"pwned")])
    with pytest.raises(SandboxViolation, match="symlink"):
        await ArchiveExtractTool(sandbox).call({"path": "a.zip", "destination": "out"})
    (sandbox.root / "dest").symlink_to(outside, target_is_directory=True)
    _zip(sandbox.root / "b.zip", [("evil.txt", b"pwned")])
    with pytest.raises(SandboxViolation, match="symlink"):
        await ArchiveExtractTool(sandbox).call({"path": "b.zip", "destination": "dest"})
    assert not (outside / "evil.txt").exists()


async def test_zip_bomb_ratio(sandbox: Sandbox) -> None:
    _zip(sandbox.root / "bomb.zip", [("zeros.bin", bytes(4_000_000))])
    with pytest.raises(ToolLimitExceeded) as info:
        await ArchiveExtractTool(sandbox).call({"path": "bomb.zip"})
    assert info.value.limit == "max_compression_ratio"
    assert not (sandbox.root / "zeros.bin").exists()


async def test_tar_gz_bomb_stops_while_reading_headers(sandbox: Sandbox) -> None:
    _tar(sandbox.root / "bomb.tar.gz", [_member("zeros.bin", size=4_000_000),
                                        _member("after.txt")], mode="w:gz")
    with pytest.raises(ToolLimitExceeded) as info:
        await ArchiveListTool(sandbox).call({"path": "bomb.tar.gz"})
    assert info.value.limit == "max_compression_ratio"


async def test_total_size_and_member_count_caps(sandbox: Sandbox) -> None:
    small = Sandbox(sandbox.root, limits=SandboxLimits(max_extract_bytes=1000,
                                                       max_archive_members=3))
    _zip(sandbox.root / "big.zip", [("random.bin", os.urandom(2000))])
    with pytest.raises(ToolLimitExceeded) as info:
        await ArchiveExtractTool(small).call({"path": "big.zip"})
    assert info.value.limit == "max_extract_bytes"
    _zip(sandbox.root / "many.zip", [(f"f{i}", b"") for i in range(4)])
    with pytest.raises(ToolLimitExceeded) as info:
        await ArchiveExtractTool(small).call({"path": "many.zip"})
    assert info.value.limit == "max_archive_members"


async def test_a_lying_size_header_is_caught_while_writing(sandbox: Sandbox) -> None:
    _zip(sandbox.root / "liar.zip", [("data.bin", os.urandom(5000))])
    raw = bytearray((sandbox.root / "liar.zip").read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
        size = zf.getinfo("data.bin").file_size.to_bytes(4, "little")
    small = (10).to_bytes(4, "little")
    raw = raw.replace(size, small)  # local header and central directory say 10 bytes
    (sandbox.root / "liar.zip").write_bytes(bytes(raw))
    # zipfile stops at the declared size and then finds the CRC wrong; plait's own count of
    # decompressed bytes would stop a member that got past that
    with pytest.raises(ToolFailed, match="Bad CRC"):
        await ArchiveExtractTool(sandbox).call({"path": "liar.zip"})
    assert not (sandbox.root / "data.bin").exists()


# -- processes ---------------------------------------------------------------------------


@pytest.fixture
def processes(sandbox: Sandbox) -> ProcessTool:
    return ProcessTool(sandbox, ["echo", PY])


async def test_a_shell_string_is_not_an_argv(processes: ProcessTool) -> None:
    with pytest.raises(ToolArgumentError) as info:
        await processes.call({"argv": "echo hi; touch pwned"})
    assert info.value.problems[0].location == "argv"


async def test_shell_metacharacters_are_plain_text(processes: ProcessTool,
                                                   sandbox: Sandbox) -> None:
    with pytest.raises(SandboxViolation, match="not allowed"):
        await processes.call({"argv": ["echo hi; touch pwned"]})
    words = ["hi;", "touch", "pwned", "&&", "$(touch pwned2)", "`touch pwned3`", "|", "cat",
             ">", "out.txt", "*"]
    result = await processes.call({"argv": ["echo", *words]})
    assert result["stdout"] == " ".join(words) + "\n"  # type: ignore[index]
    assert not any((sandbox.root / name).exists()
                   for name in ("pwned", "pwned2", "pwned3", "out.txt"))


@pytest.mark.parametrize("argv", [["rm", "-rf", "/"], ["/bin/sh", "-c", "id"], ["sh"],
                                  ["../../bin/sh"], ["ECHO"], [" echo"]])
async def test_commands_outside_the_allowlist(processes: ProcessTool, argv: list[str]) -> None:
    with pytest.raises(SandboxViolation) as info:
        await processes.call({"argv": argv})
    assert info.value.rule == "command_not_allowed"


@pytest.mark.parametrize(("cwd", "rule"), [("..", "path_traversal"), ("/", "absolute_path")])
async def test_the_working_directory_stays_inside(processes: ProcessTool, cwd: str,
                                                  rule: str) -> None:
    with pytest.raises(SandboxViolation) as info:
        await processes.call({"argv": ["echo"], "cwd": cwd})
    assert info.value.rule == rule


async def test_a_command_past_its_timeout_is_killed_with_its_children(
        processes: ProcessTool, sandbox: Sandbox) -> None:
    code = ("import subprocess, sys, time; "
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
            "open('child.pid', 'w').write(str(child.pid)); time.sleep(30)")
    started = time.monotonic()
    with pytest.raises(ToolTimeout) as info:
        await processes.call({"argv": [PY, "-c", code], "timeout": 0.8})
    assert time.monotonic() - started < 5
    assert info.value.seconds == 0.8
    pid = int((sandbox.root / "child.pid").read_text())
    assert _gone(pid)


def _gone(pid: int) -> bool:
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):  # killed, waiting to be reaped by init
            return True
        time.sleep(0.02)
    return False


async def test_secrets_in_the_environment_do_not_reach_the_child(
        processes: ProcessTool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    result = await processes.call({"argv": [PY, "-c", "import os; print(dict(os.environ))"]})
    assert "sk-secret" not in str(result["stdout"])  # type: ignore[index]


def test_the_process_tool_needs_a_privileged_registry(processes: ProcessTool,
                                                      sandbox: Sandbox) -> None:
    with pytest.raises(ToolDenied):
        ToolRegistry([processes])
    with pytest.raises(ToolDenied):
        default_tools(sandbox=sandbox, commands=["echo"])
    assert "run_process" in default_tools(sandbox=sandbox, commands=["echo"],
                                          max_level="privileged")


# -- network -----------------------------------------------------------------------------


@pytest.mark.parametrize(("allowlist", "url", "rule"), [
    (["127.0.0.1"], "http://example.com/", "host_not_allowed"),
    (["127.0.0.1"], "file:///etc/passwd", "scheme"),
    (["*"], "file:///etc/passwd", "scheme"),
    (["example.com"], "http://127.0.0.1:{port}/json", "host_not_allowed"),
    (["*"], "http://127.0.0.1:{port}/json", "private_address"),
    (["localhost"], "http://localhost:{port}/json", "private_address"),
    (["127.0.0.1"], "{base}/redirect-file", "scheme"),
    (["127.0.0.1"], "{base}/redirect-away", "host_not_allowed"),
])
async def test_network_refusals(http_server: str, allowlist: list[str], url: str,
                                rule: str) -> None:
    port = http_server.rsplit(":", 1)[1]
    target = url.format(port=port, base=http_server)
    for tool in (HttpRequestTool(allowlist), WebPageTool(allowlist)):
        with pytest.raises(SandboxViolation) as info:
            await tool.call({"url": target})
        assert info.value.rule == rule


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
async def test_oversize_responses(http_server: str, path: str) -> None:
    policy = NetworkPolicy(["127.0.0.1"], max_response_bytes=100_000)
    for tool in (HttpRequestTool(policy), WebPageTool(policy)):
        with pytest.raises(ToolLimitExceeded) as info:
            await tool.call({"url": f"{http_server}{path}"})
        assert info.value.limit == "max_response_bytes"


async def test_slow_servers_time_out(http_server: str) -> None:
    policy = NetworkPolicy(["127.0.0.1"], timeout=0.2)
    with pytest.raises(ToolTimeout):
        await HttpRequestTool(policy).call({"url": f"{http_server}/slow"})
