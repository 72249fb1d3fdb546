"""Crash safety: a worker process runs many durable runs against a SQLite store and is killed
(SIGKILL) at random points; restarted, it resumes every unfinished run. Every run reaches the
same result as an uninterrupted one, and no node runs again once its completed checkpoint is
stored (each node checks the database itself before doing its work)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

RUNS = 60

WORKER = r'''
import asyncio, random, sqlite3, sys, time
from pathlib import Path

from plait import Engine, Flow
from plait.store.checkpoints import SqlCheckpointStore
from plait.store.db import Database
from plait.types import RunStatus

DB, RUNS = Path(sys.argv[1]), int(sys.argv[2])
HERE = DB.parent


def checked(name, factor):
    def work(value, ctx):
        # the property under test: a node whose completed checkpoint is stored never runs
        con = sqlite3.connect(DB, timeout=30)
        try:
            done = con.execute(
                "select 1 from plait_checkpoints where run_id = ? and node_id = ? "
                "and status = 'completed'", (ctx.run_id, name)).fetchone()
        finally:
            con.close()
        if done:
            with open(HERE / "violations.txt", "a") as f:
                f.write(f"{ctx.run_id} {name}\n")
        time.sleep(random.uniform(0.001, 0.015))
        with open(HERE / "executions.txt", "a") as f:
            f.write(f"{ctx.run_id} {name}\n")
        if isinstance(value, dict):
            return sum(value.values()) * factor
        return value * factor + 1
    return work


def merge(**values):
    return values


flow = Flow("crashy")
x = flow.input("x", type="integer")
a = flow.code("a", checked("a", 2), inputs=x)
branches = {f"b{i}": flow.code(f"b{i}", checked(f"b{i}", i + 2), inputs=a) for i in range(3)}
joined = flow.transform("joined", fn=merge, inline=True, inputs=branches)
flow.output("out", flow.code("total", checked("total", 1), inputs=joined))
workflow = flow.build()


async def main():
    db = await Database.open(DB)
    store = SqlCheckpointStore(db)
    engine = Engine()
    print("READY", flush=True)
    for i in range(RUNS):
        run_id = f"run-{i:03d}"
        record = await store.get_run(run_id)
        if record is None:
            await engine.run(workflow, {"x": i}, store=store, run_id=run_id)
        elif record.status is not RunStatus.COMPLETED:
            await engine.resume(run_id, store=store, workflow=workflow)
    await db.close()
    print("DONE", flush=True)


asyncio.run(main())
'''


def expected(x: int) -> int:
    a = x * 2 + 1
    return sum(a * (i + 2) + 1 for i in range(3))


@pytest.mark.slow
def test_killed_workers_resume_every_run_without_running_a_node_twice(tmp_path: Path) -> None:
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    db = tmp_path / "plait.db"
    rng = random.Random(20240501)
    kills = 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        proc = subprocess.Popen([sys.executable, str(worker), str(db), str(RUNS)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        assert ready.strip() == "READY", proc.stderr.read() if proc.stderr else ""
        if kills < 15:
            time.sleep(rng.uniform(0.02, 0.4))  # then kill -9, wherever it is
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        if "DONE" in out:
            break
    else:
        pytest.fail("the runs did not finish")
    assert kills >= 8, kills

    violations = tmp_path / "violations.txt"
    assert not violations.exists(), violations.read_text()
    con = sqlite3.connect(db)
    try:
        runs = con.execute("select run_id, status, outputs from plait_runs").fetchall()
        assert len(runs) == RUNS
        for run_id, status, outputs in runs:
            assert status == "completed", run_id
            assert json.loads(outputs) == {"out": expected(int(run_id[4:]))}, run_id
        for run_id, node_id, n in con.execute(
                "select run_id, node_id, count(*) from plait_checkpoints "
                "where status = 'completed' group by run_id, node_id"):
            assert n == 1, (run_id, node_id)  # one completed checkpoint per node
    finally:
        con.close()
    executed = (tmp_path / "executions.txt").read_text().split("\n")
    nodes = {line for line in executed if line}
    assert len(nodes) == RUNS * 5  # every node of every run ran (a, b0-b2, total)
