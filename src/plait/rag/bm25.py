"""Okapi BM25 full-text index: an English analyzer and an incremental in-memory index.

The setup matches the BM25 baseline that Anserini/Pyserini report on BEIR ("BM25 flat"):

- **Analyzer** (:class:`Analyzer`): Unicode word tokens (``\\w+``, keeping inner apostrophes),
  English possessive ``'s`` stripped, lowercased (``casefold``), Lucene's 33-word English stop
  set removed (:data:`ENGLISH_STOPWORDS`), Snowball English ("Porter2") stemming through
  PyStemmer. Lucene's ``EnglishAnalyzer`` uses the original Porter stemmer; the two agree on
  almost every word.
- **Scoring** (:class:`BM25Index`), Lucene's ``BM25Similarity``, which Anserini uses, with
  ``k1 = 0.9`` and ``b = 0.4`` by default::

      idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
      score(q, d) = sum over query terms t of
                    qtf(t) * idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))

  ``N`` counts live documents, ``|d|`` is the number of tokens left after analysis and
  ``avgdl`` their mean; a term repeated in the query counts ``qtf`` times. Lucene stores
  ``|d|`` in a lossy one-byte norm; this index keeps it exact, so scores differ from Lucene's
  in the third decimal. The classic ``(k1 + 1)`` factor is left out, as Lucene does: it
  scales every score alike and changes no ranking.

The index is incremental (add, replace and remove documents by id) and thread-safe; deletes
are tombstones until they exceed a quarter of the index, then it compacts. Postings live in
compact ``array`` buffers (about 8 bytes per posting: 100K passages take tens of MB) and a query
scores with NumPy over the postings of its terms only. :meth:`BM25Index.save` writes one
``.npz`` file (no pickle) and :meth:`BM25Index.load` reads it back.
"""

from __future__ import annotations

import json
import os
import re
import threading
from array import array
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from plait.errors import UsageError

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["ENGLISH_STOPWORDS", "Analyzer", "BM25Index"]

ENGLISH_STOPWORDS: frozenset[str] = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
    "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
    "these", "they", "this", "to", "was", "will", "with",
))
"""Lucene's default English stop set (``EnglishAnalyzer.ENGLISH_STOP_WORDS_SET``)."""

_TOKEN = re.compile(r"\w+(?:['\u2019]\w+)*")
_FORMAT = 1


class Analyzer:
    """Text -> index terms: tokenize, strip possessives, lowercase, drop stopwords, stem.

    ``stemmer`` is a Snowball algorithm name (``"english"``, ``"porter"``) or None to keep
    words whole; ``stopwords`` replaces the English stop set (pass ``()`` to keep every word).
    """

    __slots__ = ("_cache", "_stem", "stemmer", "stopwords")

    _CACHE_SIZE = 500_000

    def __init__(self, *, stemmer: str | None = "english",
                 stopwords: Iterable[str] | None = None) -> None:
        self.stemmer = stemmer
        self.stopwords = (ENGLISH_STOPWORDS if stopwords is None
                          else frozenset(w.casefold() for w in stopwords))
        self._cache: dict[str, str] = {}
        if stemmer is None:
            self._stem = None
        else:
            try:
                import Stemmer  # PyStemmer, in the rag extra
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise UsageError(
                    "BM25 stemming needs PyStemmer: pip install 'plait[rag]' "
                    "(or Analyzer(stemmer=None))") from exc
            try:
                self._stem = Stemmer.Stemmer(stemmer)
            except KeyError as exc:
                raise UsageError(f"unknown Snowball stemmer {stemmer!r}; known: "
                                 f"{', '.join(Stemmer.algorithms())}") from exc

    def __call__(self, text: str) -> list[str]:
        tokens = _TOKEN.findall(text.casefold())
        if "'" in text or "\u2019" in text:
            tokens = [w[:-2] if w.endswith(("'s", "\u2019s")) else w for w in tokens]
        stop = self.stopwords
        words = [w for w in tokens if w and w not in stop]
        if self._stem is None:
            return words
        # A dict in front of the stemmer: a hit costs a few times less than PyStemmer's call.
        get = self._cache.get
        return [get(w) or self._stem_miss(w) for w in words]

    def _stem_miss(self, word: str) -> str:
        if len(self._cache) >= self._CACHE_SIZE:
            self._cache.clear()
        stem: str = self._stem.stemWord(word)  # type: ignore[union-attr]
        self._cache[word] = stem
        return stem

    def config(self) -> dict[str, object]:
        """The settings, as JSON data (persisted with an index)."""
        return {"stemmer": self.stemmer, "stopwords": sorted(self.stopwords)}


class BM25Index:
    """An incremental BM25 index keyed by string ids. See the module docstring for the formula.

    ``add`` replaces a document with the same id; ``remove`` drops ids; ``search`` returns
    ``(id, score)`` best first, optionally restricted to ``allowed`` ids (for metadata filters).
    Safe to use from several threads.
    """

    def __init__(self, *, k1: float = 0.9, b: float = 0.4,
                 analyzer: Analyzer | None = None, compact_ratio: float = 0.25) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise UsageError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1 = float(k1)
        self.b = float(b)
        self.analyzer = analyzer or Analyzer()
        self.compact_ratio = compact_ratio
        self._lock = threading.RLock()
        self._clear()

    def _clear(self) -> None:
        self._ids: list[str | None] = []          # label -> id (None once removed)
        self._alive = bytearray()                 # label -> 1 while live
        self._label: dict[str, int] = {}          # id -> label
        self._doc_len = array("i")                # label -> tokens after analysis
        # label -> its term ids (to keep df right on removal): one flat array and offsets
        self._doc_terms = array("i")
        self._doc_start = array("q", [0])
        self._vocab: dict[str, int] = {}          # term -> term id
        self._df = array("i")                     # term id -> live documents holding it
        self._post_docs: list[array[int]] = []    # term id -> labels
        self._post_tfs: list[array[int]] = []     # term id -> term frequency per label
        self._total_len = 0
        self._dead = 0

    # -- size -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._label)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._label

    def ids(self) -> Iterator[str]:
        """Live ids, in insertion order."""
        with self._lock:
            live = [i for i in self._ids if i is not None]
        return iter(live)

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocab)

    # -- writes -----------------------------------------------------------------------------

    def add(self, doc_id: str, text: str) -> None:
        """Index ``text`` under ``doc_id``, replacing any earlier text with that id."""
        self.add_many([(doc_id, text)])

    def add_many(self, docs: Iterable[tuple[str, str]]) -> None:
        """Index many ``(id, text)`` pairs; later pairs win when an id repeats."""
        latest = dict(docs)
        analyzed = [(doc_id, Counter(self.analyzer(text))) for doc_id, text in latest.items()]
        with self._lock:
            for doc_id, _ in analyzed:
                self._remove_one(doc_id)
            self._append(analyzed)
            self._maybe_compact()

    def _new_term(self, term: str) -> int:
        tid = self._vocab[term] = len(self._df)
        self._df.append(0)
        self._post_docs.append(array("i"))
        self._post_tfs.append(array("i"))
        return tid

    def _append(self, analyzed: list[tuple[str, Counter[str]]]) -> None:
        """Add documents known to be absent: per-document work in Python, postings grouped by
        term with NumPy (one ``frombytes`` per term instead of one append per posting)."""
        if not analyzed:
            return
        vocab, new_term = self._vocab, self._new_term
        flat_tids, flat_tfs, n_terms = array("i"), array("i"), array("i")
        first = len(self._ids)
        for doc_id, counts in analyzed:
            self._label[doc_id] = len(self._ids)
            self._ids.append(doc_id)
            length = sum(counts.values())
            self._doc_len.append(length)
            self._total_len += length
            tids = array("i", [vocab[t] if t in vocab else new_term(t) for t in counts])
            self._doc_terms.extend(tids)
            self._doc_start.append(len(self._doc_terms))
            flat_tids.extend(tids)
            flat_tfs.extend(counts.values())
            n_terms.append(len(tids))
        self._alive.extend(b"\x01" * len(analyzed))
        if not flat_tids:  # only empty (or stopword-only) texts
            return
        tid_arr = np.array(flat_tids, dtype=np.int32)
        labels = np.repeat(np.arange(first, len(self._ids), dtype=np.int32),
                           np.array(n_terms, dtype=np.int64))
        order = np.argsort(tid_arr, kind="stable")
        tid_arr, labels = tid_arr[order], labels[order]
        tfs = np.array(flat_tfs, dtype=np.int32)[order]
        uniq, starts = np.unique(tid_arr, return_index=True)
        ends = np.append(starts[1:], len(tid_arr))
        for tid, s, e in zip(uniq.tolist(), starts.tolist(), ends.tolist(), strict=True):
            self._post_docs[tid].frombytes(labels[s:e].tobytes())
            self._post_tfs[tid].frombytes(tfs[s:e].tobytes())
            self._df[tid] += e - s

    def remove(self, doc_id: str) -> bool:
        """Drop one id; False when it was not indexed."""
        return self.remove_many([doc_id]) == 1

    def remove_many(self, ids: Iterable[str]) -> int:
        """Drop ids; returns how many were indexed."""
        with self._lock:
            n = sum(self._remove_one(doc_id) for doc_id in ids)
            self._maybe_compact()
            return n

    def _maybe_compact(self) -> None:
        if self._dead > max(64, self.compact_ratio * len(self._ids)):
            self.compact()

    def _remove_one(self, doc_id: str) -> bool:
        label = self._label.pop(doc_id, None)
        if label is None:
            return False
        self._ids[label] = None
        self._alive[label] = 0
        self._total_len -= self._doc_len[label]
        df = self._df
        for tid in self._doc_terms[self._doc_start[label]:self._doc_start[label + 1]]:
            df[tid] -= 1
        self._dead += 1
        return True

    def clear(self) -> None:
        with self._lock:
            self._clear()

    def compact(self) -> None:
        """Drop the postings of removed documents and renumber (runs by itself as needed)."""
        with self._lock:
            if not self._dead:
                return
            old_ids = self._ids
            remap = np.full(len(old_ids), -1, dtype=np.int32)
            keep = [i for i, doc_id in enumerate(old_ids) if doc_id is not None]
            remap[keep] = np.arange(len(keep), dtype=np.int32)
            doc_len = np.frombuffer(self._doc_len, dtype=np.int32)[keep]
            vocab_terms = list(self._vocab)
            docs: list[npt.NDArray[np.int32]] = []
            tfs: list[npt.NDArray[np.int32]] = []
            for tid in range(len(vocab_terms)):
                labels = remap[np.frombuffer(self._post_docs[tid], dtype=np.int32)]
                alive = labels >= 0
                docs.append(labels[alive])
                tfs.append(np.frombuffer(self._post_tfs[tid], dtype=np.int32)[alive])
            self._rebuild([old_ids[i] for i in keep], doc_len,  # type: ignore[misc]
                          vocab_terms, docs, tfs)

    def _rebuild(self, ids: list[str], doc_len: npt.NDArray[np.int32], terms: list[str],
                 docs: list[npt.NDArray[np.int32]], tfs: list[npt.NDArray[np.int32]]) -> None:
        """Replace the state with compact postings (terms without live postings dropped)."""
        self._clear()
        self._ids = list(ids)
        self._alive = bytearray(b"\x01" * len(ids))
        self._label = {doc_id: i for i, doc_id in enumerate(ids)}
        self._doc_len = array("i", doc_len.astype(np.int32).tobytes())
        self._total_len = int(doc_len.sum())
        tids: list[npt.NDArray[np.int32]] = []
        for term, d, t in zip(terms, docs, tfs, strict=True):
            if not len(d):
                continue
            tid = self._vocab[term] = len(self._df)
            self._df.append(len(d))
            self._post_docs.append(array("i", d.astype(np.int32).tobytes()))
            self._post_tfs.append(array("i", t.astype(np.int32).tobytes()))
            tids.append(np.full(len(d), tid, dtype=np.int32))
        # Each document's term ids (to keep df right on removal), grouped by label.
        if tids:
            all_docs = np.concatenate([d for d in docs if len(d)])
            order = np.argsort(all_docs, kind="stable")
            by_doc = np.concatenate(tids)[order]
            ends = np.cumsum(np.bincount(all_docs, minlength=len(ids)))
            self._doc_terms = array("i", by_doc.astype(np.int32).tobytes())
            self._doc_start = array("q", [0])
            self._doc_start.extend(ends.tolist())
        else:
            self._doc_start = array("q", [0] * (len(ids) + 1))

    # -- reads ------------------------------------------------------------------------------

    def search(self, query: str, k: int = 10, *,
               allowed: Collection[str] | None = None) -> list[tuple[str, float]]:
        """The ``k`` best ``(id, score)`` pairs for ``query``, best first (ties: oldest first).

        Documents sharing no term with the query are never returned. ``allowed`` restricts the
        result to those ids (ids not in the index are ignored); it is asked ``in`` for each
        matching document or iterated, whichever is shorter, so pass a set or a set-like view."""
        if k <= 0:
            return []
        qterms = Counter(self.analyzer(query))
        with self._lock:
            n_live = len(self._label)
            if not n_live or not qterms:
                return []
            n_labels = len(self._ids)
            doc_len = np.frombuffer(self._doc_len, dtype=np.int32).astype(np.float32)
            avgdl = max(self._total_len / n_live, 1e-9)
            norm = self.k1 * ((1.0 - self.b) + self.b * doc_len / avgdl)
            scores = np.zeros(n_labels, dtype=np.float32)
            for term, qtf in qterms.items():
                tid = self._vocab.get(term)
                if tid is None or self._df[tid] == 0:
                    continue
                df = self._df[tid]
                idf = np.log1p((n_live - df + 0.5) / (df + 0.5))
                # Copies, never views: a live view would stop another thread's append.
                labels = np.array(self._post_docs[tid], dtype=np.int32)
                tf = np.array(self._post_tfs[tid], dtype=np.float32)
                scores[labels] += (qtf * idf) * tf / (tf + norm[labels])
            if self._dead:
                scores *= np.frombuffer(self._alive, dtype=np.uint8)
            cand = np.flatnonzero(scores > 0)
            if allowed is not None:
                ids = self._ids
                if len(cand) <= len(allowed):  # check the few matching documents
                    keep = [c for c in cand.tolist() if ids[c] in allowed]
                    cand = np.array(keep, dtype=np.intp)
                else:  # or map the few allowed ids
                    get = self._label.get
                    picked = [lab for lab in (get(i) for i in allowed) if lab is not None]
                    mask = np.zeros(n_labels, dtype=bool)
                    mask[picked] = True
                    cand = cand[mask[cand]]
            if len(cand) > k:
                part = np.argpartition(-scores[cand], k - 1)[:k]
                cand = cand[part]
            order = np.lexsort((cand, -scores[cand]))
            ids = self._ids
            return [(ids[c], float(scores[c])) for c in cand[order]]

    # -- persistence ------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to one ``.npz`` file, atomically (temp file, then rename)."""
        with self._lock:
            self.compact()
            terms = list(self._vocab)
            lens = np.array([len(p) for p in self._post_docs], dtype=np.int64)
            indptr = np.zeros(len(terms) + 1, dtype=np.int64)
            np.cumsum(lens, out=indptr[1:])
            docs = (np.concatenate([np.frombuffer(p, dtype=np.int32) for p in self._post_docs])
                    if terms else np.zeros(0, dtype=np.int32))
            tfs = (np.concatenate([np.frombuffer(p, dtype=np.int32) for p in self._post_tfs])
                   if terms else np.zeros(0, dtype=np.int32))
            meta = {"format": _FORMAT, "k1": self.k1, "b": self.b,
                    "analyzer": self.analyzer.config()}
            arrays = {
                "meta": np.array(json.dumps(meta)),
                "ids": np.array(self._ids, dtype=str),
                "doc_len": np.frombuffer(self._doc_len, dtype=np.int32).copy(),
                "terms": np.array(terms, dtype=str),
                "indptr": indptr,
                "docs": docs,
                "tfs": tfs,
            }
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BM25Index:
        """Read an index written by :meth:`save` (with its k1, b and analyzer settings)."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != _FORMAT:
                raise UsageError(f"{path}: unknown BM25 index format {meta.get('format')!r}")
            conf = meta["analyzer"]
            index = cls(k1=meta["k1"], b=meta["b"],
                        analyzer=Analyzer(stemmer=conf["stemmer"], stopwords=conf["stopwords"]))
            indptr = data["indptr"]
            docs, tfs = data["docs"], data["tfs"]
            n = len(indptr) - 1
            index._rebuild(
                [str(i) for i in data["ids"]], data["doc_len"], [str(t) for t in data["terms"]],
                [docs[indptr[i]:indptr[i + 1]] for i in range(n)],
                [tfs[indptr[i]:indptr[i + 1]] for i in range(n)])
        return index
