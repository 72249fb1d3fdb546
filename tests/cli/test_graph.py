"""``plait graph`` and the pure renderers in plait.cli.graph."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from plait.cli.graph import graph_data, layers, render_mermaid, render_tree
from plait.graph.spec import WorkflowSpec
from plait.nodes.loader import load_spec
from tests.cli.conftest import Invoke, Write

BRANCHY = WorkflowSpec.model_validate({
    "name": "branchy",
    "inputs": {"n": {"type": "number"}},
    "nodes": [
        {"id": "check", "kind": "condition", "params": {"expression": "value > 1"}},
        {"id": "big", "kind": "transform", "params": {"template": "big"}},
        {"id": "small", "kind": "transform", "params": {"template": "small"}},
        {"id": "end", "kind": "output", "join": "any"},
        {"id": "pause", "kind": "delay", "params": {"seconds": 0}},
    ],
    "edges": [
        {"from": "$input.n", "to": "check"},
        {"from": "check", "to": "big", "branch": True},
        {"from": "check", "to": "small", "branch": False},
        {"from": "big", "to": "end"},
        {"from": "small", "to": "end"},
        {"source": "check", "target": "pause", "kind": "control"},
    ],
})


def _text(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(renderable)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


def test_layers_of_a_diamond_and_a_fan_out(diamond: Path) -> None:
    assert layers(load_spec(diamond)) == [["start"], ["left", "right"], ["join"], ["out"]]
    fan = WorkflowSpec.model_validate({
        "name": "fan",
        "nodes": [{"id": i, "kind": "transform", "params": {"expression": "1"}}
                  for i in ("a", "b", "c", "d", "z")],
        "edges": [{"from": "a", "to": f"{t}.v"} for t in ("b", "c", "d")]
        + [{"from": "b", "to": "z.b"}, {"from": "a", "to": "z.a"}],
    })
    assert layers(fan) == [["a"], ["b", "c", "d"], ["z"]]


def test_layers_put_cycle_members_last() -> None:
    spec = WorkflowSpec.model_validate({
        "name": "loopy",
        "nodes": [{"id": i, "kind": "transform", "params": {"expression": "1"}}
                  for i in ("a", "b", "c")],
        "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "b"}],
    })
    assert layers(spec) == [["a"], ["b", "c"]]


def test_mermaid_of_a_diamond(diamond: Path) -> None:
    text = render_mermaid(load_spec(diamond))
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    in_x[/"x: number"/]' in lines
    assert '    start["start<br/>transform"]' in lines
    assert '    out(["out<br/>output"])' in lines
    for edge in ("in_x --> start", "start --> left", "start --> right",
                 'left -->|"l"| join', 'right -->|"r"| join', "join --> out"):
        assert f"    {edge}" in lines


def test_mermaid_branches_control_edges_and_reserved_ids() -> None:
    text = render_mermaid(BRANCHY)
    assert 'check{"check<br/>condition"}' in text
    assert 'check -->|"true"| big' in text
    assert 'check -->|"false"| small' in text
    assert "check -.-> pause" in text
    assert 'n_end(["end<br/>output"])' in text  # 'end' would break Mermaid
    assert "big --> n_end" in text


def test_mermaid_labels_named_ports() -> None:
    spec = WorkflowSpec.model_validate({"name": "p", "nodes": [
        {"id": "a", "kind": "transform", "params": {"expression": "{'answer': 1}"}},
        {"id": "b", "kind": "transform", "params": {"template": "{{ text }}"}},
    ], "edges": [{"from": "a.answer", "to": "b.text"}]})
    assert 'a -->|"answer → text"| b' in render_mermaid(spec)


def test_mermaid_escapes_labels() -> None:
    spec = WorkflowSpec.model_validate({"name": "q", "nodes": [
        {"id": 'say "hi"', "kind": "transform", "params": {"expression": "1"}}]})
    text = render_mermaid(spec)
    assert "#quot;hi#quot;" in text
    assert 'say__hi_["' in text


def test_tree_lists_steps_sources_and_branches(diamond: Path) -> None:
    text = _text(render_tree(load_spec(diamond)))
    assert "diamond" in text
    assert "5 nodes · 6 edges" in text
    assert "step 2" in text
    assert "step 4" in text
    assert "join  transform  ← left → l, right → r  = l + r" in text
    assert "x: number (required)" in text
    branchy = _text(render_tree(BRANCHY))
    assert "← check [true]" in branchy
    assert "← after check" in branchy
    assert "(join: any)" in branchy


def test_tree_nests_child_workflows() -> None:
    spec = WorkflowSpec.model_validate({"name": "outer", "nodes": [
        {"id": "each", "kind": "map", "params": {"workflow": {
            "name": "inner", "inputs": {"item": {}},
            "nodes": [{"id": "twice", "kind": "transform", "params": {"expression": "2"}}],
        }}}]})
    text = _text(render_tree(spec))
    assert "runs 'inner'" in text
    assert "workflow inner" in text
    assert "twice" in text


def test_graph_data_is_json(diamond: Path) -> None:
    data = graph_data(load_spec(diamond))
    json.dumps(data)
    assert data["steps"] == [["start"], ["left", "right"], ["join"], ["out"]]
    assert {"id": "join", "kind": "transform", "label": "join", "step": 3} in data["nodes"]


def test_graph_command_formats(invoke: Invoke, diamond: Path) -> None:
    tree = invoke("graph", str(diamond))
    assert tree.exit_code == 0
    assert "step 3" in tree.stdout
    mermaid = invoke("graph", str(diamond), "--format", "mermaid")
    assert mermaid.exit_code == 0
    assert mermaid.stdout.startswith("flowchart TD\n")
    as_json = invoke("graph", str(diamond), "-F", "json")
    assert json.loads(as_json.stdout)["name"] == "diamond"


def test_graph_of_an_invalid_workflow_exits_2(invoke: Invoke, write: Write) -> None:
    path = write("bad.yaml", 'name: bad\nnodes: [{id: a, kind: nope}]\n')
    result = invoke("graph", str(path))
    assert result.exit_code == 2
    assert "unknown node kind 'nope'" in result.output
    assert result.stdout == ""
