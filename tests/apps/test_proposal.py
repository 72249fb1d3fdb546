"""The proposal schema and prompt come from the kind registry; the YAML writer round-trips."""

from __future__ import annotations

import json

import jsonschema
import pytest

from plait.apps import DEFAULT_KINDS, spec_yaml
from plait.apps.proposal import check_proposal
from plait.apps.proposal_prompt import system_prompt
from plait.apps.proposal_schema import proposal_schema
from plait.graph.spec import WorkflowSpec
from plait.nodes.defaults import Engine
from plait.nodes.loader import parse_spec
from plait.tools.defaults import default_tools

from .proposals import VALID, reply


@pytest.fixture
def engine() -> Engine:
    return Engine(tools=default_tools())


def test_the_schema_accepts_a_valid_proposal_and_only_allowed_kinds(engine: Engine) -> None:
    schema = proposal_schema(engine, list(DEFAULT_KINDS))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(VALID)) == []
    bad = {**VALID, "nodes": [{"id": "x", "kind": "subworkflow", "params": {}}]}
    assert list(validator.iter_errors(bad))
    made_up = {**VALID, "nodes": [{"id": "x", "kind": "transform",
                                   "params": {"function": "upper", "colour": "red"}}]}
    assert list(validator.iter_errors(made_up))
    unknown_tool = {**VALID, "nodes": [{"id": "x", "kind": "agent",
                                        "params": {"prompt": "hi", "tools": ["rm_rf"]}}]}
    assert list(validator.iter_errors(unknown_tool))


def test_the_schema_is_a_grammar_for_the_local_model(engine: Engine) -> None:
    pytest.importorskip("llama_cpp")
    from plait.llm.grammar import schema_to_gbnf

    assert "root" in schema_to_gbnf(proposal_schema(engine, list(DEFAULT_KINDS)))


def test_the_prompt_lists_each_allowed_kind_with_its_params(engine: Engine) -> None:
    prompt = system_prompt(engine, ["llm", "loop", "output"])
    assert "- llm: One model completion from a templated prompt." in prompt
    assert "prompt (string, required)" in prompt
    assert "max_iterations (integer, required)" in prompt
    assert "- transform" not in prompt
    compact = system_prompt(engine, ["llm", "output"], compact=True)
    assert len(compact) < len(system_prompt(engine, ["llm", "output"]))
    assert "optional: model, system" in compact


def test_all_problems_are_reported_at_once(engine: Engine) -> None:
    text = reply(name="Bad Name!", confidence=0.1,
                 nodes=[{"id": "upper", "kind": "llm", "params": {}},
                        {"id": "result", "kind": "output", "params": {}}])
    checked = check_proposal(text, engine, allowed=["transform", "output"], min_confidence=0.5)
    codes = {p.code for p in checked.problems}
    assert {"kind_not_allowed", "low_confidence"} <= codes
    assert len(codes) >= 3
    assert not checked.ok


def test_yaml_round_trips_ports_branches_and_control_edges() -> None:
    spec = WorkflowSpec.model_validate({
        "name": "shapes", "inputs": {"n": {"type": "integer", "default": 2}},
        "nodes": [{"id": "check", "kind": "condition", "params": {"expression": "value > 1"}},
                  {"id": "big", "kind": "transform",
                   "params": {"template": "line one\nline two {{ value }}"}},
                  {"id": "small", "kind": "transform", "params": {"expression": "a + b"}},
                  {"id": "out", "kind": "output", "join": "any", "params": {}}],
        "edges": [{"from": "$input.n", "to": "check"},
                  {"from": "check", "to": "big", "branch": True},
                  {"from": "check", "to": "small.a", "branch": "false"},
                  {"from": "$input.n", "to": "small.b"},
                  {"source": "big", "target": "out", "kind": "control"},
                  {"from": "big", "to": "out"}, {"from": "small", "to": "out"}],
        "settings": {"timeout": 5},
    })
    text = spec_yaml(spec)
    assert parse_spec(text, source="x.yaml") == spec
    assert "line two" in text
    assert "kind: control" in text
    assert json.dumps(spec.to_json_dict())  # plain data
