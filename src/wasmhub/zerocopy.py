"""The ASGI ``http.response.zerocopysend`` extension for uvicorn's httptools protocol.

A blob GET otherwise reads the file into a Python ``bytes`` (a fresh 3 MiB allocation,
page faults and a copy) and writes it to the socket (another copy). With this extension
the kernel moves the bytes from the page cache to the socket itself (``sendfile(2)``).
It is offered (``scope["extensions"]``) only by :class:`wasmhub.serving.BoundedHttpToolsProtocol`
on plain TCP; every other server (tests' in-process clients, other ASGI servers) keeps
the streamed path.

How it fits under uvicorn and uvloop:

- the status line and headers go out through uvicorn's own ``send`` (its header checks,
  keep-alive handling and bookkeeping stay), then :func:`send_file` waits until the
  transport's write buffer is empty, so bytes leave in order;
- ``os.sendfile`` runs on the socket's non-blocking descriptor; when the socket's buffer
  is full it waits for writability on a duplicate of the descriptor (the event loop
  refuses a watcher on the transport's own descriptor), so a slow reader costs no thread
  and never blocks the loop;
- a reset or broken connection ends the response quietly, as a dropped client does on
  the streamed path; the message ``{"type": "http.response.body", "more_body": False}``
  then finishes the response through uvicorn (keep-alive, pipelined requests).

The message: ``{"type": "http.response.zerocopysend", "file": <file with fileno()>,
"offset": int, "count": int, "more_body": bool}`` (the ASGI spec's fields).
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any

EXTENSION = "http.response.zerocopysend"
# One sendfile call moves at most this much; the socket's buffer usually takes less.
SLICE = 4 * 1024 * 1024
_GONE = {errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.EBADF}

Send = Callable[[Any], Coroutine[Any, Any, None]]


class _Writable:
    """Waits for a socket to take more bytes, through a duplicate descriptor made at the
    first wait (most responses never wait)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self.loop = loop
        self.fd = fd
        self.watched: int | None = None

    async def wait(self) -> None:
        if self.watched is None:
            self.watched = os.dup(self.fd)
        ready = self.loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        self.loop.add_writer(self.watched, wake)
        try:
            await ready
        finally:
            self.loop.remove_writer(self.watched)

    def close(self) -> None:
        if self.watched is not None:
            os.close(self.watched)


async def _drained(transport: asyncio.WriteTransport, writable: _Writable) -> bool:
    """Until the transport has written everything queued before the file; False if the
    connection closed meanwhile."""
    waited = False
    while transport.get_write_buffer_size():
        if transport.is_closing():
            return False
        if waited:
            await writable.wait()
        # uvloop flushes queued writes at the end of a loop turn: one turn first.
        await asyncio.sleep(0)
        waited = True
    return not transport.is_closing()


async def send_file(transport: asyncio.WriteTransport, fileno: int, offset: int,
                    count: int) -> int:
    """Send ``count`` bytes of ``fileno`` from ``offset`` on ``transport``'s socket; the
    number sent (less when the file is shorter or the peer went away)."""
    sock = transport.get_extra_info("socket")
    if sock is None or count <= 0:
        return 0
    loop = asyncio.get_running_loop()
    writable = _Writable(loop, sock.fileno())
    sent = 0
    try:
        if not await _drained(transport, writable):
            return 0
        while sent < count:
            try:
                moved = os.sendfile(writable.fd, fileno, offset + sent, min(SLICE, count - sent))
            except BlockingIOError:
                await writable.wait()
                continue
            except OSError as exc:
                if exc.errno in _GONE:
                    break
                raise
            if moved == 0:  # the file ended early
                break
            sent += moved
    finally:
        writable.close()
    return sent


def zero_copy_send(cycle: Any, transport: asyncio.WriteTransport) -> Send:
    """Wraps a uvicorn ``RequestResponseCycle``'s ``send``: zerocopysend messages go out
    with sendfile (and count against the response's Content-Length as uvicorn counts a
    body), every other message as before."""
    send: Send = cycle.send

    async def wrapped(message: Any) -> None:
        if message.get("type") != EXTENSION:
            await send(message)
            return
        if not cycle.response_started or cycle.response_complete or cycle.chunked_encoding:
            raise RuntimeError(f"{EXTENSION} needs a started response with a Content-Length")
        if cycle.disconnected:
            return
        file = message["file"]
        fileno = file if isinstance(file, int) else file.fileno()
        count = int(message["count"])
        if count > cycle.expected_content_length:
            raise RuntimeError("Response content longer than Content-Length")
        sent = await send_file(transport, fileno, int(message.get("offset", 0)), count)
        cycle.expected_content_length -= sent
        if sent < count:
            # A short file or a dropped client: the body cannot be completed; a client
            # reading to Content-Length tells a cut connection from a whole response.
            with suppress(Exception):
                transport.close()
            cycle.disconnected = True  # as uvicorn marks it once the close lands
            return
        await send({"type": "http.response.body", "body": b"",
                    "more_body": bool(message.get("more_body", False))})

    return wrapped
