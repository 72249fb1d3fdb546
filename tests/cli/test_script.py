"""The installed ``plait`` console script, run as a real subprocess: the scaffold end to end,
Ctrl-C, and the live view on a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import SLOW

PLAIT = Path(sys.executable).parent / "plait"
pytestmark = pytest.mark.skipif(not PLAIT.exists(), reason="the plait script is not installed")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(COLUMNS="120", LINES="40", PYTHONUNBUFFERED="1")
    return env


def _plait(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PLAIT), *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=60, check=False)


def test_init_validate_run_graph_with_the_script(tmp_path: Path) -> None:
    assert _plait("init", "demo", cwd=tmp_path).returncode == 0
    project = tmp_path / "demo"
    checked = _plait("validate", "workflows/hello.yaml", cwd=project)
    assert checked.returncode == 0, checked.stderr
    run = _plait("run", "hello", "--json", "--input", "name=Ada", cwd=project)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["outputs"] == {"message": "Hello, Ada.", "words": 2}
    plain = _plait("run", "hello", cwd=project)
    assert plain.returncode == 0
    assert "message: Hello, world." in plain.stdout
    assert "✓ greeting done" in plain.stderr  # not a terminal: plain lines, no animation
    assert "\x1b[" not in plain.stdout + plain.stderr
    graph = _plait("graph", "hello", "--format", "mermaid", cwd=project)
    assert graph.stdout.startswith("flowchart TD")
    bad = _plait("run", "nope.yaml", cwd=project)
    assert bad.returncode == 2
    assert "does not exist" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_ctrl_c_cancels_the_run_and_exits_130(tmp_path: Path) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW)
    proc = subprocess.Popen([str(PLAIT), "run", "slow.yaml"], cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        seen = ""
        while "wait delay started" not in seen:
            line = proc.stderr.readline()
            assert line, f"plait ended early: {seen}"
            seen += line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "cancelled" in err
    assert "Traceback" not in err + out


def _run_on_a_terminal(args: list[str], cwd: Path, timeout: float = 60) -> tuple[int, str]:
    try:
        main, other = pty.openpty()
    except OSError:
        pytest.skip("no pseudo-terminals here")
    proc = subprocess.Popen([str(PLAIT), *args], cwd=cwd, env=_env(), stdin=other,
                            stdout=other, stderr=other, close_fds=True)
    os.close(other)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    data = os.read(main, 65536)
                except OSError:  # the other side closed
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def test_live_view_on_a_terminal(tmp_path: Path) -> None:
    assert _plait("init", "demo", cwd=tmp_path).returncode == 0
    code, screen = _run_on_a_terminal(["run", "hello", "-i", "excited=true"],
                                      tmp_path / "demo")
    assert code == 0, screen
    assert "\x1b[?25l" in screen  # the live view hid the cursor while drawing
    assert "nodes finished" in screen
    assert "✓ completed" in screen
    assert "HELLO, WORLD!" in screen
