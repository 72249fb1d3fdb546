"""``plait ingest``, ``search``, ``ask``, ``collections`` and ``eval retrieval`` on the embedded
store under a temporary PLAIT_HOME, with the hash embedder (fast) and a mock model server; the
real local embedder and model run in the demo test."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from plait.testing import MockLLMServer
from tests.cli.envs import clean_env, mock_openai_env, plait


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "resume.md").write_text("# Resuming\n\nA killed run resumes from its last "
                                    "checkpoint with plait runs resume.\n")
    (root / "tools.md").write_text("# Tools\n\nAgents call tools inside a sandbox.\n")
    return root


def env_for(tmp_path: Path, **values: str) -> dict[str, str | None]:
    return clean_env(tmp_path / "home", PLAIT_EMBEDDER="hash:64", **values)


def test_ingest_search_collections_drop(tmp_path: Path, docs: Path) -> None:
    env = env_for(tmp_path)
    first = plait("ingest", str(docs), "-c", "kb", "--json", env=env)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (report["added"], report["chunks"], report["failed"]) == (2, 2, 0)

    again = plait("ingest", str(docs), "-c", "kb", "--json", env=env)
    assert json.loads(again.stdout)["unchanged"] == 2

    (docs / "tools.md").unlink()
    pruned = plait("ingest", str(docs), "-c", "kb", "--json", env=env)
    assert json.loads(pruned.stdout)["removed"] == 1

    found = plait("search", "checkpoint resumes", "-c", "kb", "--mode", "keyword", "--json",
                  env=env)
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert hits[0]["doc_id"].endswith("resume.md")

    table = plait("search", "checkpoint", "-c", "kb", env=env)
    assert "resume.md" in table.stdout

    listed = plait("collections", "--json", env=env)
    assert [s["ref"]["name"] for s in json.loads(listed.stdout)] == ["kb"]

    other_tenant = plait("collections", "--tenant", "acme", "--json", env=env)
    assert json.loads(other_tenant.stdout) == []

    dropped = plait("collections", "drop", "kb", "--yes", env=env)
    assert dropped.exit_code == 0, dropped.output
    gone = plait("search", "x", "-c", "kb", env=env)
    assert gone.exit_code == 2
    assert "no collection 'kb'" in gone.output


def test_bad_input_is_a_clear_error(tmp_path: Path, docs: Path) -> None:
    env = env_for(tmp_path)
    missing = plait("ingest", str(tmp_path / "nope"), "-c", "kb", env=env)
    assert missing.exit_code == 2
    assert "no such file or directory" in missing.output
    plait("ingest", str(docs), "-c", "kb", env=env)
    bad_filter = plait("search", "x", "-c", "kb", "--filter", "{nope", env=env)
    assert bad_filter.exit_code == 2
    assert "--filter is not valid JSON" in bad_filter.output
    bad_op = plait("search", "x", "-c", "kb", "--filter", '{"page": {"$near": 1}}', env=env)
    assert bad_op.exit_code == 2
    assert "unknown operator '$near'" in bad_op.output
    assert "Traceback" not in bad_op.output


def test_a_corrupt_file_is_reported_and_the_rest_ingested(tmp_path: Path, docs: Path) -> None:
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    result = plait("ingest", str(docs), "-c", "kb", "--json", env=env_for(tmp_path))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["added"] == 2
    assert [f["source"] for f in report["failures"]] == ["broken.pdf"]


def test_ask_answers_with_numbered_sources(tmp_path: Path, docs: Path) -> None:
    with MockLLMServer(lambda request: "Use plait runs resume [1].") as server:
        env = mock_openai_env(tmp_path / "home", server.url, PLAIT_EMBEDDER="hash:64")
        assert plait("ingest", str(docs), "-c", "kb", env=env).exit_code == 0
        result = plait("ask", "how do I resume a killed run?", "-c", "kb", "--model",
                       "openai:mock", "-k", "2", env=env)
        assert result.exit_code == 0, result.output
        prompt = server.requests[0].last_user_text
    assert result.stdout.startswith("Use plait runs resume [1].")
    assert "Sources:\n[1] resume.md" in result.stdout
    assert "[1] (resume.md" in str(prompt)


def _dataset(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    corpus = [{"_id": "d1", "title": "Cats", "text": "cats purr and sleep"},
              {"_id": "d2", "title": "Dogs", "text": "dogs bark at night"},
              {"_id": "d3", "title": "Fish", "text": "fish swim in water"}]
    with gzip.open(root / "corpus.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(d) + "\n" for d in corpus)
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in [
        {"_id": "q1", "text": "purring cats"}, {"_id": "q2", "text": "barking dogs"}]))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    return root


def test_eval_retrieval_prints_one_json_object_per_method(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "tiny")
    result = plait("eval", "retrieval", str(data), "--json", env=env_for(tmp_path))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["method"] for r in rows] == ["vector", "bm25", "hybrid"]
    bm25 = rows[1]
    assert bm25["ndcg@10"] == pytest.approx(1.0)
    assert set(bm25) >= {"ndcg@10", "recall@10", "recall@100", "mrr@10"}

    table = plait("eval", "retrieval", str(data), "--method", "bm25", env=env_for(tmp_path))
    assert "ndcg@10" in table.stdout
    assert "bm25" in table.stdout

    bad = plait("eval", "retrieval", str(tmp_path / "none"), env=env_for(tmp_path))
    assert bad.exit_code == 2
