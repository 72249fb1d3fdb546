"""``plait run``: outputs, JSON results, inputs, failures and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plait.cli.run import choose_profile
from plait.graph.spec import Profile
from plait.nodes.loader import load_spec
from tests.cli.conftest import Invoke, Write

TYPED = """
plait: "1"
name: typed
inputs:
  word: {type: string}
  n: {type: integer, default: 2}
  tags: {type: list, default: []}
nodes:
  - {id: echo, kind: transform, params: {expression: "[input.word, input.n, input.tags]"}}
  - {id: out, kind: output}
edges:
  - {from: echo, to: out}
"""


def test_run_prints_outputs_and_summary(invoke: Invoke, diamond: Path) -> None:
    result = invoke("run", str(diamond), "--input", "x=1")
    assert result.exit_code == 0, result.output
    assert "out: 10" in result.stdout  # (1+1)*2 + (1+1)*3
    assert "✓ completed" in result.stdout
    assert "5 nodes: 5 completed" in result.stdout


def test_without_a_terminal_progress_is_plain_lines_on_stderr(invoke: Invoke,
                                                             diamond: Path) -> None:
    result = invoke("run", str(diamond), "--input", "x=1")
    assert "run " in result.stderr
    assert "diamond started" in result.stderr
    assert "✓ join done in" in result.stderr
    assert "\x1b[" not in result.output  # no colour, no cursor movement


def test_json_result_shape(invoke: Invoke, diamond: Path) -> None:
    result = invoke("run", str(diamond), "--input", "x=1", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert {"run_id", "status", "outputs", "error", "nodes"} <= set(data)
    assert data["status"] == "completed"
    assert data["outputs"] == {"out": 10}
    assert data["error"] is None
    assert data["nodes"]["join"] == {"status": "completed", "attempts": 1, "error": None,
                                     "code": None, "reason": None}
    assert result.stderr == ""  # no progress view with --json


def test_input_values_parse_as_json_except_for_string_inputs(invoke: Invoke,
                                                           write: Write) -> None:
    path = write("typed.yaml", TYPED)
    result = invoke("run", str(path), "--json", "-i", "word=42", "-i", "n=7",
                    "-i", 'tags=["a", 1]')
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outputs"]["out"] == ["42", 7, ["a", 1]]


def test_input_file_json_and_yaml_with_overrides(invoke: Invoke, write: Write) -> None:
    path = write("typed.yaml", TYPED)
    as_json = write("in.json", '{"word": "hi", "n": 3}')
    as_yaml = write("in.yml", "word: yo\ntags: [x]\n")
    one = invoke("run", str(path), "--json", "--input-file", str(as_json), "-i", "n=4")
    assert json.loads(one.stdout)["outputs"]["out"] == ["hi", 4, []]
    two = invoke("run", str(path), "--json", "-f", str(as_yaml))
    assert json.loads(two.stdout)["outputs"]["out"] == ["yo", 2, ["x"]]


@pytest.mark.parametrize(("args", "expected"), [
    (["-i", "word"], "expected KEY=VALUE"),
    (["-i", "=3"], "bad_input_syntax"),
    (["-i", "word=a", "-i", "word=b"], "given twice"),
    ([], "required input is missing"),
    (["-i", "word=a", "-i", "colour=red"], "unknown input"),
    (["-i", "word=a", "-i", "n=1.5"], "expected integer"),
])
def test_bad_inputs_exit_2_with_a_clear_message(invoke: Invoke, write: Write,
                                                args: list[str], expected: str) -> None:
    path = write("typed.yaml", TYPED)
    result = invoke("run", str(path), *args)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "error[input_invalid]" in result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("missing.json", None, "does not exist"),
    ("in.txt", "word: a", "unsupported_file"),
    ("in.json", '{"word": ', "malformed_json"),
    ("in.yaml", "word: [a", "malformed_yaml"),
    ("in.yaml", "- a\n- b\n", "one mapping of input names"),
])
def test_bad_input_files(invoke: Invoke, write: Write, tmp_path: Path, name: str,
                         text: str | None, expected: str) -> None:
    path = write("typed.yaml", TYPED)
    input_file = write(name, text) if text is not None else tmp_path / name
    result = invoke("run", str(path), "--input-file", str(input_file))
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output


def test_inputs_to_a_workflow_without_inputs(invoke: Invoke, failing: Path) -> None:
    result = invoke("run", str(failing), "-i", "x=1")
    assert result.exit_code == 2
    assert "declares no inputs" in result.output


def test_failed_run_exits_1_and_names_the_node(invoke: Invoke, failing: Path) -> None:
    result = invoke("run", str(failing))
    assert result.exit_code == 1
    assert "✗ failed" in result.stdout
    assert "node 'boom' failed" in result.output
    assert "Traceback" not in result.output
    data = json.loads(invoke("run", str(failing), "--json").stdout)
    assert data["status"] == "failed"
    assert data["code"] == "node_failed"
    assert data["nodes"]["boom"]["status"] == "failed"
    assert "TypeError" in data["nodes"]["boom"]["error"]


def test_continue_on_error_finishes_independent_branches(invoke: Invoke,
                                                         failing: Path) -> None:
    result = invoke("run", str(failing), "--json", "--continue-on-error")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["outputs"] == {"fine": 1}
    assert data["nodes"]["after"]["status"] == "skipped"
    assert "upstream" in data["nodes"]["after"]["reason"]


def test_timeout_fails_the_run(invoke: Invoke, write: Write) -> None:
    from tests.cli.conftest import SLOW

    path = write("slow.yaml", SLOW)
    result = invoke("run", str(path), "--json", "--timeout", "0.05")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["code"] == "run_timeout"
    assert data["nodes"]["wait"]["status"] == "cancelled"


def test_invalid_spec_and_unknown_kind_exit_2(invoke: Invoke, write: Write) -> None:
    path = write("bad.yaml", 'plait: "1"\nname: bad\nnodes: [{id: a, kind: wizard}]\n')
    result = invoke("run", str(path))
    assert result.exit_code == 2
    assert "error[spec_invalid]" in result.output
    assert "unknown node kind 'wizard'" in result.output
    assert "bad.yaml" in result.output


def test_missing_file_and_bad_profile(invoke: Invoke, diamond: Path, tmp_path: Path) -> None:
    missing = invoke("run", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
    profile = invoke("run", str(diamond), "--profile", "turbo")
    assert profile.exit_code == 2
    assert "turbo" in profile.output


def test_profile_choice_order(write: Write, tmp_path: Path) -> None:
    spec = load_spec(write("proj/workflows/d.yaml", "name: d\nnodes: []\n"))
    path = tmp_path / "proj" / "workflows" / "d.yaml"
    assert choose_profile(None, spec, path) is None
    write("proj/plait.toml", '[run]\nprofile = "memory_optimized"\n')
    assert choose_profile(None, spec, path) is Profile.MEMORY_OPTIMIZED
    pinned = spec.model_copy(update={"settings": spec.settings.model_copy(
        update={"profile": Profile.LOW_LATENCY})})
    assert choose_profile(None, pinned, path) is Profile.LOW_LATENCY
    assert choose_profile(Profile.HIGH_THROUGHPUT, pinned, path) is Profile.HIGH_THROUGHPUT


def test_bad_project_config_is_reported(invoke: Invoke, write: Write) -> None:
    path = write("proj/flow.yaml", "name: d\nnodes: []\n")
    write("proj/plait.toml", "[run]\nprofle = 'low_latency'\n")
    result = invoke("run", str(path))
    assert result.exit_code == 2
    assert "error[config_invalid]" in result.output
    assert "run.profle" in result.output
    write("proj/plait.toml", "[run\n")
    result = invoke("run", str(path))
    assert result.exit_code == 2
    assert "malformed_toml" in result.output


def test_debug_shows_the_traceback(invoke: Invoke, tmp_path: Path) -> None:
    plain = invoke("run", str(tmp_path / "nope.yaml"))
    assert "Traceback" not in plain.output
    debug = invoke("--debug", "run", str(tmp_path / "nope.yaml"))
    assert debug.exit_code == 2
    assert "Traceback" in debug.output
    assert "does not exist" in debug.output


def test_unexpected_errors_are_one_line_without_debug(invoke: Invoke, diamond: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("plait.cli.run.collect_inputs", broken)
    result = invoke("run", str(diamond))
    assert result.exit_code == 1
    assert "error[internal]: RuntimeError: kaboom" in result.output
    assert "Traceback" not in result.output


def test_long_and_structured_outputs_are_printed_indented(invoke: Invoke,
                                                          write: Write) -> None:
    path = write("shapes.yaml", """
        plait: "1"
        name: shapes
        nodes:
          - {id: text, kind: transform, params: {template: "line one\\nline two\\n"}}
          - {id: table, kind: transform, params: {expression: "{'rows': range(20) | list}"}}
          - {id: small, kind: transform, params: {expression: "[true, none]"}}
          - {id: o_text, kind: output, params: {name: text}}
          - {id: o_table, kind: output, params: {name: table}}
          - {id: o_small, kind: output, params: {name: small}}
        edges:
          - {from: text, to: o_text}
          - {from: table, to: o_table}
          - {from: small, to: o_small}
    """)
    result = invoke("run", str(path))
    assert result.exit_code == 0, result.output
    assert "  text:\n    line one\n    line two\n" in result.stdout
    assert '  table:\n    {\n      "rows": [\n        0,\n' in result.stdout
    assert "  small: [true, null]\n" in result.stdout
    assert " \n" not in result.stdout  # no padding to the terminal's width


def test_debug_shows_the_engine_log_for_this_invocation_only(invoke: Invoke,
                                                             failing: Path) -> None:
    import logging

    debug = invoke("--debug", "run", str(failing))
    assert "plait.graph" in debug.stderr
    assert "node_id=boom" in debug.stderr
    assert logging.getLogger("plait").handlers == []
    plain = invoke("run", str(failing))
    assert "plait.graph" not in plain.stderr
