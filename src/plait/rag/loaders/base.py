"""What every loader shares: the ``Loader`` protocol, the per-file context, the report, and
reading bytes as text.

A loader turns one file into documents. It raises :class:`~plait.errors.LoadError` (or lets a
parser's exception through) when the whole file cannot be read; the caller records that as one
failure and goes on with the next file. A loader that reads many records from one file yields
a :class:`LoadFailure` for a bad record and goes on with the others.
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from plait.errors import LoadError
from plait.rag.types import Document, MetaValue

__all__ = ["FileInfo", "LoadFailure", "LoadReport", "Loader", "decode_text", "read_text"]


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """A file (or one record of it) that could not be loaded, and why."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What a :func:`~plait.rag.loaders.load` call produced.

    ``documents`` in a stable order (paths sorted within each directory); ``failures`` for
    files or records that could not be read; ``skipped`` for files that held no text (empty
    files, PDFs without a text layer), which are not errors."""

    documents: list[Document] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)
    skipped: list[LoadFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def check(self) -> LoadReport:
        """Raise one :class:`~plait.errors.LoadError` listing every failure; else ``self``."""
        if not self.failures:
            return self
        if len(self.failures) == 1:
            only = self.failures[0]
            raise LoadError(only.message, source=only.source)
        lines = "\n".join(f"  - {f}" for f in self.failures)
        raise LoadError(f"{len(self.failures)} files or records failed to load:\n{lines}")


@dataclass(frozen=True, slots=True)
class FileInfo:
    """The file a loader reads: its ``path`` on disk, its ``source`` (the stable name that
    becomes the document id and ``metadata["source"]``) and its mtime."""

    path: Path
    source: str
    modified: float

    def document(self, text: str, *, type: str, suffix: str = "", title: str | None = None,
                 page: int | None = None,
                 fields: Mapping[str, MetaValue] | None = None) -> Document:
        """A document of this file: id ``source`` (plus ``#suffix``), metadata ``fields`` then
        ``source``, ``type``, ``modified``, ``title`` (the file name when unknown), ``page``."""
        metadata: dict[str, MetaValue] = dict(fields or {})
        metadata.update(source=self.source, type=type, modified=self.modified)
        given = metadata.get("title")
        metadata["title"] = title or (given if isinstance(given, str) and given else
                                      self.path.name)
        if page is not None:
            metadata["page"] = page
        doc_id = f"{self.source}#{suffix}" if suffix else self.source
        return Document(id=doc_id, text=text, metadata=metadata)


@runtime_checkable
class Loader(Protocol):
    """Reads one kind of file. ``type`` is the value of ``metadata["type"]`` (``"pdf"``)."""

    @property
    def type(self) -> str: ...

    def load(self, file: FileInfo) -> Iterable[Document | LoadFailure]:
        """The file's documents; raise :class:`~plait.errors.LoadError` when it is unusable."""
        ...


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v\x1b")


def _looks_binary(text: str) -> bool:
    """NUL characters, or more than 2 % control characters, in the first 8K characters."""
    sample = text[:8192]
    if "\x00" in sample:
        return True
    controls = sum(1 for c in sample
                   if c not in _ALLOWED_CONTROLS and unicodedata.category(c) == "Cc")
    return controls * 50 > len(sample)


def decode_text(data: bytes, *, encoding: str | None = None) -> str:
    """Bytes as text: ``encoding`` when given, else a BOM, else UTF-8, else Windows-1252.
    Raises :class:`LoadError` for binary content. Newlines become ``\\n``."""
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as e:
            raise LoadError(f"cannot decode as {encoding}: {e}") from None
    else:
        for bom, name in _BOMS:
            if data.startswith(bom):
                try:
                    text = data.decode(name)
                except UnicodeDecodeError as e:
                    raise LoadError(f"invalid {name} text: {e}") from None
                break
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("cp1252", errors="replace")
    if _looks_binary(text):
        raise LoadError("not a text file (binary content)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(path: Path, *, encoding: str | None = None) -> str:
    """The file's text (see :func:`decode_text`)."""
    return decode_text(path.read_bytes(), encoding=encoding)
