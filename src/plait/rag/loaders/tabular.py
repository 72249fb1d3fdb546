"""CSV, JSON and JSON Lines files.

CSV: one document per file (each row a line ``column: value; column: value``), or, with
``text_column``, one document per row (the other columns become metadata). JSON and JSON Lines:
one document per record; ``text_field`` names the text, the record's other scalar fields become
metadata.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from plait.errors import LoadError
from plait.rag.loaders.base import FileInfo, LoadFailure, read_text
from plait.rag.types import Document, MetaValue

__all__ = ["CsvLoader", "JsonLoader", "JsonlLoader"]


def _scalar_fields(record: Mapping[str, object], *, skip: str | None) -> dict[str, MetaValue]:
    return {k: v for k, v in record.items()
            if k != skip and (v is None or isinstance(v, str | int | float | bool))}


class _Ids:
    """Document id suffixes of one file: the record's own id when the loader has an id field,
    else ``r{n}``; a repeated id is a failure of that record."""

    def __init__(self, file: FileInfo) -> None:
        self.file = file
        self.seen: set[str] = set()

    def suffix(self, own: object, n: int) -> str | LoadFailure:
        suffix = f"r{n}" if own is None or own == "" else str(own)
        if suffix in self.seen:
            return LoadFailure(f"{self.file.source}#{suffix}",
                               f"record {n}: duplicate id {suffix!r}")
        self.seen.add(suffix)
        return suffix


@dataclass(frozen=True, slots=True)
class CsvLoader:
    """A CSV file. ``delimiter`` None sniffs it (``,`` ``;`` tab ``|``). Values stay strings."""

    text_column: str | None = None
    """One document per row with this column as its text; None: one document per file."""
    id_column: str | None = None
    """With ``text_column``: the column whose value makes the row's id (``path#<value>``);
    None: ``path#r<row>`` (data rows count from 1)."""
    delimiter: str | None = None
    encoding: str | None = None
    type: str = "csv"

    def _reader(self, text: str) -> csv.DictReader[str]:
        delimiter = self.delimiter
        if delimiter is None:
            try:
                delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
            except csv.Error:
                delimiter = ","
        return csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)

    def load(self, file: FileInfo) -> Iterator[Document | LoadFailure]:
        reader = self._reader(read_text(file.path, encoding=self.encoding))
        columns = [c for c in reader.fieldnames or [] if c]
        if self.text_column is None:
            lines = []
            for row in reader:
                pairs = [f"{k.strip()}: {v.strip()}" for k, v in row.items()
                         if k and isinstance(v, str) and v.strip()]
                if pairs:
                    lines.append("; ".join(pairs))
            yield file.document("\n".join(lines), type=self.type,
                                fields={"columns": ", ".join(columns)})
            return
        for name in (self.text_column, self.id_column):
            if name is not None and name not in columns:
                raise LoadError(f"no column {name!r} (columns: {', '.join(columns)})")
        ids = _Ids(file)
        for n, row in enumerate(reader, start=1):
            text = (row.get(self.text_column) or "").strip()
            if not text:
                continue
            suffix = ids.suffix(row.get(self.id_column) if self.id_column else None, n)
            if isinstance(suffix, LoadFailure):
                yield suffix
                continue
            fields: dict[str, MetaValue] = {k: v for k, v in row.items()
                      if k and k != self.text_column and isinstance(v, str)}
            fields["row"] = n
            yield file.document(text, type=self.type, suffix=suffix, fields=fields)


def _render(value: object) -> str:
    """A record without a text field, as ``key: value`` lines (nested values as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return "\n".join(f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
                         for k, v in value.items())
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class _Records:
    text_field: str | None
    id_field: str | None
    type: str

    def document(self, file: FileInfo, ids: _Ids, record: object, n: int,
                 single: bool = False) -> Document | LoadFailure | None:
        where = f"{file.source}#r{n}"
        fields: dict[str, MetaValue] = {}
        own: object = None
        if isinstance(record, Mapping):
            field = self.text_field
            if field is None and isinstance(record.get("text"), str):
                field = "text"
            if field is None:
                text = _render(record)
            else:
                value = record.get(field)
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    value = "\n".join(value)
                if not isinstance(value, str):
                    return LoadFailure(where, f"record {n}: no text field {field!r}")
                text = value
            fields = _scalar_fields(record, skip=field)
            own = record.get(self.id_field) if self.id_field else None
        elif self.text_field is not None:
            return LoadFailure(where, f"record {n}: expected an object with {self.text_field!r}")
        else:
            text = _render(record)
        if not text.strip():
            return None
        if single:
            return file.document(text, type=self.type, fields=fields)
        suffix = ids.suffix(own, n)
        if isinstance(suffix, LoadFailure):
            return suffix
        return file.document(text, type=self.type, suffix=suffix, fields=fields)

    def all(self, file: FileInfo, items: Iterable[tuple[int, object]],
            single: bool = False) -> Iterator[Document | LoadFailure]:
        ids = _Ids(file)
        for n, record in items:
            doc = self.document(file, ids, record, n, single)
            if doc is not None:
                yield doc


@dataclass(frozen=True, slots=True)
class JsonLoader:
    """A JSON file: an array gives one document per element (``path#r<n>``, from 1), anything
    else one document. ``text_field`` None takes ``"text"`` when the record has it, else the
    whole record as ``key: value`` lines; ``id_field`` makes ids ``path#<value>``."""

    text_field: str | None = None
    id_field: str | None = None
    encoding: str | None = None
    type: str = "json"

    def load(self, file: FileInfo) -> Iterator[Document | LoadFailure]:
        try:
            data = json.loads(read_text(file.path, encoding=self.encoding))
        except json.JSONDecodeError as e:
            raise LoadError(f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
        records = _Records(self.text_field, self.id_field, self.type)
        if isinstance(data, list):
            yield from records.all(file, enumerate(data, start=1))
        else:
            yield from records.all(file, [(1, data)], single=True)


@dataclass(frozen=True, slots=True)
class JsonlLoader:
    """A JSON Lines file: one document per non-blank line (``path#r<line>``); a bad line is a
    failure of that line only. Options as for :class:`JsonLoader`."""

    text_field: str | None = None
    id_field: str | None = None
    encoding: str | None = None
    type: str = "jsonl"

    def load(self, file: FileInfo) -> Iterator[Document | LoadFailure]:
        records = _Records(self.text_field, self.id_field, self.type)
        ids = _Ids(file)
        for n, line in enumerate(read_text(file.path, encoding=self.encoding).split("\n"),
                                 start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                yield LoadFailure(f"{file.source}#r{n}", f"line {n}: invalid JSON: {e.msg}")
                continue
            doc = records.document(file, ids, record, n)
            if doc is not None:
                yield doc
