"""Document loaders: files and directories in, :class:`~plait.rag.types.Document` s out.

>>> report = load(["docs/", "notes.pdf"], exclude=["drafts/**"])  # doctest: +SKIP
>>> report.documents, report.failures, report.skipped             # doctest: +SKIP

Loading is synchronous file I/O; async callers run it in a worker thread. A bad file never
stops the batch: it becomes a :class:`LoadFailure` (source and reason) in the report.
"""

from plait.rag.loaders.base import FileInfo, Loader, LoadFailure, LoadReport, decode_text, read_text
from plait.rag.loaders.directory import (
    LOADER_TYPES,
    compile_glob,
    default_loaders,
    load,
    loaders_from_config,
)
from plait.rag.loaders.pdf import PdfLoader
from plait.rag.loaders.tabular import CsvLoader, JsonlLoader, JsonLoader
from plait.rag.loaders.text import HtmlLoader, MarkdownLoader, TextLoader, html_to_text
from plait.rag.loaders.word import DocxLoader

__all__ = [
    "LOADER_TYPES",
    "CsvLoader",
    "DocxLoader",
    "FileInfo",
    "HtmlLoader",
    "JsonLoader",
    "JsonlLoader",
    "LoadFailure",
    "LoadReport",
    "Loader",
    "MarkdownLoader",
    "PdfLoader",
    "TextLoader",
    "compile_glob",
    "decode_text",
    "default_loaders",
    "html_to_text",
    "load",
    "loaders_from_config",
    "read_text",
]
