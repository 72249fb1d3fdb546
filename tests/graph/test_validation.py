"""Validation reports every problem at once, each with its location."""

from __future__ import annotations

import pytest

from plait import Engine, SpecError
from plait.nodes.loader import parse_spec

BAD = """
name: bad
inputs: {n: {type: string}}
nodes:
  - {id: a, kind: transfrom}
  - {id: b, kind: transform, params: {template: "{{ oops"}}
  - {id: b, kind: output}
  - {id: c, kind: condition, params: {expression: "value >"}}
  - {id: d, kind: map, params: {workflow: {name: child}}}
  - {id: e, kind: transform, params: {template: "x", function: identity}}
  - {id: f, kind: delay, params: {seconds: -1}}
  - {id: g, kind: output}
  - {id: h, kind: code, params: {function: not_registered}}
edges:
  - {from: a, to: zz}
  - {from: $input.q, to: g}
  - {from: $input.n, to: d.items}
  - {from: e, to: g.nonexistent}
  - {from: e, to: e}
"""


def problems_by_code(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in Engine().validate(parse_spec(text)):
        found.setdefault(p.code, []).append(p.location)
    return found


def test_every_problem_is_reported_with_its_location() -> None:
    found = problems_by_code(BAD)
    assert found["unknown_kind"] == ["nodes[0] ('a').kind"]
    assert found["duplicate_id"] == ["nodes[2] ('b')"]
    assert "nodes[1] ('b').params.template" in found["invalid_param"]
    assert "nodes[3] ('c').params.expression" in found["invalid_param"]
    assert "nodes[6] ('f').params.seconds" in found["invalid_param"]
    assert any(loc.startswith("nodes[5] ('e').params") for loc in found["invalid_param"])
    assert found["unknown_function"] == ["nodes[8] ('h').params.function"]
    assert found["unknown_input"][0] == "nodes[4] ('d').params.item_input"
    assert found["dangling_edge"] == ["edges[0] (a -> zz).target"]
    assert "edges[1] ($input.q -> g).source_port" in found["unknown_input"]
    assert found["type_mismatch"] == ["edges[2] ($input.n -> d)"]
    assert found["unknown_port"] == ["edges[3] (e -> g).target_port"]
    assert found["cycle"] == ["edges[4] (e -> e)"]


def test_messages_say_what_is_wrong() -> None:
    problems = {p.code: p.message for p in Engine().validate(parse_spec(BAD))}
    assert "did you mean 'transform'?" in problems["unknown_kind"]
    assert "string output cannot feed list input 'items'" in problems["type_mismatch"]
    assert "has no input 'nonexistent' (inputs: value)" in problems["unknown_port"]


def test_a_cycle_without_a_loop_bound_is_refused() -> None:
    text = """
name: cyc
nodes:
  - {id: a, kind: transform, params: {expression: "1"}}
  - {id: b, kind: transform, params: {expression: "value"}}
  - {id: c, kind: transform, params: {expression: "value"}}
edges:
  - {from: a, to: b}
  - {from: b, to: c}
  - {from: c, to: a}
"""
    problems = Engine().validate(parse_spec(text))
    assert [p.code for p in problems] == ["cycle"]
    assert "a -> b -> c -> a" in problems[0].message
    assert "loop" in problems[0].message


def test_missing_required_input_and_conditional_without_branch() -> None:
    text = """
name: m
nodes:
  - {id: c, kind: condition, params: {expression: "true"}}
  - {id: o, kind: output}
  - {id: p, kind: output}
edges:
  - {from: c, to: p, kind: conditional}
"""
    found = problems_by_code(text)
    assert found["missing_input"] == ["nodes[1] ('o')"]
    assert found["missing_branch"] == ["edges[0] (c -> p)"]


def test_child_workflow_problems_are_located_inside_the_parent() -> None:
    text = """
name: parent
nodes:
  - id: sub
    kind: subworkflow
    params:
      workflow:
        name: child
        nodes: [{id: x, kind: nope}]
"""
    problems = Engine().validate(parse_spec(text))
    assert [(p.code, p.location) for p in problems] == [
        ("unknown_kind", "nodes[0] ('sub').params.workflow.nodes[0] ('x').kind")]


def test_malformed_yaml_and_shape_errors_raise_spec_errors() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec("name: [unclosed", source="w.yaml")
    assert err.value.problems[0].code == "malformed_yaml"
    assert err.value.problems[0].location.startswith("line ")
    with pytest.raises(SpecError) as err:
        parse_spec("nodes: 3", source="w.yaml")
    locations = {p.location for p in err.value.problems}
    assert {"name", "nodes"} <= locations
    with pytest.raises(SpecError) as err:
        parse_spec("- just\n- a list\n", source="w.yaml")
    assert err.value.problems[0].code == "not_an_object"
    with pytest.raises(SpecError) as err:
        parse_spec('{"name": ', source="w.json")
    assert err.value.problems[0].code == "malformed_json"


def test_compile_raises_with_all_problems() -> None:
    with pytest.raises(SpecError) as err:
        Engine().compile(parse_spec(BAD))
    assert len(err.value.problems) >= 12
    assert str(err.value).startswith(f"{len(err.value.problems)} problems")
