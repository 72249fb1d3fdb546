"""Loading many files at once: paths and directories, include/exclude globs, one report.

Directories are walked recursively, files taken in the order of their relative paths, hidden
files and directories (names starting with ``.``) left out unless ``hidden=True``. Globs match
a file's path relative to the directory given (``/``-separated): ``*`` and ``?`` stay within
one path segment, ``**`` spans segments, ``{md,txt}`` is either, and a pattern without ``/``
matches the file name at any depth (``*.md``). Files named directly are always loaded: the
globs only filter what a walk finds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath

from plait.errors import LoadError, UsageError
from plait.rag.loaders.base import FileInfo, Loader, LoadFailure, LoadReport
from plait.rag.loaders.pdf import PdfLoader
from plait.rag.loaders.tabular import CsvLoader, JsonlLoader, JsonLoader
from plait.rag.loaders.text import HtmlLoader, MarkdownLoader, TextLoader
from plait.rag.loaders.word import DocxLoader
from plait.rag.types import Document

__all__ = ["LOADER_TYPES", "compile_glob", "default_loaders", "load", "loaders_from_config"]

StrPath = str | os.PathLike[str]

LOADER_TYPES: Mapping[str, tuple[type[Loader], tuple[str, ...]]] = {
    "text": (TextLoader, (".txt", ".text", ".rst")),
    "markdown": (MarkdownLoader, (".md", ".markdown")),
    "html": (HtmlLoader, (".html", ".htm", ".xhtml")),
    "pdf": (PdfLoader, (".pdf",)),
    "docx": (DocxLoader, (".docx",)),
    "csv": (CsvLoader, (".csv", ".tsv")),
    "json": (JsonLoader, (".json",)),
    "jsonl": (JsonlLoader, (".jsonl", ".ndjson")),
}
"""Loader type name -> (class, file extensions it reads by default)."""


def default_loaders() -> dict[str, Loader]:
    """File extension (``.md``, lower case) -> loader, with every loader's default options."""
    loaders: dict[str, Loader] = {}
    for cls, extensions in LOADER_TYPES.values():
        for ext in extensions:
            loaders[ext] = CsvLoader(delimiter="\t") if ext == ".tsv" else cls()
    return loaders


def loaders_from_config(config: Mapping[str, Mapping[str, object]]) -> dict[str, Loader]:
    """The default loaders with some options changed, from plain data (specs, the CLI)::

        {"csv": {"text_column": "body"}, "jsonl": {"text_field": "text", "id_field": "_id"}}

    Keys are loader types (:data:`LOADER_TYPES`); every problem is reported in one
    ``UsageError``."""
    loaders = default_loaders()
    problems: list[str] = []
    for name, options in config.items():
        if name not in LOADER_TYPES:
            problems.append(f"loaders.{name}: unknown loader type; known: "
                            f"{', '.join(LOADER_TYPES)}")
            continue
        if not isinstance(options, Mapping):
            problems.append(f"loaders.{name}: expected an object of options")
            continue
        cls, extensions = LOADER_TYPES[name]
        known = [f for f in cls.__dataclass_fields__ if f != "type"]  # type: ignore[attr-defined]
        bad = [k for k in options if k not in known]
        if bad:
            problems.append(f"loaders.{name}: unknown option(s) {', '.join(map(repr, bad))}; "
                            f"known: {', '.join(known)}")
            continue
        wrong = [k for k, v in options.items() if v is not None and not isinstance(v, str)]
        if wrong:
            problems.append(f"loaders.{name}: option(s) {', '.join(map(repr, wrong))} "
                            "must be strings")
            continue
        for ext in extensions:
            base = {"delimiter": "\t"} if ext == ".tsv" else {}
            loaders[ext] = cls(**{**base, **options})
    if problems:
        raise UsageError("; ".join(problems))
    return loaders


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regular expression matching the ``/``-separated paths that ``pattern`` matches."""
    if not pattern or pattern.startswith("/"):
        raise UsageError(f"glob {pattern!r}: expected a relative pattern like '*.md'")
    if "/" not in pattern:
        pattern = "**/" + pattern
    out: list[str] = []
    i, n, braces = 0, len(pattern), 0
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        elif c == "{":
            braces += 1
            out.append("(?:")
        elif c == "}" and braces:
            braces -= 1
            out.append(")")
        elif c == "," and braces:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    if braces:
        raise UsageError(f"glob {pattern!r}: unclosed '{{'")
    return re.compile("".join(out) + r"\Z")


def _source(given: str) -> str:
    """The stable name of a file named directly: its path as given, normalised, ``/``-separated."""
    return PurePosixPath(os.path.normpath(given).replace(os.sep, "/")).as_posix()


def _walk(root: Path, include: Sequence[re.Pattern[str]] | None,
          exclude: Sequence[re.Pattern[str]], hidden: bool,
          extensions: Container[str]) -> Iterator[tuple[Path, str]]:
    """(path, path relative to ``root``) of every file to load under ``root``.
    ``include`` None: the files whose extension (any case) is in ``extensions``."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(
            d for d in dirnames
            if (hidden or not d.startswith("."))
            and not any(p.match(prefix + d) or p.match(prefix + d + "/") for p in exclude))
        for name in sorted(filenames):
            if not hidden and name.startswith("."):
                continue
            rel = prefix + name
            wanted = (Path(name).suffix.lower() in extensions if include is None
                      else any(p.match(rel) for p in include))
            if wanted and not any(p.match(rel) for p in exclude):
                yield here / name, rel


_NO_TEXT = {"pdf": "no text layer (scanned pages would need OCR)"}


def _load_one(path: Path, source: str, loaders: Mapping[str, Loader],
              report: LoadReport) -> None:
    loader = loaders.get(path.suffix.lower())
    if loader is None:
        kind = f"'{path.suffix}'" if path.suffix else "without an extension"
        report.failures.append(LoadFailure(
            source, f"unsupported file type {kind}; supported: {', '.join(sorted(loaders))}"))
        return
    try:
        info = FileInfo(path=path, source=source, modified=path.stat().st_mtime)
        items: list[Document | LoadFailure] = list(loader.load(info))
    except LoadError as e:
        report.failures.append(LoadFailure(source, e.reason))
        return
    except OSError as e:
        report.failures.append(LoadFailure(source, e.strerror or str(e)))
        return
    except Exception as e:  # a parser choking on a damaged file: report it, go on
        what = str(e) or "(no message)"
        report.failures.append(LoadFailure(
            source, f"cannot read this {loader.type} file: {type(e).__name__}: {what}"))
        return
    documents = [d for d in items if isinstance(d, Document) and d.text.strip()]
    failures = [d for d in items if isinstance(d, LoadFailure)]
    report.documents.extend(documents)
    report.failures.extend(failures)
    if not documents and not failures:
        report.skipped.append(LoadFailure(source, _NO_TEXT.get(loader.type, "no text")))


def load(paths: StrPath | Iterable[StrPath], *, include: Sequence[str] | None = None,
         exclude: Sequence[str] = (), hidden: bool = False,
         loaders: Mapping[str, Loader] | None = None) -> LoadReport:
    """Load files and directories into documents; never raises for a bad file.

    A directory is walked recursively; ``include`` globs pick files (default: every extension
    that ``loaders`` read), ``exclude`` globs drop files and prune directories. A directory's
    files get sources relative to it (``guide/intro.md``); a file named directly keeps its path
    as given. ``loaders`` maps extensions to loaders (default :func:`default_loaders`).
    Unreadable, corrupt or unsupported files become ``failures``; empty ones ``skipped``.
    Call ``report.check()`` to raise for failures instead."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if isinstance(include, str):
        include = [include]
    if isinstance(exclude, str):
        exclude = [exclude]
    table = {k.lower(): v for k, v in (loaders or default_loaders()).items()}
    if any(not ext.startswith(".") for ext in table):
        raise UsageError("loaders: keys are file extensions starting with '.', like '.md'")
    inc = [compile_glob(p) for p in include] if include is not None else None
    exc = [compile_glob(p) for p in exclude]
    report = LoadReport()
    seen: set[Path] = set()

    def once(file: Path) -> bool:
        key = file.resolve()
        if key in seen:
            return False
        seen.add(key)
        return True

    for given in paths:
        text = os.fspath(given)
        path = Path(text)
        if path.is_dir():
            for file, rel in sorted(_walk(path, inc, exc, hidden, table), key=lambda f: f[1]):
                if once(file):
                    _load_one(file, rel, table, report)
        elif path.exists():
            if once(path):
                _load_one(path, _source(text), table, report)
        else:
            report.failures.append(LoadFailure(_source(text), "no such file or directory"))
    return report
