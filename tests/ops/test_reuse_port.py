"""``reuse_port``: two `wasmhub serve` processes on one host share a port (the kernel
balances connections), and without it the second one is refused (port in use)."""

from __future__ import annotations

import selectors
import socket
import time
from contextlib import suppress

import pytest

from wasmhub.serving import ListenError, bind_listener


def _connect_accept(port: int, listeners: list[socket.socket]) -> set[int]:
    """Which listeners got the connections of 40 clients (bounded: 10 s)."""
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]
    got: set[int] = set()
    accepted = 0
    deadline = time.monotonic() + 10
    try:
        with selectors.DefaultSelector() as selector:
            for index, sock in enumerate(listeners):
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, index)
            while accepted < len(clients) and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=0.5):
                    with suppress(BlockingIOError):
                        conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                        conn.close()
                        accepted += 1
                        got.add(key.data)
    finally:
        for client in clients:
            client.close()
    assert accepted == len(clients)
    return got


def test_two_listeners_share_a_port_with_reuse_port() -> None:
    first = bind_listener("127.0.0.1", 0, reuse_port=True)
    port = first.getsockname()[1]
    try:
        second = bind_listener("127.0.0.1", port, reuse_port=True)
    except ListenError:
        first.close()
        raise
    try:
        # 40 connections hashed over two listeners: both get some (all to one: 2**-39).
        assert _connect_accept(port, [first, second]) == {0, 1}
    finally:
        first.close()
        second.close()


def test_without_reuse_port_the_port_is_in_use() -> None:
    first = bind_listener("127.0.0.1", 0)
    port = first.getsockname()[1]
    try:
        with pytest.raises(ListenError, match="already in use"):
            bind_listener("127.0.0.1", port)
        with pytest.raises(ListenError, match="already in use"):
            bind_listener("127.0.0.1", port, reuse_port=True)  # the first did not opt in
    finally:
        first.close()
