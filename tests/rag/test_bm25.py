from __future__ import annotations

import math
import random
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from plait.errors import UsageError
from plait.rag.bm25 import ENGLISH_STOPWORDS, Analyzer, BM25Index

WORDS = ("apple", "banana", "cherry", "date", "elder", "fig", "grape", "honeydew", "kiwi",
         "lemon", "mango", "nectarine", "olive", "papaya", "quince", "raspberry", "strawberry",
         "tangerine")


def reference_scores(docs: dict[str, str], query: str, k1: float = 0.9,
                     b: float = 0.4) -> dict[str, float]:
    """The module docstring's formula, written out plainly."""
    analyze = Analyzer()
    terms = {i: Counter(analyze(t)) for i, t in docs.items()}
    n = len(docs)
    avgdl = sum(sum(c.values()) for c in terms.values()) / n
    out: dict[str, float] = {}
    for doc_id, tf in terms.items():
        dl = sum(tf.values())
        score = 0.0
        for term, qtf in Counter(analyze(query)).items():
            if tf[term]:
                df = sum(1 for c in terms.values() if c[term])
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += qtf * idf * tf[term] / (tf[term] + k1 * (1 - b + b * dl / avgdl))
        if score > 0:
            out[doc_id] = score
    return out


def random_corpus(rng: random.Random, n: int) -> dict[str, str]:
    return {f"d{i}": " ".join(rng.choices(WORDS, k=rng.randint(1, 30))) for i in range(n)}


def assert_same_ranking(got: list[tuple[str, float]], want: dict[str, float], k: int) -> None:
    best = sorted(want.items(), key=lambda kv: -kv[1])[:k]
    assert len(got) == len(best)
    for (gid, gscore), (_wid, wscore) in zip(got, best, strict=True):
        assert gscore == pytest.approx(wscore, rel=1e-4)
        assert gscore == pytest.approx(want[gid], rel=1e-4)


def test_analyzer_lowercases_drops_stopwords_and_stems() -> None:
    analyze = Analyzer()
    assert analyze("The Runners were RUNNING to the studies") == ["runner", "were", "run",
                                                                  "studi"]
    assert analyze("John's café, naïve Ünïcode; x 3.5") == ["john", "café", "naïv",
                                                           "ünïcode", "x", "3", "5"]
    assert analyze("it's Mary\u2019s") == ["mari"]
    assert analyze("") == []
    assert analyze("the and of") == []
    assert "the" in ENGLISH_STOPWORDS
    assert len(ENGLISH_STOPWORDS) == 33


def test_analyzer_options() -> None:
    assert Analyzer(stemmer=None, stopwords=())("The Running") == ["the", "running"]
    assert Analyzer(stemmer="porter")("generously") == ["gener"]
    assert Analyzer()("generously") == ["generous"]
    with pytest.raises(UsageError, match="unknown Snowball stemmer"):
        Analyzer(stemmer="klingon")


def test_scores_follow_the_formula() -> None:
    rng = random.Random(1)
    docs = random_corpus(rng, 60)
    index = BM25Index()
    index.add_many(docs.items())
    for query in ("apple", "kiwi kiwi mango", "banana cherry date elder", "the zucchini"):
        want = reference_scores(docs, query)
        assert_same_ranking(index.search(query, k=10), want, 10)


def test_parameters_change_the_scores() -> None:
    docs = {"short": "apple", "long": "apple " + "banana " * 40}
    flat = BM25Index(b=0.0)
    flat.add_many(docs.items())
    scores = dict(flat.search("apple"))
    assert scores["short"] == pytest.approx(scores["long"])
    normalized = BM25Index(k1=1.2, b=0.75)
    normalized.add_many(docs.items())
    assert [i for i, _ in normalized.search("apple")] == ["short", "long"]
    assert_same_ranking(normalized.search("apple"), reference_scores(docs, "apple", 1.2, 0.75), 2)
    with pytest.raises(UsageError):
        BM25Index(b=1.5)


def test_finds_the_expected_document() -> None:
    index = BM25Index()
    index.add("a", "Vector stores keep embeddings and metadata.")
    index.add("b", "The graph engine schedules nodes when their inputs are ready.")
    index.add("c", "Tenants never see each other's collections.")
    assert index.search("scheduling nodes")[0][0] == "b"
    assert index.search("tenant collection")[0][0] == "c"
    assert index.search("nothing matches zzz") == []
    assert index.search("the of and") == []
    assert index.search("vector", k=0) == []


def test_replace_and_remove() -> None:
    index = BM25Index()
    index.add("a", "apple")
    index.add("b", "banana")
    index.add("a", "cherry")
    assert len(index) == 2
    assert index.search("apple") == []
    assert [i for i, _ in index.search("cherry")] == ["a"]
    assert index.remove("b") is True
    assert index.remove("b") is False
    assert "b" not in index
    assert "a" in index
    assert index.search("banana") == []
    assert list(index.ids()) == ["a"]
    index.add_many([("x", "kiwi"), ("x", "mango")])
    assert index.search("kiwi") == []
    assert index.search("mango")[0][0] == "x"


def test_empty_texts() -> None:
    index = BM25Index()
    index.add_many([("a", ""), ("b", "the of")])
    index.add("c", "apple")
    assert len(index) == 3
    assert [i for i, _ in index.search("apple")] == ["c"]
    index.remove_many(["a", "b"])
    assert index.search("apple")[0][0] == "c"


def test_allowed_restricts_results() -> None:
    index = BM25Index()
    index.add_many((f"d{i}", "apple " * (i + 1)) for i in range(10))
    got = index.search("apple", k=3, allowed={"d1", "d4", "nope"})
    assert [i for i, _ in got] == ["d4", "d1"]
    assert index.search("apple", allowed=set()) == []


@pytest.mark.parametrize("seed", range(4))
def test_incremental_equals_fresh_after_random_edits(seed: int) -> None:
    """Adds, replaces, removes and compactions leave the index scoring like a fresh one."""
    rng = random.Random(seed)
    index = BM25Index(compact_ratio=0.1)
    live: dict[str, str] = {}
    for _ in range(40):
        if live and rng.random() < 0.4:
            gone = rng.sample(sorted(live), k=min(len(live), rng.randint(1, 15)))
            assert index.remove_many(gone) == len(gone)
            for g in gone:
                del live[g]
        else:
            batch = {f"d{rng.randint(0, 120)}": " ".join(rng.choices(WORDS, k=rng.randint(1, 20)))
                     for _ in range(rng.randint(1, 20))}
            index.add_many(batch.items())
            live.update(batch)
        assert len(index) == len(live)
    fresh = BM25Index()
    fresh.add_many(live.items())
    for query in ("apple kiwi", "raspberry", "lemon lemon olive fig"):
        got = index.search(query, k=200)
        want = fresh.search(query, k=200)
        assert dict(got) == pytest.approx(dict(want), rel=1e-5)
        if live:
            assert_same_ranking(got, reference_scores(live, query), 200)


def test_save_and_load(tmp_path: Path) -> None:
    rng = random.Random(7)
    docs = random_corpus(rng, 50)
    index = BM25Index(k1=1.1, b=0.6, analyzer=Analyzer(stemmer="porter"))
    index.add_many(docs.items())
    index.remove_many(["d3", "d4"])
    path = tmp_path / "bm25.npz"
    index.save(path)
    loaded = BM25Index.load(path)
    assert (loaded.k1, loaded.b, loaded.analyzer.stemmer) == (1.1, 0.6, "porter")
    assert len(loaded) == 48
    for query in ("apple", "kiwi mango quince"):
        got, want = loaded.search(query, k=50), index.search(query, k=50)
        assert [i for i, _ in got] == [i for i, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want])
    with np.load(path, allow_pickle=False) as data:  # plain arrays, no pickle
        assert data["ids"].dtype.kind == "U"
    empty = BM25Index()
    empty.save(tmp_path / "empty.npz")
    assert len(BM25Index.load(tmp_path / "empty.npz")) == 0
    loaded.add("new", "apple apple")
    assert loaded.search("apple")[0][0] == "new"


def test_threads_can_write_and_read_at_once() -> None:
    index = BM25Index()
    index.add_many((f"seed{i}", "apple banana") for i in range(50))
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(200):
                index.add(f"w{worker}-{i}", f"apple kiwi {i}")
                if i % 7 == 0:
                    index.remove(f"w{worker}-{i - 1}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(200):
                index.search("apple kiwi", k=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(2)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(index) == 50 + 2 * (200 - 28)
