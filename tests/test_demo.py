"""The demos keep working: examples/demo.yaml (a text report) and examples/docs-qa.yaml (what
`make demo` runs: ingest docs, answer with citations)."""

from __future__ import annotations

from pathlib import Path

import yaml

from plait import Engine, load_spec

ROOT = Path(__file__).resolve().parents[1]


def test_demo_workflow_produces_the_report() -> None:
    spec = load_spec(ROOT / "examples" / "demo.yaml")
    inputs = yaml.safe_load((ROOT / "examples" / "demo-input.yaml").read_text())
    result = Engine().run_sync(spec, inputs)
    assert result.outputs["words"] == 64
    assert result.outputs["report"] == (
        "# What plait does\n"
        "A quick read: 64 words.\n"
        "1. plait runs workflows as graphs. (25 words)\n"
        "2. Untaken branches are skipped, and the skip travels downstream. (17 words)\n"
        "3. Every run emits one stream of typed events. (22 words)\n\n")
    assert result.nodes["long_verdict"].status.value == "skipped"


def test_make_demo_answers_from_docs_with_citations(tmp_path: Path) -> None:
    """What `make demo` runs, on the real defaults (local MiniLM embeddings, the embedded
    store, the local SmolLM2 model), over a few of plait's docs to keep it quick."""
    import json

    from tests.cli.envs import clean_env, plait

    source = ROOT / "docs" / "rag"
    env = clean_env(tmp_path / "home")
    result = plait("run", str(ROOT / "examples" / "docs-qa.yaml"), "--json",
                   "--input", f"source={source}",
                   "--input", "question=How does plait skip unchanged documents?", env=env)
    assert result.exit_code == 0, result.output
    outputs = json.loads(result.stdout)["outputs"]
    assert outputs["ingested"]["added"] >= 3
    assert outputs["ingested"]["failed"] == 0
    answer = outputs["answer"]
    assert "\n\nSources:\n[1] " in answer
    assert "[3] " in answer
