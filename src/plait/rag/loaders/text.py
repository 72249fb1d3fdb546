"""Plain text, Markdown and HTML files: one document per file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

import yaml

from plait.rag.loaders.base import FileInfo, LoadFailure, read_text
from plait.rag.types import Document

__all__ = ["HtmlLoader", "MarkdownLoader", "TextLoader", "html_to_text", "markdown_title"]


@dataclass(frozen=True, slots=True)
class TextLoader:
    """A text file as it is. ``encoding`` None guesses: BOM, UTF-8, else Windows-1252."""

    encoding: str | None = None
    type: str = "text"

    def load(self, file: FileInfo) -> Iterator[Document | LoadFailure]:
        text = read_text(file.path, encoding=self.encoding)
        yield file.document(text, type=self.type)


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*(?:\n|\Z)", re.DOTALL)
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def markdown_title(text: str) -> str | None:
    """The text of the first ATX heading (``# Title``) outside code fences, if any."""
    fence: str | None = None
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence):
                fence = None
            continue
        if fence is None:
            h = _ATX.match(line)
            if h and h.group(2).strip():
                return h.group(2).strip()
    return None


@dataclass(frozen=True, slots=True)
class MarkdownLoader:
    """A Markdown file, text kept as written. The title is front matter's ``title:`` or the
    first heading; YAML front matter is left out of the text."""

    encoding: str | None = None
    type: str = "markdown"

    def load(self, file: FileInfo) -> Iterator[Document | LoadFailure]:
        text = read_text(file.path, encoding=self.encoding)
        title: str | None = None
        m = _FRONT_MATTER.match(text)
        if m:
            try:
                meta = yaml.safe_load(m.group(1))
            except yaml.YAMLError:
                meta = None  # not front matter after all: a rule and some text
            if isinstance(meta, dict):
                text = text[m.end():]
                if isinstance(meta.get("title"), str):
                    title = meta["title"].strip() or None
        yield file.document(text, type=self.type, title=title or markdown_title(text))


_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "math", "head", "iframe",
                   "object"})
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section",
    "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr"})


class _TextParser(HTMLParser):
    """Collects visible text (block elements start new lines) and the title."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[tuple[str, str]] = []  # ("nl" | "text" | "pre", text)
        self.title = ""
        self.h1 = ""
        self._skip_tag: str | None = None  # inside an invisible element (and its depth)
        self._skip = 0
        self._in_title = False
        self._in_h1 = False
        self._pre = 0

    def _newlines(self, n: int) -> None:
        """A line break (1) or a blank line (2); adjacent breaks merge into the strongest."""
        if self.parts and self.parts[-1][0] == "nl":
            n = max(n, int(self.parts.pop()[1]))
        self.parts.append(("nl", str(n)))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip += 1
        elif tag in _SKIP or (tag not in _VOID and any(k == "hidden" for k, _ in attrs)):
            self._skip_tag, self._skip = tag, 1
        elif tag == "br":
            self._newlines(1)
        elif tag in _BLOCK:
            self._newlines(2 if tag in _PARAGRAPH else 1)
            if tag == "pre":
                self._pre += 1
            elif tag == "h1" and not self.h1:
                self._in_h1 = True
        elif tag in ("td", "th"):
            self.parts.append(("text", " "))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None or tag in _SKIP:
            return
        if tag == "br" or tag in _BLOCK:
            self._newlines(1)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip -= 1
                if not self._skip:
                    self._skip_tag = None
        elif tag in _BLOCK:
            self._newlines(2 if tag in _PARAGRAPH else 1)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            elif tag == "h1":
                self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip_tag is not None:
            return
        if self._in_h1:
            self.h1 += data
        if self._pre:
            self.parts.append(("pre", data))
        else:
            self.parts.append(("text", re.sub(r"\s+", " ", data)))

    def text(self) -> str:
        lines: list[str] = []
        line = ""
        for kind, data in self.parts:
            if kind == "nl":
                lines.append(line.rstrip())
                lines.extend([""] * (int(data) - 1))
                line = ""
            elif kind == "pre":
                first, *rest = data.split("\n")
                line += first
                for more in rest:
                    lines.append(line.rstrip())
                    line = more
            else:
                if not line.strip() or line.endswith(" "):
                    data = data.lstrip(" ")
                line = line + data if line.strip() else data
        lines.append(line.rstrip())
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


_PARAGRAPH = frozenset({"p", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
                        "blockquote", "figure", "hr", "section", "article"})


def html_to_text(html: str) -> tuple[str, str | None]:
    """The visible text of an HTML page (scripts, styles and hidden elements left out, one
    line per block element) and its title (``<title>``, else the first ``<h1>``)."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    title = " ".join(parser.title.split()) or " ".join(parser.h1.split()) or None
    return parser.text(), title


@dataclass(frozen=True, slots=True)
class HtmlLoader:
    """An HTML page's visible text and title (the standard library's ``html.parser``)."""

    encoding: str | None = None
    type: str = "html"

    def load(self, file: FileInfo) -> Iterator[Document | LoadFailure]:
        text, title = html_to_text(read_text(file.path, encoding=self.encoding))
        yield file.document(text, type=self.type, title=title)
