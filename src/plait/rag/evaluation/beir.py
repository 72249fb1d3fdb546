"""Read a retrieval dataset in the BEIR layout::

    DIR/corpus.jsonl[.gz]       {"_id": ..., "title": ..., "text": ..., "metadata": {...}}
    DIR/queries.jsonl[.gz]      {"_id": ..., "text": ...}
    DIR/qrels/SPLIT.tsv[.gz]    query-id <TAB> corpus-id <TAB> score, after a header row

As BEIR's ``GenericDataLoader`` does, only the queries that appear in the split's qrels are kept,
and a qrels line naming an unknown query is dropped with it. Malformed lines raise
:class:`~plait.errors.DatasetError` naming the file and line.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from plait.errors import DatasetError

__all__ = ["BeirDataset", "BeirDoc", "load_beir"]


@dataclass(frozen=True, slots=True)
class BeirDoc:
    id: str
    title: str
    text: str

    @property
    def full_text(self) -> str:
        """``title + " " + text``, stripped: what BEIR's dense models encode."""
        return f"{self.title} {self.text}".strip()


@dataclass(frozen=True, slots=True)
class BeirDataset:
    name: str
    corpus: Mapping[str, BeirDoc]
    queries: Mapping[str, str]
    """Only the queries with qrels in the split."""
    qrels: Mapping[str, Mapping[str, int]]
    """``query id -> {doc id: relevance}``."""


def _find(base: Path, stem: str) -> Path:
    for candidate in (base / stem, base / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{base}: missing {stem} (or {stem}.gz)")


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    with _open(path) as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or "_id" not in row:
                raise DatasetError(f"{path}:{n}: expected an object with an '_id'")
            yield n, row


def _str(row: Mapping[str, object], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value)


def load_beir(path: str | Path, *, split: str = "test") -> BeirDataset:
    """The dataset in directory ``path``, with the qrels of ``split``."""
    base = Path(path)
    if not base.is_dir():
        raise DatasetError(f"{base}: not a directory")
    corpus: dict[str, BeirDoc] = {}
    for _, row in _jsonl(_find(base, "corpus.jsonl")):
        doc_id = _str(row, "_id")
        corpus[doc_id] = BeirDoc(doc_id, _str(row, "title"), _str(row, "text"))
    all_queries = {_str(row, "_id"): _str(row, "text")
                   for _, row in _jsonl(_find(base, "queries.jsonl"))}
    qrels_path = _find(base / "qrels", f"{split}.tsv")
    qrels: dict[str, dict[str, int]] = {}
    with _open(qrels_path) as fh:
        for n, line in enumerate(fh, start=1):
            parts = line.rstrip("\r\n").split("\t")
            if not line.strip():
                continue
            if len(parts) < 3:
                raise DatasetError(f"{qrels_path}:{n}: expected query-id, corpus-id, score")
            try:
                score = int(float(parts[2]))
            except ValueError:
                if n == 1:  # the header row
                    continue
                raise DatasetError(f"{qrels_path}:{n}: score {parts[2]!r} is not a number"
                                   ) from None
            if parts[0] in all_queries:
                qrels.setdefault(parts[0], {})[parts[1]] = score
    queries = {qid: text for qid, text in all_queries.items() if qid in qrels}
    return BeirDataset(base.name, corpus, queries, qrels)
