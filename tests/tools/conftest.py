from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from plait.tools import Sandbox, SandboxLimits

PAGE = b"""<!doctype html><html><head><title>Test page</title><style>p{}</style>
<script>var secret = 1;</script></head><body><h1>Hello</h1><p>First   paragraph
with <a href="/json">a link</a>.</p><ul><li>one</li><li>two</li></ul>
<pre>  keep
    this</pre></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/plain",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/page":
            self._send(200, PAGE, "text/html; charset=utf-8")
        elif path == "/json":
            self._send(200, json.dumps({"items": [1, 2, 3]}).encode(), "application/json")
        elif path == "/text":
            self._send(200, "plain text ✓".encode(), "text/plain; charset=utf-8")
        elif path == "/binary":
            self._send(200, bytes(range(256)), "application/octet-stream")
        elif path == "/big":
            self._send(200, b"x" * 200_000)
        elif path == "/big-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(50):
                chunk = b"y" * 10_000
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/redirect":
            self._send(302, b"", headers={"Location": "/json"})
        elif path == "/redirect-file":
            self._send(302, b"", headers={"Location": "file:///etc/passwd"})
        elif path == "/redirect-away":
            self._send(302, b"", headers={"Location": "http://not-allowed.invalid/"})
        elif path == "/slow":
            time.sleep(1.0)
            self._send(200, b"late")
        elif path == "/headers":
            self._send(200, json.dumps(dict(self.headers.items())).encode(), "application/json")
        elif path == "/missing":
            self._send(404, b"not found")
        else:
            self._send(404, b"no route")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        reply = {"method": "POST", "body": body.decode(),
                 "content_type": self.headers.get("Content-Type")}
        self._send(201, json.dumps(reply).encode(), "application/json")

    do_HEAD = do_GET


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (the size-cap tests) are expected


@pytest.fixture(scope="session")
def http_server() -> Iterator[str]:
    """A local HTTP server; the value is its base URL (http://127.0.0.1:PORT)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the sandbox holding a secret."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("top secret")
    return folder


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    root = tmp_path / "root"
    root.mkdir()
    (root / "notes.txt").write_text("hello\nworld\n")
    (root / "docs").mkdir()
    (root / "docs" / "readme.md").write_text("# Title\nSome text about sandboxes.\n")
    limits = SandboxLimits(max_read_bytes=10_000, max_write_bytes=10_000,
                           max_extract_bytes=5_000_000, process_timeout=5.0,
                           max_process_output=1000)
    return Sandbox(root, limits=limits)
