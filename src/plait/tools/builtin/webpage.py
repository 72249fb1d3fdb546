"""Fetch a web page from an allowlisted host and return it as readable text (restricted)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from plait.tools.builtin.html_text import html_to_text
from plait.tools.errors import ToolFailed
from plait.tools.network import NetworkPolicy, as_policy, fetch
from plait.tools.security import SecurityLevel
from plait.tools.tool import Tool

__all__ = ["WebPageTool"]


class WebPageTool(Tool):
    """Fetch a web page (HTML or plain text) and return its title and readable text."""

    name = "web_page"
    level = SecurityLevel.RESTRICTED

    def __init__(self, allowlist: NetworkPolicy | Sequence[str], *,
                 name: str | None = None) -> None:
        self.policy = as_policy(allowlist)
        super().__init__(name=name)

    async def run(self, url: str,
                  max_chars: Annotated[int, Field(ge=100, le=200_000)] = 20_000,
                  include_links: bool = False) -> dict[str, object]:
        """Read a page.

        Args:
            url: An http or https URL whose host is allowed.
            max_chars: Cut the text after this many characters.
            include_links: Also return the page's links with absolute URLs.
        """
        response = await fetch(self.policy, "GET", url, headers={
            "Accept": "text/html, text/plain;q=0.9, */*;q=0.1"})
        if response.status >= 400:
            raise ToolFailed(f"{url} answered {response.status} {response.reason}")
        kind = response.content_type
        text = response.text()
        if kind in ("text/html", "application/xhtml+xml") or (
                not kind and "<html" in text[:1000].lower()):
            page = html_to_text(text, base_url=response.url)
            title, body, links = page.title, page.text, page.links
        elif kind.startswith("text/") or not kind:
            title, body, links = "", text.strip(), []
        else:
            raise ToolFailed(f"{url} is not a web page (content type {kind!r})")
        result: dict[str, object] = {"url": response.url, "title": title,
                                     "text": body[:max_chars],
                                     "truncated": len(body) > max_chars}
        if include_links:
            result["links"] = links[:500]
        return result
