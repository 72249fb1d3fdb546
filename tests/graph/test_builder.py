"""The builder, a YAML file and a JSON file produce the identical canonical spec."""

from __future__ import annotations

import json

import pytest

from plait import Engine, Flow, UsageError
from plait.nodes.loader import load_spec, parse_spec

YAML = """
plait: "1"
name: review
inputs:
  text: {type: string}
nodes:
  - {id: words, kind: transform, params: {function: word_count}}
  - {id: long, kind: condition, params: {expression: "value > 3"}}
  - {id: short_note, kind: transform, params: {template: "short: {{ value }}"}}
  - {id: long_note, kind: transform, params: {template: "long: {{ value }}"}}
  - {id: note, kind: output, join: any}
edges:
  - {from: $input.text, to: words}
  - {from: words, to: long}
  - {from: long, to: long_note, branch: true}
  - {from: long, to: short_note, branch: false}
  - {from: long_note, to: note}
  - {from: short_note, to: note}
"""


def built() -> Flow:
    f = Flow("review")
    text = f.input("text", type="string")
    words = f.node("words", "transform", inputs=text, function="word_count")
    long = f.condition("long", expression="value > 3", inputs=words)
    short_note = f.transform("short_note", template="short: {{ value }}", inputs=long.on(False))
    long_note = f.transform("long_note", template="long: {{ value }}", inputs=long.on(True))
    f.node("note", "output", join="any", inputs=long_note)
    f.edge(short_note, "note")
    return f


def test_builder_yaml_and_json_agree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = Engine()
    from_yaml = engine.compile(parse_spec(YAML)).spec
    from_builder = built().build().spec
    # edge order differs between the two, so compare as sets plus everything else exactly
    a, b = from_yaml.to_json_dict(), from_builder.to_json_dict()
    key = lambda e: json.dumps(e, sort_keys=True)  # noqa: E731
    assert sorted(map(key, a.pop("edges"))) == sorted(map(key, b.pop("edges")))
    assert a == b
    path = tmp_path / "review.json"
    path.write_text(from_yaml.canonical_json())
    from_json = engine.compile(load_spec(path)).spec
    assert from_json.canonical_json() == from_yaml.canonical_json()
    assert from_json.digest() == from_yaml.digest()
    result = engine.run_sync(from_json, {"text": "one two three four five"})
    assert result.outputs == {"note": "long: 5"}


def test_duplicate_node_ids_in_the_builder_fail_early() -> None:
    f = Flow("dup")
    f.transform("a", expression="1")
    with pytest.raises(UsageError, match="already has a node 'a'"):
        f.transform("a", expression="2")


def test_child_files_are_inlined_relative_to_the_parent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "child.yaml").write_text(
        "name: child\ninputs: {v: {type: integer}}\n"
        "nodes: [{id: d, kind: transform, params: {expression: 'value * 2'}}, "
        "{id: out, kind: output}]\n"
        "edges: [{from: $input.v, to: d}, {from: d, to: out}]\n")
    (tmp_path / "parent.yaml").write_text(
        "name: parent\ninputs: {x: {type: integer}}\n"
        "nodes: [{id: s, kind: subworkflow, params: {workflow: sub/child.yaml, output: out}}]\n"
        "edges: [{from: $input.x, to: s.v}]\n")
    spec = load_spec(tmp_path / "parent.yaml")
    assert Engine().run_sync(spec, {"x": 21}).outputs == {"s": 42}


def test_inline_children_and_param_defaults_are_canonical() -> None:
    body = Flow("body")
    v = body.input("v", type="integer")
    body.output("out", body.transform("up", expression="value + 1", inputs=v))
    parent = Flow("parent")
    x = parent.input("x", type="integer")
    parent.output("result", parent.subworkflow("sub", body, inputs={"v": x}))
    parent.output("many", parent.map("each", body, items=parent.input("xs", type="list"),
                                     item_input="v"))
    yaml_text = """
name: parent
inputs: {x: {type: integer}, xs: {type: list}}
nodes:
  - id: sub
    kind: subworkflow
    params:
      workflow:
        name: body
        inputs: {v: {type: integer}}
        nodes: [{id: up, kind: transform, params: {expression: "value + 1"}},
                {id: out, kind: output}]
        edges: [{from: $input.v, to: up}, {from: up, to: out}]
  - id: result
    kind: output
  - id: each
    kind: map
    params:
      item_input: v
      workflow:
        name: body
        inputs: {v: {type: integer}}
        nodes: [{id: up, kind: transform, params: {expression: "value + 1"}},
                {id: out, kind: output}]
        edges: [{from: $input.v, to: up}, {from: up, to: out}]
  - id: many
    kind: output
edges:
  - {from: $input.x, to: sub.v}
  - {from: sub, to: result}
  - {from: $input.xs, to: each}
  - {from: each, to: many}
"""
    from_yaml = Engine().compile(parse_spec(yaml_text)).spec
    assert from_yaml.canonical_json() == parent.build().spec.canonical_json()


def test_fields_of_workflow_inputs_cannot_be_wired() -> None:
    f = Flow("fields")
    person = f.input("person", type="object")
    with pytest.raises(UsageError, match="cannot take field 'name' of workflow input 'person'"):
        person["name"]
