"""The HTTP and web page tools against a local server (127.0.0.1 allowlisted explicitly)."""

from __future__ import annotations

import pytest

from plait.tools import NetworkPolicy, ToolArgumentError, ToolFailed
from plait.tools.builtin import HttpRequestTool, WebPageTool
from plait.tools.builtin.html_text import html_to_text

LOCAL = ["127.0.0.1"]


async def test_get_json(http_server: str) -> None:
    result = await HttpRequestTool(LOCAL).call({"url": f"{http_server}/json"})
    assert isinstance(result, dict)
    assert result["status"] == 200
    assert result["content_type"] == "application/json"
    assert result["json"] == {"items": [1, 2, 3]}
    assert result["url"] == f"{http_server}/json"
    assert result["headers"]["content-length"] == "20"  # type: ignore[index]


async def test_text_binary_and_errors_are_results(http_server: str) -> None:
    http = HttpRequestTool(LOCAL)
    text = await http.call({"url": f"{http_server}/text"})
    assert text["body"] == "plain text ✓"  # type: ignore[index]
    binary = await http.call({"url": f"{http_server}/binary"})
    assert binary["body_encoding"] == "base64"  # type: ignore[index]
    missing = await http.call({"url": f"{http_server}/missing"})
    assert (missing["status"], missing["body"]) == (404, "not found")  # type: ignore[index]


async def test_post_bodies(http_server: str) -> None:
    http = HttpRequestTool(LOCAL)
    sent = await http.call({"url": f"{http_server}/echo", "method": "POST",
                            "json": {"a": [1, "x"]}})
    assert sent["status"] == 201  # type: ignore[index]
    assert sent["json"] == {"method": "POST", "body": '{"a": [1, "x"]}',  # type: ignore[index]
                            "content_type": "application/json"}
    raw = await http.call({"url": f"{http_server}/echo", "method": "POST", "body": "k=v",
                           "headers": {"Content-Type": "application/x-www-form-urlencoded"}})
    assert raw["json"]["body"] == "k=v"  # type: ignore[index]
    with pytest.raises(ToolArgumentError, match="either body or json"):
        await http.call({"url": f"{http_server}/echo", "method": "POST", "body": "x",
                         "json": {}})


async def test_headers_host_is_kept_and_cannot_be_forged(http_server: str) -> None:
    http = HttpRequestTool(LOCAL, default_headers={"X-Api-Key": "k"})
    seen = await http.call({"url": f"{http_server}/headers",
                            "headers": {"Host": "evil.example", "X-Trace": "1"}})
    headers = {k.lower(): v for k, v in seen["json"].items()}  # type: ignore[index,union-attr]
    assert headers["host"] == http_server.removeprefix("http://")
    assert headers["x-api-key"] == "k"
    assert headers["x-trace"] == "1"


async def test_redirects_are_followed_and_rechecked(http_server: str) -> None:
    result = await HttpRequestTool(LOCAL).call({"url": f"{http_server}/redirect"})
    assert result["url"] == f"{http_server}/json"  # type: ignore[index]
    assert result["json"] == {"items": [1, 2, 3]}  # type: ignore[index]
    with pytest.raises(ToolFailed, match="redirects"):
        await HttpRequestTool(NetworkPolicy(LOCAL, max_redirects=0)).call(
            {"url": f"{http_server}/redirect"})


async def test_head(http_server: str) -> None:
    result = await HttpRequestTool(LOCAL).call({"url": f"{http_server}/text", "method": "HEAD"})
    assert (result["status"], result["body"]) == (200, "")  # type: ignore[index]


async def test_connection_refused_is_a_failure() -> None:
    with pytest.raises(ToolFailed, match="request failed"):
        await HttpRequestTool(LOCAL).call({"url": "http://127.0.0.1:1/"})


async def test_web_page_to_text(http_server: str) -> None:
    page = await WebPageTool(LOCAL).call({"url": f"{http_server}/page",
                                          "include_links": True})
    assert page == {
        "url": f"{http_server}/page", "title": "Test page",
        "text": "# Hello\n\nFirst paragraph with a link.\n\n- one\n- two\n\n  keep\n    this",
        "truncated": False,
        "links": [{"text": "a link", "url": f"{http_server}/json"}]}


async def test_web_page_plain_text_truncation_and_refusals(http_server: str) -> None:
    web = WebPageTool(LOCAL)
    text = await web.call({"url": f"{http_server}/big", "max_chars": 100})
    assert text["text"] == "x" * 100  # type: ignore[index]
    assert text["truncated"] is True  # type: ignore[index]
    with pytest.raises(ToolFailed, match="not a web page"):
        await web.call({"url": f"{http_server}/binary"})
    with pytest.raises(ToolFailed, match="404"):
        await web.call({"url": f"{http_server}/missing"})


def test_html_to_text_details() -> None:
    page = html_to_text(
        "<title> A  title </title><body><p>a&amp;b &lt;c&gt;</p><br>line<br/>two"
        "<table><tr><th>k</th><td>v</td></tr></table><img alt='chart'>"
        "<script>alert(1)</script><noscript>js off</noscript>"
        "<a href='javascript:x()'>no</a><a href='#top'>no</a><a href='/a'>yes</a></body>",
        base_url="https://site.example/dir/")
    assert page.title == "A title"
    assert page.text == "a&b <c>\n\nline\ntwo\n\n\tk\tv\n\n[chart]nonoyes"
    assert page.links == [{"text": "yes", "url": "https://site.example/a"}]
