"""One measurement of the vector search benchmark, in a fresh process (``bench.rag`` runs it).

    python -m bench.rag_worker '<job as JSON>'

Kinds:

- ``build``: one side, empty -> the first ``bulk`` rows in one go (10K-record upserts for
  plait), background indexing waited for, then ``batches`` x 1K rows one upsert each; after
  each, the time until the batch's last vector comes back from a search of itself (polled),
  and whether 9 more do. RSS before and after (the process holds nothing else that grows),
  bytes on disk or of the relation; the index is closed (persisted) for the next jobs.
- ``reopen``: an in-process side reopened in a fresh process: RSS delta and time.
- ``query``: every side of one data set, reopened; efSearch swept until recall@10 reaches 0.99
  (and at least to 64), per side and filter; then interleaved rounds of single-query latency
  at the fastest ef reaching 0.95 and 0.99. One thread for faiss and BLAS.
- ``encode``: all-MiniLM-L6-v2 speed, plait's ``LocalEmbedder`` vs ``SentenceTransformer``.
- ``ingest``: a corpus of text files through ``Ingestor`` into the embedded store, time split
  into load+chunk, embedding and store writes.

Prints ``BENCH-RESULT {json}`` last.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from bench.rag_data import VectorSet, ground_truth, minilm_set, random_set
from bench.rag_sides import FILTERS, Side, masks, side
from bench.worker import MARKER

K = 10
EF_LADDER = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
PROBES = 10
SWEEP_FLOOR = 64
"""Past the target, the sweep goes on while a wider beam gets faster (a small beam can make a
filtered search fall back to an exact scan), up to this ef."""
VISIBLE_TIMEOUT = 10.0


def load_data(job: dict[str, Any]) -> VectorSet:
    if job["dataset"] == "random":
        return random_set(job["n"], job["q"])
    return minilm_set(job["n"], job["q"], log=False)


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def settle_memory() -> int:
    """RSS once garbage is collected and freed heap pages are returned to the system."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss()


# -- build ---------------------------------------------------------------------------------


async def until_visible(s: Side, vectors: np.ndarray, rows: list[int],
                        started: float) -> tuple[float | None, int]:
    """Seconds from ``started`` until a search for the batch's last row finds it (polled),
    and how many of the other probe rows a search then misses."""
    last = rows[-1]
    while last not in await s.search(vectors[last], K, "none"):
        if time.perf_counter() - started > VISIBLE_TIMEOUT:
            return None, len(rows)
        await asyncio.sleep(0.001)
    seen = time.perf_counter() - started
    missed = 0
    for row in rows[:-1]:
        missed += row not in await s.search(vectors[row], K, "none")
    return seen, missed


async def build(job: dict[str, Any]) -> dict[str, Any]:
    data = load_data(job)
    limits = single_thread()  # OpenMP/BLAS threads spin badly on a shared 2-core machine
    folder = Path(job["folder"])
    s = side(job["side"], folder, data, job["params"])
    opened = time.perf_counter()
    await s.open(create=True)
    open_s = time.perf_counter() - opened
    before = settle_memory()
    bulk, batch, batches = job["bulk"], job["batch"], job["batches"]
    started = time.perf_counter()
    await s.add(0, data.base[:bulk], bulk=True)
    bulk_s = time.perf_counter() - started
    started = time.perf_counter()
    await s.settle()  # background graph linking (plait's embedded store)
    settle_s = time.perf_counter() - started
    inserts, visible, calls, linked, missed = [], [], [], [], []
    for b in range(batches):
        start = bulk + b * batch
        vectors = data.base[start:start + batch]
        t0 = time.perf_counter()
        await s.add(start, vectors, bulk=False)
        call = time.perf_counter() - t0
        probes = [start + i * batch // PROBES for i in range(PROBES)]
        seen, miss = await until_visible(s, data.base, probes, t0)
        missed.append(miss)
        await s.settle()
        linked.append((time.perf_counter() - t0) * 1000)
        inserts.append(batch / call)
        calls.append(call * 1000)
        visible.append(None if seen is None else seen * 1000)
    build_s = bulk_s + settle_s + sum(linked) / 1000
    after = settle_memory()
    size = await s.size_bytes()
    closing = time.perf_counter()
    await s.close()
    close_s = time.perf_counter() - closing
    del limits
    return {"ok": True, "side": job["side"], "dataset": job["dataset"],
            "n": bulk + batch * batches, "bulk": bulk, "bulk_s": bulk_s, "settle_s": settle_s,
            "build_s": build_s, "insert_ms": calls, "insert_per_s": inserts,
            "visible_ms": visible, "probes_missed": missed, "linked_ms": linked,
            "rss_delta": after - before,
            "rss_before": before, "size_bytes": size, "open_s": open_s, "close_s": close_s,
            "disk_bytes_after_close": _disk(folder),
            "ef_construction": s.ef_construction, "m": s.m}


async def reopen(job: dict[str, Any]) -> dict[str, Any]:
    """Memory of an index reopened from disk in a fresh process (after the first query)."""
    data = load_data(job)
    limits = single_thread()
    s = side(job["side"], Path(job["folder"]), data, job["params"])
    s.preload()
    before = settle_memory()
    t0 = time.perf_counter()
    await s.open(create=False)
    await s.settle()
    open_s = time.perf_counter() - t0
    for q in data.queries[:50]:
        await s.search(q, K, "narrow")
    after = settle_memory()
    await s.close()
    del limits
    return {"ok": True, "side": job["side"], "rss_delta": after - before, "open_s": open_s}


def _disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) \
        if folder.exists() else 0


# -- query ---------------------------------------------------------------------------------


def single_thread() -> Any:
    with contextlib.suppress(ImportError):
        import faiss

        faiss.omp_set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    hit = sum(len(set(f[:K]) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hit / (K * len(truth))


async def run_queries(s: Side, queries: np.ndarray, flt: str, timed: bool,
                      budget: float | None = None, least: int = 30
                      ) -> tuple[list[list[int]], list[float]]:
    """Search each query in turn; with a ``budget`` (seconds), stop once it is spent and at
    least ``least`` queries ran (or 30, when queries take over 5 ms each)."""
    found, lat = [], []
    started = time.perf_counter()
    for q in queries:
        t0 = time.perf_counter()
        ids = await s.search(q, K, flt)
        lat.append(time.perf_counter() - t0)
        found.append(ids)
        spent = t0 - started
        if budget is not None and spent > budget and (
                len(found) >= least or (len(found) >= 30 and spent / len(found) > 0.005)):
            break
    return found, lat if timed else []


async def sweep(s: Side, queries: np.ndarray, truth: dict[str, np.ndarray],
                flt: str, top: float, budget: float) -> list[dict[str, Any]]:
    """Recall and mean latency per ef, upward from the side's floor until ``top``."""
    points = []
    for ef in EF_LADDER:
        if ef < K:
            continue
        await s.set_ef(ef)
        found, lat = await run_queries(s, queries, flt, True, budget, least=200)
        r = recall(found, truth[flt][:len(found)])
        points.append({"ef": ef, "recall": r, "queries": len(found),
                       "mean_ms": 1000 * float(np.mean(lat)),
                       "p50_ms": 1000 * float(np.median(lat))})
        print(f"    {s.name:15} {flt:6} ef {ef:5} recall {r:.4f} "
              f"p50 {points[-1]['p50_ms']:.3f} ms ({len(found)} queries)", flush=True)
        slower = len(points) > 1 and points[-1]["p50_ms"] >= points[-2]["p50_ms"]
        if r >= top and (ef >= SWEEP_FLOOR or slower):
            break
    return points


def pick(points: list[dict[str, Any]], target: float) -> dict[str, Any] | None:
    """The fastest point (sweep p50) reaching ``target``: usually the smallest ef, but not
    where a small beam makes a filtered search fall back to an exact scan."""
    good = [p for p in points if p["recall"] >= target]
    return min(good, key=lambda p: p["p50_ms"]) if good else None


async def query(job: dict[str, Any]) -> dict[str, Any]:
    data = load_data(job)
    limits = single_thread()
    truth = {"none": ground_truth(data.base, data.queries, K)}
    for flt, mask in masks(data.categories).items():
        truth[flt] = ground_truth(data.base, data.queries, K, mask)
    sides: dict[str, Side] = {}
    opened: dict[str, float] = {}
    for name, folder in job["folders"].items():
        s = side(name, Path(folder), data, job["params"])
        t0 = time.perf_counter()
        await s.open(create=False)
        await s.settle()
        opened[name] = time.perf_counter() - t0
        sides[name] = s
    tune_q = data.queries[: job["tune_queries"]]
    tune_truth = {f: t[: job["tune_queries"]] for f, t in truth.items()}
    sweeps: dict[str, dict[str, list[dict[str, Any]]]] = {}
    chosen: dict[str, dict[str, dict[str, Any]]] = {}
    blocks: list[tuple[str, str, str, int | None]] = []
    aliases: dict[str, str] = {}
    for name, s in sides.items():
        sweeps[name], chosen[name] = {}, {}
        for flt in FILTERS:
            if not s.tunable:
                found, _ = await run_queries(s, tune_q, flt, False, job["sweep_budget"], 200)
                chosen[name][flt] = {"0.95": {"ef": None, "recall": recall(
                    found, tune_truth[flt][:len(found)]), "queries": len(found)}}
                blocks.append((name, flt, "0.95", None))
                continue
            print(f"  sweep {name} {flt}", flush=True)
            points = await sweep(s, tune_q, tune_truth, flt, job["top_recall"],
                                 job["sweep_budget"])
            sweeps[name][flt] = points
            chosen[name][flt] = {}
            for target in ("0.95", "0.99"):
                p = pick(points, float(target))
                best = p or max(points, key=lambda x: x["recall"])
                chosen[name][flt][target] = {"ef": best["ef"], "recall": best["recall"],
                                             "queries": best["queries"],
                                             "reached": p is not None}
                same = target == "0.99" and best["ef"] == chosen[name][flt]["0.95"]["ef"]
                if same:  # the 0.95 block measured this ef already
                    aliases[f"{name}|{flt}|0.99"] = f"{name}|{flt}|0.95"
                elif target == "0.95" or (p is not None and job["with_99"]):
                    blocks.append((name, flt, target, best["ef"]))
    lat_q = data.queries[: job["latency_queries"]]
    rounds: list[dict[str, Any]] = []
    rng = random.Random(job.get("seed", 4))
    for rnd in range(job["rounds"]):
        order = list(blocks)
        rng.shuffle(order)
        out: dict[str, Any] = {}
        for name, flt, target, ef in order:
            s = sides[name]
            if ef is not None:
                await s.set_ef(ef)
            await run_queries(s, lat_q[: job["warmup"]], flt, False)  # warm up
            _, lat = await run_queries(s, lat_q, flt, True, job["block_budget"])
            arr = np.asarray(lat) * 1000
            out[f"{name}|{flt}|{target}"] = {
                "p50_ms": float(np.percentile(arr, 50)), "p99_ms": float(np.percentile(arr, 99)),
                "mean_ms": float(arr.mean()), "qps": float(len(arr) / arr.sum() * 1000),
                "queries": len(arr)}
        rounds.append(out)
        print(f"  latency round {rnd + 1}/{job['rounds']} done "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
    for s in sides.values():
        await s.close()
    del limits
    for r in rounds:
        for alias, key in aliases.items():
            if key in r:
                r[alias] = r[key]
    blocks += [(a.split("|")[0], a.split("|")[1], "0.99", chosen[a.split("|")[0]][
        a.split("|")[1]]["0.99"]["ef"]) for a in aliases]
    return {"ok": True, "dataset": job["dataset"], "open_s": opened, "sweeps": sweeps,
            "chosen": chosen, "rounds": rounds, "blocks": [list(b) for b in blocks],
            "aliases": aliases}


# -- encoding speed and ingestion -------------------------------------------------------------


async def encode(job: dict[str, Any]) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    from bench.rag_data import passages, sentences
    from plait.rag.embeddings import LocalEmbedder, default_model_path

    short = sentences(job["sentences"])
    paras = passages(job["passages"])
    embedder = LocalEmbedder(batch_size=32)
    await embedder.load()
    raw = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    import torch

    def raw_encode(texts: list[str]) -> None:
        raw.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                   show_progress_bar=False)

    async def plait_encode(texts: list[str]) -> None:
        await embedder.embed(texts)

    raw_encode(short[:64])
    await plait_encode(short[:64])
    rounds = []
    for _ in range(job["rounds"]):
        out = {}
        for name in random.sample(["plait", "raw"], 2):
            for kind, texts in (("sentences", short), ("passages", paras)):
                t0 = time.perf_counter()
                if name == "plait":
                    await plait_encode(texts)
                else:
                    raw_encode(texts)
                out[f"{name}|{kind}"] = len(texts) / (time.perf_counter() - t0)
        rounds.append(out)
        print("  encode round " + ", ".join(f"{k} {v:.0f}/s" for k, v in out.items()),
              flush=True)
    lengths = {"sentences": float(np.mean([len(t) for t in short])),
               "passages": float(np.mean([len(t) for t in paras]))}
    return {"ok": True, "rounds": rounds, "sentences": len(short), "passages": len(paras),
            "mean_chars": lengths, "torch_threads": torch.get_num_threads()}


class _Timed:
    """Wraps an object and adds the wall time of the named async methods to ``seconds``."""

    def __init__(self, inner: Any, methods: tuple[str, ...]) -> None:
        self._inner = inner
        self._methods = methods
        self.seconds = 0.0
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._methods:
            return attr

        async def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1

        return timed


async def ingest(job: dict[str, Any]) -> dict[str, Any]:
    import tempfile

    from bench.rag_data import write_corpus
    from bench.rag_sides import embedded_store
    from plait.rag.chunkers import RecursiveChunker
    from plait.rag.embeddings import LocalEmbedder
    from plait.rag.ingest import Ingestor
    from plait.rag.loaders import load
    from plait.rag.types import CollectionRef

    with tempfile.TemporaryDirectory(prefix="plait-rag-ingest-", dir=job.get("tmp")) as tmp:
        corpus = Path(tmp) / "corpus"
        files, size = write_corpus(corpus, job["megabytes"])
        chunker = RecursiveChunker(size=800, overlap=100)
        t0 = time.perf_counter()
        loaded = load([corpus])
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_chunks = sum(len(chunker.split(d)) for d in loaded.documents)
        chunk_s = time.perf_counter() - t0
        local = LocalEmbedder()
        await local.load()
        embedder = _Timed(local, ("embed",))
        store = embedded_store(Path(tmp) / "store")
        timed_store = _Timed(store, ("upsert", "delete", "doc_hashes", "create_collection",
                                     "get_collection"))
        ref = CollectionRef("bench", "ingest")
        ingestor = Ingestor(timed_store, embedder, chunker, ref)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        report = await ingestor.ingest(corpus)
        total = time.perf_counter() - t0
        first = {"total_s": total, "embed_s": embedder.seconds, "store_s": timed_store.seconds,
                 "chunks": report.chunks, "added": len(report.added),
                 "failed": len(report.failed)}
        first["rest_s"] = total - embedder.seconds - timed_store.seconds
        embedder.seconds = timed_store.seconds = 0.0
        t0 = time.perf_counter()
        again = await ingestor.ingest(corpus)
        second = {"total_s": time.perf_counter() - t0, "unchanged": len(again.unchanged),
                  "chunks": again.chunks}
        closing = time.perf_counter()
        await store.close()
        close_s = time.perf_counter() - closing
        disk = _disk(Path(tmp) / "store")
    return {"ok": True, "files": files, "bytes": size, "documents": len(loaded.documents),
            "chunks": n_chunks, "load_s": load_s, "chunk_s": chunk_s, "first": first,
            "unchanged_run": second, "close_s": close_s, "disk_bytes": disk}


KINDS = {"build": build, "reopen": reopen, "query": query, "encode": encode, "ingest": ingest}


def main() -> int:
    job = json.loads(sys.argv[1])
    try:
        outcome = asyncio.run(KINDS[job["kind"]](job))
    except Exception as exc:  # the parent records the failure and goes on
        traceback.print_exc()
        outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
    sys.stdout.write("\n" + MARKER + json.dumps(outcome) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
