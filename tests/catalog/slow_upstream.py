"""A loopback upstream that trickles its response headers, one byte every ~2 s.

The attack of issue 8 finding 1: each read returns within any per-read timeout, so
only a deadline over the whole exchange ends it. Handlers stop at once when the
server closes (no thread outlives the fixture for long) or when the client hangs up.
"""

from __future__ import annotations

import contextlib
import socketserver
import threading
from collections.abc import Iterator

from tests.catalog.modules import proxy_module

BYTE_INTERVAL = 2.0
TRICKLED_BYTES = 40  # 80 s of headers: far beyond any deadline a test sets


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    stopping: threading.Event
    connections: int


class _SlowHeaders(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        server.connections += 1
        self.request.recv(65536)  # the request head; its content does not matter
        body = proxy_module()
        head = (b"HTTP/1.1 200 OK\r\nX-Trickle: " + b"a" * TRICKLED_BYTES + b"\r\n"
                b"Content-Type: application/wasm\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        with contextlib.suppress(OSError):
            for index in range(len(head)):
                # The status line and the trickled header, one byte per interval.
                if index < TRICKLED_BYTES + 16 and server.stopping.wait(BYTE_INTERVAL):
                    return
                self.request.sendall(head[index:index + 1])
            self.request.sendall(body)


@contextlib.contextmanager
def slow_upstream() -> Iterator[tuple[str, _Server]]:
    """``http://127.0.0.1:PORT`` of a server whose every response trickles its headers."""
    server = _Server(("127.0.0.1", 0), _SlowHeaders)
    server.stopping = threading.Event()
    server.connections = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="slow-upstream")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
