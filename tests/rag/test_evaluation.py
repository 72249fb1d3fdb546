"""Retrieval evaluation: metrics against hand-computed (and pytrec_eval-checked) values, the
BEIR loader on tiny fixtures, ignore_identical_ids, and the runner end to end."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from plait.errors import DatasetError, UsageError
from plait.rag.embeddings import HashEmbedder
from plait.rag.evaluation import (
    HybridSettings,
    evaluate,
    evaluate_retrieval,
    load_beir,
    mrr_at,
    ndcg_at,
    rank,
    recall_at,
)

QRELS = {"q1": {"d1": 2, "d2": 1, "d3": 0, "d4": 1}, "q2": {"a": 1}}
RUN = {"q1": {"d3": 0.9, "d1": 0.8, "d5": 0.7, "d2": 0.6},
       "q2": {"a": 0.5, "b": 0.5, "c": 0.7}}


def test_ndcg_uses_linear_gain_and_log2_discount() -> None:
    ranking = rank(RUN["q1"])
    assert ranking == ["d3", "d1", "d5", "d2"]
    dcg = 0 + 2 / math.log2(3) + 0 + 1 / math.log2(5)
    idcg = 2 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(ranking, QRELS["q1"], 10) == pytest.approx(dcg / idcg)
    # the value pytrec_eval's ndcg_cut_10 gives for this run (checked once by hand)
    assert ndcg_at(ranking, QRELS["q1"], 10) == pytest.approx(0.5405857679450102)
    # a cut shorter than the ideal list cuts the ideal list too
    cut = (2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert ndcg_at(ranking, QRELS["q1"], 2) == pytest.approx(cut)


def test_recall_and_mrr() -> None:
    ranking = rank(RUN["q1"])
    assert recall_at(ranking, QRELS["q1"], 2) == pytest.approx(1 / 3)
    assert recall_at(ranking, QRELS["q1"], 10) == pytest.approx(2 / 3)
    assert mrr_at(ranking, QRELS["q1"], 10) == 0.5
    assert mrr_at(ranking, QRELS["q1"], 1) == 0.0
    assert recall_at([], {"x": 0}, 10) == 0.0
    assert ndcg_at(["x"], {"x": 0}, 10) == 0.0


def test_ties_are_broken_by_doc_id_descending_like_trec_eval() -> None:
    assert rank(RUN["q2"]) == ["c", "b", "a"]
    assert mrr_at(rank(RUN["q2"]), QRELS["q2"], 10) == pytest.approx(1 / 3)
    assert ndcg_at(rank(RUN["q2"]), QRELS["q2"], 10) == pytest.approx(0.5)


def test_evaluate_averages_over_every_qrels_query() -> None:
    scores = evaluate(QRELS, RUN)
    assert scores["ndcg@10"] == pytest.approx((0.5405857679450102 + 0.5) / 2)
    assert scores["recall@10"] == pytest.approx((2 / 3 + 1) / 2)
    assert scores["mrr@10"] == pytest.approx((0.5 + 1 / 3) / 2)
    # a query without results counts 0
    assert evaluate(QRELS, {"q1": RUN["q1"]})["recall@100"] == pytest.approx((2 / 3) / 2)
    with pytest.raises(UsageError, match="unknown metric"):
        evaluate(QRELS, RUN, metrics=["map@10"])


def test_ignore_identical_ids_drops_the_query_itself() -> None:
    qrels = {"q1": {"d1": 1}}
    run = {"q1": {"q1": 0.99, "d1": 0.5}}
    assert evaluate(qrels, run, metrics=["mrr@10"])["mrr@10"] == 0.5
    assert evaluate(qrels, run, metrics=["mrr@10"], ignore_identical_ids=True)["mrr@10"] == 1.0


# -- the BEIR loader ----------------------------------------------------------------------

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats purr when they are content.", "metadata": {}},
    {"_id": "d2", "title": "Dogs", "text": "Dogs bark at strangers.", "metadata": {}},
    {"_id": "d3", "title": "", "text": "Parrots can imitate human speech.", "metadata": {}},
    {"_id": "d4", "title": "Fish", "text": "Fish breathe through gills.", "metadata": {}},
]
QUERIES = [
    {"_id": "q1", "text": "why do cats purr"},
    {"_id": "q2", "text": "which birds imitate speech"},
    {"_id": "q3", "text": "a query of another split"},
]
QRELS_TSV = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t2\nq2\td2\t0\n"


def write_dataset(base: Path, *, gz: bool) -> Path:
    (base / "qrels").mkdir(parents=True)

    def write(path: Path, text: str) -> None:
        if gz:
            with gzip.open(f"{path}.gz", "wt", encoding="utf-8") as fh:
                fh.write(text)
        else:
            path.write_text(text, encoding="utf-8")

    write(base / "corpus.jsonl", "".join(json.dumps(r) + "\n" for r in CORPUS))
    write(base / "queries.jsonl", "".join(json.dumps(r) + "\n" for r in QUERIES))
    write(base / "qrels" / "test.tsv", QRELS_TSV)
    return base


@pytest.mark.parametrize("gz", [False, True])
def test_load_beir(tmp_path: Path, gz: bool) -> None:
    ds = load_beir(write_dataset(tmp_path / "tiny", gz=gz))
    assert ds.name == "tiny"
    assert set(ds.corpus) == {"d1", "d2", "d3", "d4"}
    assert ds.corpus["d1"].full_text == "Cats Cats purr when they are content."
    assert ds.corpus["d3"].full_text == "Parrots can imitate human speech."
    assert ds.queries == {"q1": "why do cats purr", "q2": "which birds imitate speech"}
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"d3": 2, "d2": 0}}


def test_load_beir_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a directory"):
        load_beir(tmp_path / "missing")
    base = write_dataset(tmp_path / "bad", gz=False)
    (base / "qrels" / "test.tsv").unlink()
    with pytest.raises(DatasetError, match=r"missing test\.tsv"):
        load_beir(base)
    (base / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\thigh\n")
    with pytest.raises(DatasetError, match=r"test\.tsv:2: score 'high'"):
        load_beir(base)
    (base / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\nnot json\n')
    with pytest.raises(DatasetError, match=r"queries\.jsonl:2: not JSON"):
        load_beir(base)


# -- the runner ---------------------------------------------------------------------------

async def test_evaluate_retrieval_end_to_end(tmp_path: Path) -> None:
    base = write_dataset(tmp_path / "tiny", gz=True)
    seen: list[str] = []
    report = await evaluate_retrieval(base, embedder=HashEmbedder(dim=64), top_k=10,
                                      progress=lambda p: seen.append(p.phase))
    assert report.dataset == "tiny"
    assert (report.documents, report.queries) == (4, 2)
    rows = report.rows()
    assert [r["method"] for r in rows] == ["vector", "bm25", "hybrid"]
    assert set(rows[0]) == {"method", "ndcg@10", "recall@10", "recall@100", "mrr@10",
                            "seconds"}
    # BM25 finds both relevant documents at rank 1 ("cats purr", "imitate speech")
    assert report.result("bm25").metrics["mrr@10"] == 1.0
    assert report.result("hybrid").metrics["recall@10"] == 1.0
    assert {"ingest", "search:vector", "search:bm25", "search:hybrid"} <= set(seen)


async def test_evaluate_retrieval_weighted_and_method_choice(tmp_path: Path) -> None:
    base = write_dataset(tmp_path / "tiny", gz=False)
    report = await evaluate_retrieval(
        base, embedder=HashEmbedder(dim=64), methods=["hybrid"], top_k=5,
        hybrid=HybridSettings(fusion="weighted", alpha=0.0))
    assert [r.method for r in report.results] == ["hybrid"]
    assert report.settings["fusion"] == "weighted"
    assert report.result("hybrid").metrics["mrr@10"] == 1.0  # alpha 0 = BM25 alone
    with pytest.raises(UsageError, match="unknown method"):
        await evaluate_retrieval(base, embedder=HashEmbedder(dim=64), methods=["splade"])


# -- the real thing, on a slice of SciFact (slow: loads MiniLM) ---------------------------

SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "scifact"


def write_slice(base: Path, n_queries: int = 20, n_other: int = 130) -> None:
    """A small BEIR dataset: SciFact's first test queries, their documents and some others."""
    full = load_beir(SCIFACT)
    qids = sorted(full.qrels)[:n_queries]
    wanted = sorted({d for q in qids for d in full.qrels[q]} & set(full.corpus))
    others = [d for d in full.corpus if d not in set(wanted)][:n_other]
    (base / "qrels").mkdir(parents=True)
    corpus = [full.corpus[d] for d in [*wanted, *others]]
    (base / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": d.id, "title": d.title, "text": d.text}) + "\n" for d in corpus))
    (base / "queries.jsonl").write_text("".join(
        json.dumps({"_id": q, "text": full.queries[q]}) + "\n" for q in qids))
    (base / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t{r}\n" for q in qids for d, r in full.qrels[q].items()))


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_scifact_slice_with_the_local_model(tmp_path: Path) -> None:
    if not SCIFACT.is_dir():
        pytest.skip(f"{SCIFACT} is not here")
    pytest.importorskip("sentence_transformers")
    from plait.rag.embeddings import LocalEmbedder

    base = tmp_path / "scifact-slice"
    write_slice(base)
    report = await evaluate_retrieval(base, embedder=LocalEmbedder())
    assert report.queries == 20
    ndcg = {r.method: r.metrics["ndcg@10"] for r in report.results}
    # on 150 documents every method finds most answers; hybrid is not worse than the weaker
    assert min(ndcg.values()) > 0.5
    assert ndcg["hybrid"] >= min(ndcg["vector"], ndcg["bm25"])
