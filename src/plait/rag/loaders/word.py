"""Word files (python-docx): paragraphs and tables, in document order, one document per file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plait.errors import LoadError
from plait.rag.loaders.base import FileInfo, LoadFailure
from plait.rag.types import Document

if TYPE_CHECKING:
    from docx.table import Table

__all__ = ["DocxLoader"]


def _table_text(table: Table) -> str:
    """One line per row, cells joined by `` | `` (a merged cell counted once)."""
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class DocxLoader:
    """A ``.docx`` file's paragraphs (one per line, blank line between paragraphs) and tables
    (one line per row). The title is the document property, else the first ``Title`` or
    ``Heading 1`` paragraph."""

    type: str = "docx"

    def load(self, file: FileInfo) -> Iterator[Document | LoadFailure]:
        try:
            import docx
            from docx.table import Table
        except ImportError:  # pragma: no cover - python-docx comes with the 'rag' extra
            raise LoadError("reading DOCX needs python-docx: pip install 'plait[rag]'") from None
        document = docx.Document(str(file.path))
        blocks: list[str] = []
        heading: str | None = None
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                text = _table_text(item)
            else:
                text = item.text.strip()
                style = item.style.name if item.style is not None else ""
                if heading is None and text and style in ("Title", "Heading 1"):
                    heading = text
            if text:
                blocks.append(text)
        title = (document.core_properties.title or "").strip() or heading
        yield file.document("\n\n".join(blocks), type=self.type, title=title)
