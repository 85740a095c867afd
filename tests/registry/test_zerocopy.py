"""Blob GETs under a real ``wasmhub serve`` go out with sendfile(2) (wasmhub.zerocopy):
the bytes, ranges, keep-alive and pipelining are what a client expects, a client that
hangs up or reads slowly harms nobody else, and the bytes are counted in /metrics."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from tests.registry.conftest import digest_of
from tests.support.servers import RunningServer, free_port, running_wasmhub
from wasmhub import zerocopy
from wasmhub.serving import BoundedHttpToolsProtocol

DATA = os.urandom(5 * 1024 * 1024 + 1234)
DIGEST = digest_of(DATA)
REPO = "zero/copy"
BLOB = f"/v2/{REPO}/blobs/{DIGEST}"
READ_TIMEOUT = 120.0  # generous: a busy 2-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_wasmhub(tmp_path_factory.mktemp("zerocopy") / "data") as running:
        with httpx.Client(base_url=running.url, timeout=READ_TIMEOUT) as client:
            pushed = client.post(f"/v2/{REPO}/blobs/uploads/", params={"digest": DIGEST},
                                 content=DATA)
            assert pushed.status_code == 201, pushed.text
        yield running


def _read_response(sock: socket.socket, buffered: bytes) -> tuple[bytes, bytes, bytes]:
    """(head, body, what is left) of one HTTP/1.1 response with a Content-Length."""
    while b"\r\n\r\n" not in buffered:
        more = sock.recv(65536)
        assert more, "connection closed before the response head"
        buffered += more
    head, _, rest = buffered.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    assert match, head
    length = int(match.group(1))
    while len(rest) < length:
        more = sock.recv(1 << 20)
        assert more, "connection closed mid-body"
        rest += more
    return head, rest[:length], rest[length:]


def test_whole_blob_and_ranges(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, timeout=READ_TIMEOUT) as client:
        whole = client.get(BLOB)
        assert whole.status_code == 200
        assert whole.headers["content-length"] == str(len(DATA))
        assert digest_of(whole.content) == DIGEST
        for header, expected, content_range in [
            ("bytes=0-9", DATA[:10], f"bytes 0-9/{len(DATA)}"),
            ("bytes=1048576-3145727", DATA[1048576:3145728],
             f"bytes 1048576-3145727/{len(DATA)}"),
            ("bytes=-100", DATA[-100:], f"bytes {len(DATA) - 100}-{len(DATA) - 1}/{len(DATA)}"),
            (f"bytes={len(DATA) - 1}-", DATA[-1:], f"bytes {len(DATA) - 1}-{len(DATA) - 1}"
                                                   f"/{len(DATA)}"),
        ]:
            part = client.get(BLOB, headers={"Range": header})
            assert part.status_code == 206, header
            assert part.headers["content-range"] == content_range
            assert part.content == expected, header
        head = client.head(BLOB)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(DATA))


def test_keep_alive_and_pipelined_requests(server: RunningServer) -> None:
    request = f"GET {BLOB} HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode()
    ranged = (f"GET {BLOB} HTTP/1.1\r\nHost: {server.host}\r\nRange: bytes=5-14\r\n\r\n"
              .encode())
    missing = f"GET /v2/{REPO}/blobs/sha256:{'0' * 64} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=READ_TIMEOUT) as sock:
        for _ in range(3):  # one after the other on one connection
            sock.sendall(request)
            head, body, left = _read_response(sock, b"")
            assert head.startswith(b"HTTP/1.1 200") and body == DATA and left == b""
        # All at once: the server answers them in order, each body whole.
        sock.sendall(request + ranged + missing + request)
        left = b""
        answers = []
        for _ in range(4):
            head, body, left = _read_response(sock, left)
            answers.append((head.split(b"\r\n")[0], body))
    assert answers[0] == (b"HTTP/1.1 200 OK", DATA)
    assert answers[1] == (b"HTTP/1.1 206 Partial Content", DATA[5:15])
    assert answers[2][0] == b"HTTP/1.1 404 Not Found"
    assert answers[3] == (b"HTTP/1.1 200 OK", DATA)


def test_hang_ups_and_a_slow_reader_harm_nobody(server: RunningServer) -> None:
    request = f"GET {BLOB} HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode()
    for _ in range(10):  # read a little, then reset the connection
        with socket.create_connection(("127.0.0.1", server.port), timeout=READ_TIMEOUT) as s:
            s.sendall(request)
            s.recv(1000)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.settimeout(READ_TIMEOUT)
    slow.connect(("127.0.0.1", server.port))
    try:
        slow.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:  # the server is now held by this client's full socket
            head += slow.recv(4096)
        # ...yet everyone else gets whole blobs meanwhile (the wait is not the loop's).
        with httpx.Client(base_url=server.url, timeout=READ_TIMEOUT) as client:
            for _ in range(3):
                assert digest_of(client.get(BLOB).content) == DIGEST
        _, body, _ = _read_response(slow, head)  # the slow client gets every byte, in order
    finally:
        slow.close()
    assert body == DATA
    log = server.log_path.read_text()
    assert "Exception in ASGI application" not in log
    assert "without completing response" not in log


def _served_bytes(metrics_text: str) -> float:
    found = re.search(r'^wasmhub_http_response_bytes_total\{route="v2_blobs"\} (\S+)$',
                      metrics_text, re.M)
    return float(found.group(1)) if found else 0.0


def test_sent_bytes_are_counted_in_metrics(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, timeout=READ_TIMEOUT) as client:
        before = _served_bytes(client.get("/metrics").text)
        assert digest_of(client.get(BLOB).content) == DIGEST
        assert client.get(BLOB, headers={"Range": "bytes=0-99"}).status_code == 206
        after = _served_bytes(client.get("/metrics").text)
    assert after - before == len(DATA) + 100


# --------------------------------------------------------- the protocol, app by app


def _serve_app(app: object, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, loop="uvloop",  # type: ignore[arg-type]
                            http=BoundedHttpToolsProtocol, log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def file_app() -> Iterator[tuple[str, list[dict[str, object]]]]:
    """An ASGI app answering every GET with a zerocopysend of part of a file, through
    BoundedHttpToolsProtocol; the scopes' extensions it saw."""
    seen: list[dict[str, object]] = []
    with tempfile.NamedTemporaryFile() as handle:
        handle.write(DATA)
        handle.flush()

        async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
            seen.append(dict(scope.get("extensions") or {}))
            offset, count = 1000, 3 * 1024 * 1024
            if scope["path"] == "/short":  # claims more than the file holds
                offset, count = len(DATA) - 10, 20
            await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                        "headers": [(b"content-length", str(count).encode())]})
            with open(handle.name, "rb") as source:
                await send({"type": zerocopy.EXTENSION, "file": source,  # type: ignore[operator]
                            "offset": offset, "count": count, "more_body": False})

        port = free_port()
        server, thread = _serve_app(app, port)
        try:
            for _ in range(1200):
                if server.started:
                    break
                time.sleep(0.1)
            assert server.started, "uvicorn did not start"
            yield f"http://127.0.0.1:{port}", seen
        finally:
            server.should_exit = True
            thread.join(timeout=60)


def test_the_protocol_offers_the_extension_and_sends_the_range(
        file_app: tuple[str, list[dict[str, object]]]) -> None:
    url, seen = file_app
    with httpx.Client(base_url=url, timeout=READ_TIMEOUT) as client:
        for _ in range(2):  # twice on one keep-alive connection
            body = client.get("/").content
            assert hashlib.sha256(body).digest() == hashlib.sha256(
                DATA[1000:1000 + 3 * 1024 * 1024]).digest()
    assert all(zerocopy.EXTENSION in extensions for extensions in seen)


def test_a_file_shorter_than_promised_cuts_the_connection(
        file_app: tuple[str, list[dict[str, object]]]) -> None:
    url, _ = file_app
    with httpx.Client(base_url=url, timeout=READ_TIMEOUT) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/short")
        assert len(client.get("/").content) == 3 * 1024 * 1024  # the server goes on


def test_send_file_stops_quietly_when_the_peer_resets() -> None:
    async def scenario() -> int:
        with tempfile.TemporaryFile() as source:
            source.write(DATA)
            source.flush()
            ready = asyncio.get_running_loop().create_future()

            async def on_client(reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
                ready.set_result(writer.transport)

            listener = await asyncio.start_server(on_client, "127.0.0.1", 0)
            port = listener.sockets[0].getsockname()[1]
            peer = socket.create_connection(("127.0.0.1", port))
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            transport = await ready
            task = asyncio.ensure_future(zerocopy.send_file(transport, source.fileno(), 0,
                                                            len(DATA)))
            await asyncio.sleep(0.2)
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            b"\x01\x00\x00\x00\x00\x00\x00\x00")
            peer.close()  # RST: the pending sendfile sees ECONNRESET or EPIPE
            sent = await asyncio.wait_for(task, READ_TIMEOUT)
            transport.close()
            listener.close()
            return sent

    import uvloop

    sent = uvloop.run(scenario())
    assert 0 < sent < len(DATA)
