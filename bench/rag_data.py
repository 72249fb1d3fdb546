"""The vector search benchmark's data: random unit vectors, real all-MiniLM-L6-v2 vectors of
short texts from the shared SciFact and NFCorpus corpora (embedded once, cached under
``bench/data/``), their metadata, exact ground truth, and the 10 MB corpus for ingestion.

Texts: every sentence (20 characters or more) and title of both corpora, deduplicated, then
pairs of adjacent sentences until there are enough; shuffled with a fixed seed. Queries: the
corpora's own queries (claims and questions, held out: none is a base text). Nothing here
downloads anything.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
DATASETS = Path("/work/shared/datasets")
CORPORA = ("scifact", "nfcorpus")
CATEGORIES = 10
"""Records carry ``category`` = ``c0`` .. ``c9`` (uniform): ``c3`` selects 10 %."""
NARROW = "c3"
BROAD = tuple(f"c{i}" for i in range(5))
"""``category in c0..c4``: 50 %."""
DIM = 384
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


@dataclass(frozen=True, slots=True)
class VectorSet:
    """Base vectors (``n x 384``, unit length), query vectors, base texts and categories."""

    name: str
    base: np.ndarray
    queries: np.ndarray
    texts: list[str]
    categories: np.ndarray  # int8, 0..9
    embed_seconds: float | None = None


def datasets_dir() -> Path:
    return DATASETS


def _open(path: Path) -> Iterator[str]:
    gz = path.with_name(path.name + ".gz")
    if gz.exists():
        with gzip.open(gz, "rt", encoding="utf-8") as fh:
            yield from fh
    else:
        with path.open(encoding="utf-8") as fh:
            yield from fh


def corpus_documents() -> Iterator[tuple[str, str, str]]:
    """``(id, title, text)`` of every document of both corpora, in file order."""
    for name in CORPORA:
        for line in _open(DATASETS / name / "corpus.jsonl"):
            doc = json.loads(line)
            yield f"{name}-{doc['_id']}", doc.get("title") or "", doc.get("text") or ""


def short_texts(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct short texts (sentences, titles, then adjacent-sentence pairs)."""
    seen: dict[str, None] = {}
    pairs: list[str] = []
    for _, title, text in corpus_documents():
        if title.strip():
            seen.setdefault(title.strip(), None)
        parts = [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) >= 20]
        for s in parts:
            seen.setdefault(s, None)
        pairs.extend(f"{a} {b}" for a, b in itertools.pairwise(parts))
    texts = list(seen)
    rng = random.Random(seed)
    rng.shuffle(texts)
    if len(texts) < n:
        rng.shuffle(pairs)
        for p in pairs:
            if len(texts) >= n:
                break
            if p not in seen:
                seen[p] = None
                texts.append(p)
        rng.shuffle(texts)
    if len(texts) < n:
        raise SystemExit(f"the corpora give only {len(texts)} texts, {n} asked")
    return texts[:n]


def query_texts(n: int, exclude: set[str], seed: int = 11) -> list[str]:
    texts: dict[str, None] = {}
    for name in CORPORA:
        for line in (DATASETS / name / "queries.jsonl").open(encoding="utf-8"):
            t = json.loads(line)["text"].strip()
            if t and t not in exclude:
                texts.setdefault(t, None)
    out = list(texts)
    random.Random(seed).shuffle(out)
    return out[:n]


def sentences(n: int, seed: int = 23) -> list[str]:
    """``n`` short sentences (30 to 100 characters, about 15 tokens) for the encoding speed."""
    found: dict[str, None] = {}
    for _, _, text in corpus_documents():
        for s in _SENTENCE.split(text):
            if 30 <= len(s.strip()) <= 100:
                found.setdefault(s.strip(), None)
    out = list(found)
    random.Random(seed).shuffle(out)
    return out[:n]


def passages(n: int, seed: int = 5) -> list[str]:
    """``n`` paragraph-long passages (title + abstract) for the encoding-speed measurement."""
    docs = [f"{title}. {text}" for _, title, text in corpus_documents() if len(text) > 600]
    random.Random(seed).shuffle(docs)
    return docs[:n]


def categories(n: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, CATEGORIES, n).astype(np.int8)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def random_set(n: int, q: int, seed: int = 1) -> VectorSet:
    rng = np.random.default_rng(seed)
    base = _unit(rng.standard_normal((n, DIM), dtype=np.float32))
    queries = _unit(rng.standard_normal((q, DIM), dtype=np.float32))
    texts = [f"random vector {i}" for i in range(n)]
    return VectorSet("random", base, queries, texts, categories(n))


def _digest(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


FULL_N, FULL_Q = 100_000, 1_000


def minilm_set(n: int, q: int, *, log: bool = True) -> VectorSet:
    """Real vectors: cached as ``bench/data/minilm-<n>-<q>.npy`` (base rows then query rows,
    with a ``.json`` beside it naming the texts' digest); embedded with plait's
    ``LocalEmbedder`` on a cache miss (minutes on 2 cores). A smaller set is sliced from the
    full one when that is cached."""
    if n <= FULL_N and q <= FULL_Q and (n, q) != (FULL_N, FULL_Q):
        full = DATA / f"minilm-{FULL_N}-{FULL_Q}.npy"
        if full.exists():
            big = minilm_set(FULL_N, FULL_Q, log=log)
            return VectorSet("minilm", big.base[:n], big.queries[:q], big.texts[:n],
                             big.categories[:n], big.embed_seconds)
    texts = short_texts(n)
    queries = query_texts(q, set(texts))
    digest = _digest([*texts, "\x01", *queries])
    path = DATA / f"minilm-{n}-{q}.npy"
    meta_path = path.with_suffix(".json")
    seconds = None
    if path.exists() and meta_path.exists() and json.loads(meta_path.read_text()).get(
            "digest") == digest:
        vectors = np.load(path)
        seconds = json.loads(meta_path.read_text()).get("embed_seconds")
    else:
        if log:
            print(f"embedding {n + len(queries)} texts with all-MiniLM-L6-v2 (cached in "
                  f"{path.relative_to(ROOT)} afterwards)", flush=True)
        vectors, seconds = embed_texts(texts + queries, log=log)
        DATA.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        meta_path.write_text(json.dumps({
            "digest": digest, "model": "local:all-MiniLM-L6-v2", "base": n, "queries": q,
            "embed_seconds": seconds}, indent=1) + "\n")
    return VectorSet("minilm", _unit(vectors[:n]), _unit(vectors[n:n + len(queries)]), texts,
                     categories(n), seconds)


def embed_texts(texts: list[str], *, log: bool = True) -> tuple[np.ndarray, float]:
    """All ``texts`` through plait's ``LocalEmbedder``, in slices (progress on stdout)."""
    import asyncio

    from plait.rag.embeddings import LocalEmbedder

    embedder = LocalEmbedder(batch_size=64)

    async def run() -> tuple[np.ndarray, float]:
        await embedder.load()
        parts = []
        started = time.perf_counter()
        step = 4096
        for at in range(0, len(texts), step):
            parts.append(await embedder.embed(texts[at:at + step]))
            if log:
                done = at + len(parts[-1])
                rate = done / (time.perf_counter() - started)
                print(f"  embedded {done}/{len(texts)} texts ({rate:.0f}/s)", flush=True)
        return np.vstack(parts).astype(np.float32), time.perf_counter() - started

    return asyncio.run(run())


def ground_truth(base: np.ndarray, queries: np.ndarray, k: int,
                 mask: np.ndarray | None = None) -> np.ndarray:
    """Exact top-``k`` row numbers by inner product (cosine on unit vectors), best first;
    ``mask`` keeps only the rows a filter allows."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for at in range(0, len(queries), 256):
        scores = queries[at:at + 256] @ base.T
        if mask is not None:
            scores[:, ~mask] = -np.inf
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
        out[at:at + 256] = np.take_along_axis(top, order, axis=1)
    return out


def write_corpus(folder: Path, megabytes: float) -> tuple[int, int]:
    """Documents of both corpora as ``.txt`` files (title, blank line, abstract) until
    ``megabytes`` of text; returns (files, bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    limit = int(megabytes * 1_000_000)
    written = files = 0
    for doc_id, title, text in corpus_documents():
        if written >= limit:
            break
        body = f"{title}\n\n{text}\n" if title else f"{text}\n"
        data = body.encode("utf-8")
        sub = folder / doc_id.split("-", 1)[0]
        sub.mkdir(exist_ok=True)
        (sub / f"{doc_id}.txt").write_bytes(data)
        written += len(data)
        files += 1
    return files, written
