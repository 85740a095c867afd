"""A loopback HTTP server serving real and hostile .wasm responses for add-by-URL tests."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.catalog.modules import plain_module, proxy_module

LIMIT = 256 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *_args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              length: bool = True) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # The hub hangs up on purpose when a size or time limit is hit.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path
        if path == "/plugin.wasm":
            self._send(200, proxy_module(), {"Content-Type": "application/wasm"})
        elif path == "/plain.wasm":
            self._send(200, plain_module())
        elif path == "/notes.txt":
            self._send(200, b"hello, not wasm\n" * 10)
        elif path == "/huge.wasm":
            self._send(200, b"\x00asm\x01\x00\x00\x00" + b"\x00" * (LIMIT * 2))
        elif path == "/huge-unsized.wasm":
            self._send(200, b"\x00asm\x01\x00\x00\x00" + b"\x00" * (LIMIT * 2), length=False)
        elif path == "/slow.wasm":
            time.sleep(3)
            self._send(200, proxy_module())
        elif path == "/to-metadata":
            self._send(302, b"", {"Location": "http://169.254.169.254/latest/meta-data"})
        elif path == "/to-plugin":
            self._send(302, b"", {"Location": "/plugin.wasm"})
        elif path == "/downgrade":
            # Same host and port, plain http: an https:// add must not follow it.
            self._send(302, b"", {"Location": f"http://{self.headers['Host']}/plugin.wasm"})
        elif path == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        else:
            self._send(404, b"not found")


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
