"""``plait validate`` and the CLI's handling of bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke, Write


def test_valid_file_prints_one_line_summary(invoke: Invoke, diamond: Path) -> None:
    result = invoke("validate", str(diamond))
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    assert "5 nodes, 6 edges" in result.output


def test_every_problem_is_listed_with_its_location(invoke: Invoke, write: Write) -> None:
    path = write("bad.yaml", """
        plait: "1"
        name: bad
        nodes:
          - {id: a, kind: transfrom, params: {template: "x"}}
          - {id: b, kind: output}
          - {id: b, kind: output}
        edges:
          - {from: a, to: nowhere}
          - {from: $input.missing, to: b}
    """)
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    out = result.output
    assert "unknown node kind 'transfrom'" in out
    assert "did you mean 'transform'" in out
    assert "nodes[0] ('a').kind" in out
    assert "duplicate_id" in out
    assert "dangling_edge" in out
    assert "nowhere" in out
    assert "unknown_input" in out
    assert "Traceback" not in out


def test_json_report_has_code_message_location(invoke: Invoke, write: Write,
                                               diamond: Path) -> None:
    bad = write("bad.yaml", 'plait: "1"\nname: bad\nnodes: [{id: a, kind: nope}]\n')
    result = invoke("validate", "--json", str(diamond), str(bad))
    assert result.exit_code == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == {"file": str(diamond), "valid": True, "workflow": "diamond",
                        "problems": []}
    assert lines[1]["valid"] is False
    problem = lines[1]["problems"][0]
    assert set(problem) == {"code", "message", "location"}
    assert problem["code"] == "unknown_kind"
    assert problem["location"] == "nodes[0] ('a').kind"


@pytest.mark.parametrize(("name", "text", "code", "where"), [
    ("broken.yaml", "name: x\nnodes: [\n  {id: a\n", "malformed_yaml", "line "),
    ("broken.json", '{"name": "x",\n "nodes": [}', "malformed_json", "line 2, column"),
    ("list.yaml", "- just\n- a list\n", "not_an_object", ""),
    ("shape.yaml", "name: x\nnodes: [{id: a}]\n", "", "nodes[0].kind"),
])
def test_malformed_files(invoke: Invoke, write: Write, name: str, text: str, code: str,
                         where: str) -> None:
    path = write(name, text)
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert code in result.output
    assert where in result.output
    assert "Traceback" not in result.output


def test_missing_file_directory_and_suffix(invoke: Invoke, tmp_path: Path,
                                           write: Write) -> None:
    missing = invoke("validate", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
    assert "file_not_found" in missing.output

    folder = invoke("validate", str(tmp_path))
    assert folder.exit_code == 2
    assert "is a directory" in folder.output

    txt = write("flow.txt", "name: x\n")
    suffix = invoke("validate", str(txt))
    assert suffix.exit_code == 2
    assert "unsupported_file" in suffix.output
    for result in (missing, folder, suffix):
        assert "Traceback" not in result.output


def test_one_bad_file_fails_the_batch_but_all_are_reported(invoke: Invoke, diamond: Path,
                                                           tmp_path: Path) -> None:
    result = invoke("validate", str(diamond), str(tmp_path / "gone.yaml"))
    assert result.exit_code == 2
    assert "diamond.yaml: valid" in result.output
    assert "gone.yaml" in result.output


def test_usage_error_from_typer_exits_2(invoke: Invoke) -> None:
    result = invoke("validate")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
