"""What the benchmarks' orchestrators share: the subprocess environment, the mock LLM server
process, one measurement in a fresh subprocess, and where the measured plait came from.

``bench.engine`` and ``bench.llm`` both run each (row, scenario) in a fresh subprocess (a
worker module printing one ``BENCH-RESULT {json}`` line) and start the mock server in its own
process pinned to CPU 1. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.worker import MARKER

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
OLLAMA_PORT = 11434  # GraphBit reaches Ollama only here

PLAIT_SRC = ROOT / "src"
"""The plait package measured; ``--plait-src`` replaces it (a snapshot while plait is edited)."""


def set_plait_src(path: Path) -> None:
    global PLAIT_SRC
    PLAIT_SRC = path.resolve()


def env() -> dict[str, str]:
    """The environment of workers and the mock server: ``bench`` and plait importable."""
    out = dict(os.environ)
    paths = [str(ROOT), str(PLAIT_SRC)]
    if out.get("PYTHONPATH"):
        paths.append(out["PYTHONPATH"])
    out["PYTHONPATH"] = os.pathsep.join(paths)
    out.setdefault("PYTHONHASHSEED", "0")
    return out


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def mock_process(
    port: int, module: str = "plait.testing", args: Sequence[str] = ()
) -> Iterator[tuple[str, int]]:
    """A mock LLM server in its own process (its CPU is nobody's measurement), on CPU 1.

    ``module`` is run with ``--host 127.0.0.1 --port PORT`` and ``args``; it must print a line
    ending in ``listening on http://HOST:PORT`` once it serves. Yields ``(host, port)``.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        env=env(),
        cwd=ROOT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the mock LLM server did not start: {line!r}")
        if (os.cpu_count() or 1) > 1:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(proc.pid, {1})
        actual = int(line.strip().rsplit(":", 1)[1])
        yield "127.0.0.1", actual
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def plait_source() -> dict[str, str]:
    """Where the measured plait came from: the path, and the repository's commit."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=PLAIT_SRC, capture_output=True, text=True)
        except OSError:
            return ""
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "plait")
    return {
        "path": str(PLAIT_SRC),
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_plait_modified": "yes" if dirty else "no",
    }


def run_subprocess(module: str, job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run ``python -m module '<job as JSON>'`` and return the outcome its last
    ``BENCH-RESULT`` line reports (``{"ok": False, "error": ...}`` if there is none), with
    ``seconds``, the subprocess's wall time."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", module, json.dumps(job)],
            capture_output=True,
            text=True,
            env=env(),
            cwd=ROOT,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        outcome: dict[str, Any] = {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    else:
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith(MARKER)]
        if lines:
            outcome = json.loads(lines[-1][len(MARKER) :])
        else:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            outcome = {"ok": False, "error": f"exit {done.returncode}: " + " | ".join(tail)}
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def status_word(outcome: dict[str, Any]) -> str:
    """``ok``, ``SKIP`` (the side cannot run the scenario) or ``FAIL``, for progress lines."""
    return "ok" if outcome["ok"] else "SKIP" if outcome.get("unsupported") else "FAIL"


def finish(stem: Path, result: dict[str, Any], markdown: str,
           records: Sequence[dict[str, Any]], elapsed: float) -> int:
    """Write ``stem.json`` and ``stem.md``; exit status 1 if any plait row failed."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    Path(f"{stem}.md").write_text(markdown)
    print(f"done in {elapsed:.0f} s: {stem}.json, {stem}.md", flush=True)
    broken = sorted({r["row"] for r in records if not r["ok"] and r["row"].startswith("plait/")})
    if broken:
        print(f"plait rows failed: {broken} (see {stem}.json)", file=sys.stderr)
    return 1 if broken else 0
