"""HTML to readable text with the standard library's parser.

Scripts, styles and other non-content elements are dropped; block elements start new lines;
headings get ``#`` marks and list items ``-``; ``<pre>`` keeps its whitespace; entities are
decoded; runs of blank lines collapse to one. Links can be collected with absolute URLs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

__all__ = ["PageText", "html_to_text"]

_SKIP = {"script", "style", "noscript", "template", "svg", "iframe", "object", "canvas",
         "head", "select", "button"}
_BLOCK = {"address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl",
          "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "html",
          "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
          "thead", "tfoot", "tr", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "caption"}
_PARAGRAPH = {"p", "pre", "blockquote", "table", "ul", "ol", "dl", "figure", "h1", "h2", "h3",
              "h4", "h5", "h6"}
"""Blocks set off by a blank line; the other blocks start a new line."""
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
         "source", "track", "wbr"}
_SPACES = re.compile(r"[ \t\r\f\v\n]+")
_BLANKS = re.compile(r"\n{3,}")
_KEPT_SPACE = "\ue000"
"""Stands for a space inside <pre> while lines are trimmed."""


@dataclass(slots=True)
class PageText:
    title: str = ""
    text: str = ""
    links: list[dict[str, str]] = field(default_factory=list)


class _Extractor(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0
        self.in_title = False
        self.title: list[str] = []
        self.links: list[dict[str, str]] = []
        self.link: tuple[str, list[str]] | None = None
        self.newlines = 2
        """Line breaks since the last text: blocks ask for at least 1 or 2, not more."""

    def _newline(self, count: int = 1) -> None:
        if count > self.newlines:
            self.out.append("\n" * (count - self.newlines))
            self.newlines = count

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
            return
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip += 1
            return
        if self.skip:
            return
        if tag == "br":
            self._newline()
        elif tag in _BLOCK:
            self._newline(2 if tag in _PARAGRAPH else 1)
            if tag[0] == "h" and tag[1:].isdigit():
                self.out.append("#" * int(tag[1:]) + " ")
            elif tag == "li":
                self.out.append("- ")
            elif tag == "pre":
                self.pre += 1
        elif tag in ("td", "th"):
            self.out.append("\t")
        elif tag == "a":
            href = dict(attrs).get("href")
            if href and not href.startswith(("javascript:", "#")):
                self.link = (urljoin(self.base_url, href), [])
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in _SKIP:
            self.skip = max(self.skip - 1, 0)
        elif self.skip:
            return
        elif tag in _BLOCK:
            if tag == "pre":
                self.pre = max(self.pre - 1, 0)
            self._newline(2 if tag in _PARAGRAPH else 1)
        elif tag == "a" and self.link is not None:
            url, words = self.link
            self.links.append({"text": _SPACES.sub(" ", "".join(words)).strip(), "url": url})
            self.link = None

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
            return
        if self.skip:
            return
        if self.link is not None:
            self.link[1].append(data)
        if self.pre:
            self.out.append(data.replace(" ", _KEPT_SPACE))
            self.newlines = len(data) - len(data.rstrip("\n")) if data.strip() else self.newlines
        elif data.strip():
            self.out.append(_SPACES.sub(" ", data))
            self.newlines = 0
        elif not self.newlines:
            self.out.append(" ")


def html_to_text(html: str, *, base_url: str = "") -> PageText:
    """The title, readable text and links of an HTML document."""
    parser = _Extractor(base_url)
    parser.feed(html)
    parser.close()
    lines = [line.strip(" ") for line in "".join(parser.out).split("\n")]
    text = _BLANKS.sub("\n\n", "\n".join(lines)).strip().replace(_KEPT_SPACE, " ")
    title = _SPACES.sub(" ", "".join(parser.title)).strip()
    return PageText(title, text, parser.links)
