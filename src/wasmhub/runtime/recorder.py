"""A recording HTTP upstream on loopback, and a plain HTTP/1.1 client, for driving a
plugin inside a real proxy (see :mod:`wasmhub.runtime.envoy`).

:class:`RecordingUpstream` answers every request with its current
:class:`~wasmhub.runtime.UpstreamResponse` (set it before each request) and records what
arrived: method, path, header pairs in order (names lowercased) and body. It sends only the
headers of the response it was given plus ``content-length`` (no ``server``/``date``), so
what the filter sees on the response is what the test declared. :func:`send` sends one
request with exactly the given headers (no ``accept-encoding``/``user-agent`` of its own).
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wasmhub.runtime.model import HttpRequest, UpstreamResponse

StrPairs = list[tuple[str, str]]


@dataclass
class Received:
    method: str
    path: str
    headers: StrPairs
    body: bytes


@dataclass
class Reply:
    """What the client got: ``status`` None if the connection closed without a response."""

    status: int | None
    headers: StrPairs
    body: bytes
    error: str = ""


def raw_response(response: UpstreamResponse) -> bytes:
    """The bytes the upstream sends for ``response``: its status line, its headers in
    order (``content-length`` computed), its body."""
    payload = b"".join(response.chunks())
    reason = http.client.responses.get(response.status, "Unknown")
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    lines += [f"{key}: {value}" for key, value in response.headers
              if key.lower() not in ("content-length", "transfer-encoding")]
    lines.append(f"content-length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return

    def _body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self) -> None:
        body = self._body()
        headers = [(key.lower(), value) for key, value in self.headers.items()]
        owner = self.server.owner
        with owner.lock:
            owner.received.append(Received(self.command, self.path, headers, body))
            response, refuse = owner.response, owner.refuse
        if refuse:  # a failed upstream: the connection closes with no response
            self.close_connection = True
            return
        data = raw_response(response)
        if self.command == "HEAD":
            data = data.partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
        self.wfile.write(data)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: RecordingUpstream


class RecordingUpstream:
    """Use as a context manager; ``port`` is picked by the OS on 127.0.0.1."""

    def __init__(self, response: UpstreamResponse | None = None) -> None:
        self.response = response or UpstreamResponse()
        self.refuse = False  # close every connection without answering
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="wasmhub-upstream", daemon=True)

    def __enter__(self) -> RecordingUpstream:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def take(self) -> list[Received]:
        with self.lock:
            taken, self.received = self.received, []
        return taken


def send(port: int, request: HttpRequest, *, timeout: float = 60.0) -> Reply:
    """Send ``request`` to 127.0.0.1:``port`` with exactly its headers (plus ``host`` from
    its authority unless it names one) and read the whole response."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(request.method, request.path, skip_host=True,
                              skip_accept_encoding=True)
        names = {key.lower() for key, _ in request.headers}
        if "host" not in names:
            connection.putheader("host", request.authority)
        for key, value in request.headers:
            connection.putheader(key, value)
        body = b"".join(request.chunks())
        if body and "content-length" not in names and "transfer-encoding" not in names:
            connection.putheader("content-length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        data = response.read()
        headers = [(key.lower(), value) for key, value in response.getheaders()]
        return Reply(response.status, headers, data)
    except (TimeoutError, http.client.HTTPException, ConnectionError) as exc:
        return Reply(None, [], b"", f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
