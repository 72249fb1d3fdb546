"""Every workflow in ``examples/`` runs, gives the outputs its docs promise, and its YAML and
Python versions produce the identical canonical spec."""

from __future__ import annotations

import importlib.util
import json
import runpy
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from plait import Engine, NodeOutput, NodeSkipped, NodeStarted, RunFailed, load_spec
from plait.graph.spec import WorkflowSpec
from plait.types import RunStatus

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

EXPECTED: dict[str, dict[str, object]] = {
    "sequential": {
        "slug": "readiness-scheduling-explained",
        "url": "https://example.com/posts/readiness-scheduling-explained",
    },
    "parallel": {
        "figures": {"words": 10, "lines": 3, "chars": 51},
        "report": "10 words on 3 lines (51 characters)",
    },
    "conditional": {"reply": "Good question! Someone will reply to: Where is my order?"},
    "loop": {"short": "Readiness scheduling starts every node", "iterations": 6},
    "map": {
        "per_line": [
            {"line": "plait runs workflows", "words": 3},
            {"line": "one node per step", "words": 4},
            {"line": "and many steps at once", "words": 5},
        ],
        "total_words": 12,
    },
    "subworkflow": {
        "links": {
            "slug": "readiness-scheduling-explained",
            "url": "https://example.com/posts/readiness-scheduling-explained",
        },
        "card_text": "Readiness Scheduling Explained by Ada: "
                     "https://example.com/posts/readiness-scheduling-explained",
    },
}
PATTERNS = sorted(EXPECTED)


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"plait_example_{name}",
                                                  EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _yaml(name: str) -> WorkflowSpec:
    return load_spec(EXAMPLES / f"{name}.yaml")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def _workflow_files() -> list[Path]:
    """Every workflow file under examples/ (``demo-input.yaml`` is inputs, not a workflow)."""
    return [path for path in sorted(EXAMPLES.rglob("*.yaml"))
            if "nodes" in (yaml.safe_load(path.read_text(encoding="utf-8")) or {})]


def test_every_example_is_covered() -> None:
    # Python examples all have a YAML twin and expected outputs here; `demo.yaml` (the
    # `make demo` workflow) is exercised by tests/test_demo.py and validated below.
    assert {p.stem for p in EXAMPLES.glob("*.py")} == set(PATTERNS)
    for name in PATTERNS:
        assert (EXAMPLES / f"{name}.yaml").is_file(), name


@pytest.mark.parametrize("name", PATTERNS)
def test_yaml_example_runs(engine: Engine, name: str) -> None:
    # the YAML defaults are the sample inputs, so `plait run examples/NAME.yaml` just works
    result = engine.run_sync(_yaml(name))
    assert result.status is RunStatus.COMPLETED
    assert result.outputs == EXPECTED[name]


@pytest.mark.parametrize("name", PATTERNS)
def test_python_example_runs(engine: Engine, name: str) -> None:
    module = _module(name)
    result = engine.run_sync(module.build(), module.SAMPLE)
    assert result.outputs == EXPECTED[name]


@pytest.mark.parametrize("name", PATTERNS)
def test_yaml_and_python_build_the_same_spec(engine: Engine, name: str) -> None:
    from_python = _module(name).build().spec
    from_yaml = engine.compile(_yaml(name)).spec
    assert from_python.canonical_json() == from_yaml.canonical_json()
    assert from_python.digest() == from_yaml.digest()


@pytest.mark.parametrize("name", PATTERNS)
def test_python_example_main_prints_outputs(name: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    printed = capsys.readouterr().out
    if name == "conditional":  # prints one line per sample message
        lines = [json.loads(line) for line in printed.splitlines()]
        assert lines == [EXPECTED[name], {"reply": "Thanks, noted: The parcel arrived."}]
    else:
        assert json.loads(printed) == EXPECTED[name]


def test_every_workflow_file_validates() -> None:
    from plait.tools import default_tools

    engine = Engine(tools=default_tools())  # the agent example names a built-in tool
    files = _workflow_files()
    assert len(files) >= len(PATTERNS) + 2  # the patterns plus the steps/ children
    for path in files:
        assert engine.validate(load_spec(path)) == [], path


# -- what each pattern shows -------------------------------------------------------------

def test_sequential_steps_run_in_order(engine: Engine) -> None:
    events: list[object] = []
    unsubscribe = engine.subscribe(events.append)
    try:
        result = engine.run_sync(_yaml("sequential"), {"title": "Hello  Plait"})
    finally:
        unsubscribe()
    seen = [e.node_id for e in events if isinstance(e, NodeOutput)]
    assert seen.index("lowercase") < seen.index("hyphenate") < seen.index("link")
    assert result.outputs == {"slug": "hello-plait", "url": "https://example.com/posts/hello-plait"}


def test_parallel_join_waits_for_every_branch(engine: Engine) -> None:
    events: list[object] = []
    unsubscribe = engine.subscribe(events.append)
    try:
        result = engine.run_sync(_yaml("parallel"), {"text": "a b\nc"})
    finally:
        unsubscribe()
    assert result.outputs["figures"] == {"words": 3, "lines": 2, "chars": 5}
    order = [(type(e).__name__, e.node_id) for e in events
             if isinstance(e, NodeStarted | NodeOutput)]
    join_started = order.index(("NodeStarted", "stats"))
    for branch in ("words", "lines", "chars"):
        assert order.index(("NodeOutput", branch)) < join_started


@pytest.mark.parametrize("lang", ["yaml", "python"])
def test_conditional_skips_the_untaken_branch(engine: Engine, lang: str) -> None:
    workflow = _yaml("conditional") if lang == "yaml" else _module("conditional").build()
    events: list[object] = []
    unsubscribe = engine.subscribe(events.append)
    try:
        result = engine.run_sync(workflow, {"message": "The parcel arrived."})
    finally:
        unsubscribe()
    assert result.outputs == {"reply": "Thanks, noted: The parcel arrived."}
    assert result.nodes["answer"].status == "skipped"
    assert result.nodes["answer"].reason == "branch_not_taken"
    assert result.nodes["merge"].status == "completed"  # join: any
    skipped = [(e.node_id, e.reason) for e in events if isinstance(e, NodeSkipped)]
    assert skipped == [("answer", "branch_not_taken")]


def test_loop_stops_when_until_holds(engine: Engine) -> None:
    workflow = _yaml("loop")
    text = "one two three"
    assert engine.run_sync(workflow, {"text": text, "max_chars": 100}).outputs == {
        "short": text, "iterations": 1}  # `until` is checked after each iteration
    assert engine.run_sync(workflow, {"text": text, "max_chars": 7}).outputs == {
        "short": "one two", "iterations": 1}
    assert engine.run_sync(workflow, {"text": text, "max_chars": 3}).outputs == {
        "short": "one", "iterations": 2}


def test_loop_bound_is_a_clear_error(engine: Engine) -> None:
    words = " ".join(f"w{i}" for i in range(30))  # needs 30 iterations; the bound is 20
    with pytest.raises(RunFailed) as caught:
        engine.run_sync(_yaml("loop"), {"text": words, "max_chars": 0})
    assert caught.value.result.nodes["trim"].code == "loop_limit"
    assert "max_iterations=20" in str(caught.value)


def test_map_keeps_item_order(engine: Engine) -> None:
    text = "\n".join(" ".join(["w"] * n) for n in (5, 1, 3, 2))
    result = engine.run_sync(_module("map").build(), {"text": text})
    assert [row["words"] for row in result.outputs["per_line"]] == [5, 1, 3, 2]
    assert result.outputs["total_words"] == 11


def test_subworkflow_is_inlined_from_its_file() -> None:
    spec = _yaml("subworkflow")
    child = spec.node("post").params["workflow"]
    assert isinstance(child, dict)
    assert child["name"] == "slugify"
    assert child == _yaml("sequential").to_json_dict()
