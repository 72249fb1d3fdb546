"""Durable CLI runs and ``plait runs``: a stored run listed and shown with its lineage, human
input answered across invocations, cancel, replay offline from the recorded calls, fork,
prune, bad ids and answers, and a run killed (-9 and Ctrl-C) then resumed without running a
completed node again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import Result

from plait.store import open_store
from plait.store.codec import output_hash
from plait.testing import MockLLMServer, Reply, ToolCall
from plait.types import RunStatus
from tests.cli.conftest import DIAMOND, Write
from tests.cli.envs import clean_env, mock_openai_env, plait

PLAIT = Path(sys.executable).parent / "plait"

APPROVE = """
plait: "1"
name: approve
inputs: {draft: {type: string}}
nodes:
  - id: publish
    kind: human_input
    params:
      prompt: "Publish '{{ value }}'?"
      answer_schema: {type: string, enum: ["yes", "no"]}
  - id: copies
    kind: human_input
    params: {prompt: "How many copies?", answer_schema: {type: integer}}
  - {id: both, kind: transform, params: {expression: "[p, c]"}}
  - {id: decision, kind: output}
  - {id: tweet, kind: transform, params: {template: "New: {{ value }}"}}
  - {id: announce, kind: output}
edges:
  - {from: $input.draft, to: publish}
  - {from: $input.draft, to: copies}
  - {from: publish, to: both.p}
  - {from: copies, to: both.c}
  - {from: both, to: decision}
  - {from: $input.draft, to: tweet}
  - {from: tweet, to: announce}
"""

ASSIST = """
plait: "1"
name: assist
inputs: {question: {type: string}}
nodes:
  - {id: draft, kind: llm, params: {prompt: "Answer briefly: {{ value }}"}}
  - {id: check, kind: agent, params: {prompt: "Check the sum in: {{ value }}",
                                      tools: [calculator]}}
  - {id: answer, kind: output}
edges:
  - {from: $input.question, to: draft}
  - {from: draft, to: check}
  - {from: check, to: answer}
"""

CHAIN = """
plait: "1"
name: chain
inputs: {x: {type: integer}}
nodes:
  - {id: s1, kind: delay, params: {seconds: 0.2}}
  - {id: t1, kind: transform, params: {expression: "value + 1"}}
  - {id: s2, kind: delay, params: {seconds: 0.2}}
  - {id: t2, kind: transform, params: {expression: "value + 10"}}
  - {id: s3, kind: delay, params: {seconds: 2}}
  - {id: t3, kind: transform, params: {expression: "value + 100"}}
  - {id: out, kind: output}
edges:
  - {from: $input.x, to: s1}
  - {from: s1, to: t1}
  - {from: t1, to: s2}
  - {from: s2, to: t2}
  - {from: t2, to: s3}
  - {from: s3, to: t3}
  - {from: t3, to: out}
"""


def _json(result: Result) -> dict[str, object]:
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def _run_id(result: Result) -> str:
    return str(_json(result)["run_id"])


def test_a_run_is_stored_listed_and_shown_with_its_lineage(tmp_path: Path,
                                                          write: Write) -> None:
    env = clean_env(tmp_path / "home")
    path = write("diamond.yaml", DIAMOND)
    ran = plait("run", str(path), "-i", "x=1", env=env)
    assert ran.exit_code == 0, ran.output
    [line] = [x for x in ran.stderr.splitlines() if "stored: plait runs show" in x]
    run_id = line.split()[1]
    assert len(run_id) == 24

    listed = plait("runs", "list", "--json", env=env)
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert (row["run_id"], row["workflow"], row["status"]) == (run_id, "diamond", "completed")
    table = plait("runs", "list", env=env)
    assert run_id in table.stdout
    assert "completed" in table.stdout

    shown = plait("runs", "show", run_id[:8], "--json", env=env)  # a prefix will do
    assert shown.exit_code == 0, shown.output
    data = _json(shown)
    assert data["outputs"] == {"out": 10}
    assert data["inputs"] == {"x": 1}
    lineage = data["lineage"]
    assert isinstance(lineage, dict)
    assert lineage["digest"] == data["run"]["digest"]  # type: ignore[index]
    join = lineage["nodes"]["join"]
    assert join["status"] == "completed"
    assert join["output_hash"] == output_hash(10)
    types = [e["type"] for e in data["events"]]  # type: ignore[union-attr]
    assert types[0] == "RunStarted"
    assert types[-1] == "RunFinished"
    assert types.count("NodeStarted") == 5

    text = plait("runs", "show", run_id, env=env)
    assert "lineage" in text.stdout
    assert "timeline" in text.stdout
    assert output_hash(10)[:16] in text.stdout
    assert "join completed in" in text.stdout


def test_no_store_and_durability_exit(tmp_path: Path, write: Write) -> None:
    env = clean_env(tmp_path / "home")
    path = write("diamond.yaml", DIAMOND)
    assert plait("run", str(path), "-i", "x=1", "--no-store", env=env).exit_code == 0
    assert json.loads(plait("runs", "list", "--json", env=env).stdout) == []
    ran = plait("run", str(path), "-i", "x=2", "--durability", "exit", "--json", env=env)
    assert ran.exit_code == 0, ran.output
    assert ran.stderr == ""  # --json: the run id is in the result, nothing on stderr
    shown = _json(plait("runs", "show", _run_id(ran), "--json", env=env))
    assert shown["outputs"] == {"out": 15}


def test_a_chosen_run_id(tmp_path: Path, write: Write) -> None:
    env = clean_env(tmp_path / "home")
    path = write("diamond.yaml", DIAMOND)
    ran = plait("run", str(path), "-i", "x=1", "--run-id", "nightly-1", "--json", env=env)
    assert _run_id(ran) == "nightly-1"
    again = plait("run", str(path), "-i", "x=1", "--run-id", "nightly-1", env=env)
    assert again.exit_code == 2
    assert "'nightly-1' is already stored" in again.stderr
    assert "stored: plait runs show" not in again.stderr  # nothing ran, nothing announced
    for bad in ("../x", "a b", ""):
        refused = plait("run", str(path), "-i", "x=1", "--run-id", bad, env=env)
        assert refused.exit_code == 2, bad
    unstored = plait("run", str(path), "-i", "x=1", "--run-id", "n2", "--no-store", env=env)
    assert unstored.exit_code == 2
    assert "cannot go with --no-store" in unstored.stderr


def test_human_input_waits_and_parallel_answers_resume_one_at_a_time(
        tmp_path: Path, write: Write) -> None:
    env = clean_env(tmp_path / "home")
    path = write("approve.yaml", APPROVE)
    first = plait("run", str(path), "-i", "draft=Hello", env=env)
    assert first.exit_code == 3, first.output  # waiting for answers
    assert "⏸ waiting" in first.stdout
    assert "waiting for 2 answers" in first.stdout
    assert "announce: New: Hello" in first.stdout  # the independent branch finished
    waiting = _json(plait("run", str(path), "-i", "draft=Hello", "--json", env=env))
    assert waiting["status"] == "waiting"
    asked = {i["node_id"]: i["id"] for i in waiting["interrupts"]}  # type: ignore[union-attr]
    run_id = str(waiting["run_id"])
    first_id = next(x.split()[1] for x in first.stderr.splitlines() if "stored:" in x)
    assert f"answer with: plait runs resume {first_id} --answer " in first.stdout

    # each invocation is a new process state: a restart between answers
    half = plait("runs", "resume", run_id, "--answer", f"{asked['publish']}=yes", env=env)
    assert half.exit_code == 3, half.output
    assert "waiting for 1 answer" in half.stdout
    assert asked["copies"] in half.stdout
    shown = _json(plait("runs", "show", run_id, "--json", env=env))
    assert shown["run"]["status"] == "waiting"  # type: ignore[index]
    assert [i["node_id"] for i in shown["interrupts"]] == ["copies"]  # type: ignore[union-attr]

    answers = tmp_path / "answers.yaml"
    answers.write_text("copies: 3\n")
    done = plait("runs", "resume", run_id, "--answer-file", str(answers), "--json", env=env)
    assert done.exit_code == 0, done.output
    result = _json(done)
    assert result["outputs"] == {"decision": ["yes", 3], "announce": "New: Hello"}
    events = _json(plait("runs", "show", run_id, "--json", env=env))["events"]
    started = [e["data"]["node_id"] for e in events  # type: ignore[union-attr]
               if e["type"] == "NodeStarted"]
    assert started.count("tweet") == 1  # completed before the pause: never run again
    assert started.count("publish") == 2
    assert started.count("copies") == 2


def test_bad_ids_and_answers_are_usage_errors(tmp_path: Path, write: Write) -> None:
    env = clean_env(tmp_path / "home")
    path = write("approve.yaml", APPROVE)
    run_id = _run_id(plait("run", str(path), "-i", "draft=Hi", "--json", env=env))
    cases = [
        (("runs", "show", "nope"), "no stored run 'nope'"),
        (("runs", "resume", "nope"), "no stored run 'nope'"),
        (("runs", "resume", run_id), "waits for 2 answers"),
        (("runs", "resume", run_id, "--answer", "publish"), "expected INTERRUPT_ID=VALUE"),
        (("runs", "resume", run_id, "--answer", "unknown=1"), "names no interrupt"),
        (("runs", "resume", run_id, "--answer", "publish=maybe"), "is not one of"),
        (("runs", "resume", run_id, "--answer", "copies=many"), "is not of type 'integer'"),
        (("runs", "resume", run_id, "--answer-file", str(tmp_path / "none.json")),
         "does not exist"),
        (("runs", "fork", run_id, "--from", "nowhere"), "has no node 'nowhere'"),
        (("runs", "replay", run_id), "only a completed or failed run can be replayed"),
        (("runs", "prune",), "say what to remove"),
    ]
    for args, message in cases:
        result = plait(*args, env=env)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    # the refused answers changed nothing: the run still waits on both
    shown = _json(plait("runs", "show", run_id, "--json", env=env))
    assert len(shown["interrupts"]) == 2  # type: ignore[arg-type]


def test_cancel(tmp_path: Path, write: Write) -> None:
    env = clean_env(tmp_path / "home")
    run_id = _run_id(plait("run", str(write("approve.yaml", APPROVE)), "-i", "draft=Hi",
                           "--json", env=env))
    cancelled = plait("runs", "cancel", run_id, env=env)
    assert cancelled.exit_code == 0, cancelled.output
    assert "cancelled" in cancelled.stdout
    listed = json.loads(plait("runs", "list", "--status", "cancelled", "--json",
                              env=env).stdout)
    assert [r["run_id"] for r in listed] == [run_id]
    again = plait("runs", "cancel", run_id, env=env)
    assert again.exit_code == 2
    assert "already cancelled" in again.stderr
    resumed = plait("runs", "resume", run_id, "--answer", "publish=yes", env=env)
    assert resumed.exit_code == 2
    assert "cannot be resumed" in resumed.stderr
    done = _run_id(plait("run", str(write("d.yaml", DIAMOND)), "-i", "x=1", "--json", env=env))
    finished = plait("runs", "cancel", done, env=env)
    assert finished.exit_code == 2
    assert "already completed" in finished.stderr
    completed = plait("runs", "resume", done, env=env)
    assert completed.exit_code == 2
    assert "already completed" in completed.stderr


def test_replay_reproduces_a_run_offline(tmp_path: Path, write: Write) -> None:
    path = write("assist.yaml", ASSIST)
    home = tmp_path / "home"
    script = ["2 + 2 = 4", Reply.calling(ToolCall("calculator", {"expression": "2 + 2"})),
              "Correct: 4"]
    with MockLLMServer(script) as server:
        env = mock_openai_env(home, server.url)
        ran = plait("run", str(path), "-i", "question=What is 2 + 2?", "--json", env=env)
        assert ran.exit_code == 0, ran.output
        assert len(server.requests) == 3
    run_id = _run_id(ran)
    assert _json(ran)["outputs"] == {"answer": "Correct: 4"}

    shown = _json(plait("runs", "show", run_id, "--json", env=env))
    nodes = shown["lineage"]["nodes"]  # type: ignore[index]
    assert nodes["draft"]["models"] == ["openai:gpt-4o-mini"]  # the default, pinned
    assert len(nodes["draft"]["prompt_hash"]) == 64
    assert nodes["check"]["output_hash"] == output_hash("Correct: 4")
    recorded = [e for e in shown["events"] if e["type"] == "CallsRecorded"]  # type: ignore[union-attr]
    assert recorded[0]["data"]["calls"] == 4  # two model calls by the agent, one tool call

    # the server is gone and no key is set: every call is answered from the recording
    offline = clean_env(home, OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    replayed = plait("runs", "replay", run_id, env=offline)
    assert replayed.exit_code == 0, replayed.output
    assert f"identical to run {run_id}" in replayed.stdout
    as_json = _json(plait("runs", "replay", run_id, "--json", "--no-store", env=offline))
    assert as_json["identical"] is True
    assert as_json["replay_of"] == run_id
    assert as_json["outputs"] == {"answer": "Correct: 4"}
    assert as_json["run_id"] != run_id

    async def tamper() -> None:  # as if the original had answered otherwise
        async with await open_store(home) as stores:
            await stores.checkpoints.update_run(run_id, status=RunStatus.COMPLETED,
                                                outputs={"answer": "Wrong: 5"})

    asyncio.run(tamper())
    differs = plait("runs", "replay", run_id, env=offline)
    assert differs.exit_code == 1, differs.output
    assert "differs from run" in differs.stdout
    assert '-    "answer": "Wrong: 5"' in differs.stdout
    assert '+    "answer": "Correct: 4"' in differs.stdout


def test_replay_answers_human_input_as_the_original_did(tmp_path: Path,
                                                        write: Write) -> None:
    env = clean_env(tmp_path / "home")
    path = write("approve.yaml", APPROVE)
    run_id = _run_id(plait("run", str(path), "-i", "draft=Hi", "--json", env=env))
    done = plait("runs", "resume", run_id, "-a", "publish=no", "-a", "copies=0", env=env)
    assert done.exit_code == 0, done.output
    replayed = plait("runs", "replay", run_id, "--json", env=env)
    assert replayed.exit_code == 0, replayed.output
    assert _json(replayed)["outputs"] == {"decision": ["no", 0], "announce": "New: Hi"}


def test_fork_from_a_node_with_an_edited_output(tmp_path: Path, write: Write) -> None:
    env = clean_env(tmp_path / "home")
    run_id = _run_id(plait("run", str(write("d.yaml", DIAMOND)), "-i", "x=1", "--json",
                           env=env))
    forked = plait("runs", "fork", run_id, "--from", "join", "--set", "left=100", "--json",
                   env=env)
    assert forked.exit_code == 0, forked.output
    data = _json(forked)
    assert data["outputs"] == {"out": 106}
    assert data["parent_id"] == run_id
    fork_id = str(data["run_id"])
    shown = _json(plait("runs", "show", fork_id, "--json", env=env))
    assert shown["run"]["parent_id"] == run_id  # type: ignore[index]
    started = [e["data"]["node_id"] for e in shown["events"]  # type: ignore[union-attr]
               if e["type"] == "NodeStarted"]
    assert sorted(started) == ["join", "out"]  # start and right kept, left edited
    refused = plait("runs", "replay", fork_id, env=env)
    assert refused.exit_code == 2
    assert "edited outputs (left)" in refused.stderr
    plain = plait("runs", "fork", run_id[:6], "--from", "out", env=env)
    assert plain.exit_code == 0, plain.output
    assert f"forked from run {run_id}" in plain.stdout
    assert plait("runs", "replay", _run_id(plait(
        "runs", "fork", run_id, "--from", "start", "--json", env=env)), env=env).exit_code == 0


def test_prune_keeps_the_newest_and_the_waiting(tmp_path: Path, write: Write) -> None:
    env = clean_env(tmp_path / "home")
    path = write("d.yaml", DIAMOND)
    ids = [_run_id(plait("run", str(path), "-i", f"x={i}", "--json", env=env))
           for i in range(3)]
    waiting = _run_id(plait("run", str(write("a.yaml", APPROVE)), "-i", "draft=Hi", "--json",
                            env=env))
    pruned = plait("runs", "prune", "--keep-last", "1", "--json", env=env)
    assert pruned.exit_code == 0, pruned.output
    assert _json(pruned)["runs_removed"] == 2
    left = {r["run_id"] for r in json.loads(plait("runs", "list", "--json", env=env).stdout)}
    assert left == {ids[-1], waiting}
    assert "removed 0 finished runs" in plait("runs", "prune", "--older-than", "1",
                                              env=env).stdout


# -- a killed process, through the installed script ------------------------------------------


def _script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PLAIT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False, env=_env())


def _env() -> dict[str, str]:
    env = dict(os.environ)  # PLAIT_HOME: the test's own (tests/conftest.py)
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200", NO_COLOR="1")
    return env


@pytest.mark.slow
@pytest.mark.skipif(not PLAIT.exists(), reason="the plait script is not installed")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_a_killed_run_resumes_without_running_completed_nodes_again(
        tmp_path: Path, write: Write, sig: signal.Signals) -> None:
    write("chain.yaml", CHAIN)
    proc = subprocess.Popen([str(PLAIT), "run", "chain.yaml", "-i", "x=1", "--durability",
                             "sync"], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = ""
    try:
        assert proc.stderr is not None
        while "s3 delay started" not in seen:  # t2 completed: its checkpoint is stored
            line = proc.stderr.readline()
            assert line, f"plait ended early: {seen}"
            seen += line
        proc.send_signal(sig)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 130)
    run_id = next(line.split()[1] for line in seen.splitlines() if "stored:" in line)

    before = json.loads(_script("runs", "show", run_id, "--json", cwd=tmp_path).stdout)
    done_before = {n for n, v in before["lineage"]["nodes"].items()
                   if v["status"] == "completed"}
    assert {"s1", "t1", "s2", "t2"} <= done_before
    assert before["run"]["status"] == ("running" if sig == signal.SIGKILL else "cancelled")

    resumed = _script("runs", "resume", run_id, "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["outputs"] == {"out": 112}  # 1 + 1 + 10 + 100

    after = json.loads(_script("runs", "show", run_id, "--json", cwd=tmp_path).stdout)
    assert after["run"]["status"] == "completed"
    events = after["events"]
    last_start = max(i for i, e in enumerate(events) if e["type"] == "RunStarted")
    rerun = {e["data"]["node_id"] for e in events[last_start:] if e["type"] == "NodeStarted"}
    assert rerun == {"s3", "t3", "out"}
    assert not rerun & done_before  # nothing that completed before the kill ran again
