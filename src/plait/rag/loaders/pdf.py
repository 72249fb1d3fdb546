"""PDF files (pypdf): one document per page that has text, id ``path#p3``, ``page`` 1-based."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from plait.errors import LoadError
from plait.rag.loaders.base import FileInfo, LoadFailure
from plait.rag.types import Document

__all__ = ["PdfLoader"]


@dataclass(frozen=True, slots=True)
class PdfLoader:
    """A PDF's text layer, page by page. Pages without text (scans, images) are left out;
    a PDF with no text at all yields nothing (the report lists it as skipped). ``password``
    opens encrypted files; without it only files with an empty user password open."""

    password: str | None = None
    type: str = "pdf"

    def load(self, file: FileInfo) -> Iterator[Document | LoadFailure]:
        try:
            from pypdf import PdfReader
        except ImportError:  # pragma: no cover - pypdf comes with the 'rag' extra
            raise LoadError("reading PDF needs pypdf: pip install 'plait[rag]'") from None
        reader = PdfReader(file.path)
        if reader.is_encrypted and not reader.decrypt(self.password or ""):
            raise LoadError("encrypted PDF: the password is missing or wrong")
        title: str | None = None
        try:
            meta = reader.metadata
            if meta is not None and meta.title:
                title = str(meta.title).strip() or None
        except Exception:  # a damaged info dictionary only costs the title
            title = None
        pages = reader.pages
        count = len(pages)
        for number in range(1, count + 1):
            try:
                text = pages[number - 1].extract_text() or ""
            except Exception as e:  # one bad page must not lose the others
                yield LoadFailure(f"{file.source}#p{number}",
                                  f"page {number}: {type(e).__name__}: {e}")
                continue
            text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
            if text.strip():
                yield file.document(text, type=self.type, suffix=f"p{number}", title=title,
                                    page=number, fields={"pages": count})
