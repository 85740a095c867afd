"""``wasmhub serve`` as a user runs it: bind first, announce once listening, come up on a
loaded machine with several workers, refuse oversized request heads.

Real processes on free loopback ports; every process a test starts is stopped by it.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from tests.support.servers import free_port, wasmhub_command

ANNOUNCE = "wasmhub serving on"
# Start-up on a shared 2-core machine under synthetic load takes tens of seconds.
READY_TIMEOUT = 240.0
BUSY_SECONDS = 200.0


def _env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    return {**os.environ, "WASMHUB_DATA_DIR": str(data_dir), "WASMHUB_PORT": str(port),
            "WASMHUB_HOST": "127.0.0.1", **extra}


class Output:
    """Lines a process writes to a pipe, collected by a thread (select on a buffered
    pipe misses lines already read into Python's buffer)."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def wait_for(self, text: str, times: int, proc: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while self.count(text) < times:
            if proc.poll() is not None or time.monotonic() > deadline:
                self._thread.join(5)
                raise AssertionError(f"no {text!r} (x{times}) from serve:\n" + str(self))
            time.sleep(0.2)

    def __str__(self) -> str:
        return "".join(self.lines)


@contextmanager
def serving(data_dir: Path, port: int, *args: str,
            **extra: str) -> Iterator[tuple[subprocess.Popen[str], Output]]:
    """``wasmhub serve`` once it printed the announcement; yields it and its stderr."""
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [*wasmhub_command(), "serve", *args], env=_env(data_dir, port, **extra),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    output = Output(proc.stderr)
    try:
        output.wait_for(ANNOUNCE, 1, proc)
        yield proc, output
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_port_in_use_is_one_line_naming_the_option(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*wasmhub_command(), "serve"], check=False, env=_env(tmp_path / "data", port),
            capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 3
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"port {port}" in lines[0] and "--port" in lines[0] and "WASMHUB_PORT" in lines[0]
    assert ANNOUNCE not in result.stderr


def _head_response(port: int, header_bytes: int) -> bytes:
    """Send a request whose header grows to ``header_bytes``; stop as soon as the server
    answers, and return what it said."""
    piece = b"a" * 65536
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        sent = 0
        while sent < header_bytes:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(piece)
            except OSError:
                break
            sent += len(piece)
        else:
            sock.sendall(b"\r\n\r\n")
        return sock.recv(4096)


def test_announces_once_listening_and_refuses_a_huge_header(tmp_path: Path) -> None:
    port = free_port()
    with serving(tmp_path / "data", port) as (_proc, output):
        # Announced: it answers now, without waiting.
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
        assert output.count(ANNOUNCE) == 1
        # A 50 MB header is refused before it is buffered; the server keeps serving.
        answer = _head_response(port, 50 * 1024 * 1024)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        big_but_allowed = {"X-Token": "t" * 30_000}
        r = httpx.get(f"http://127.0.0.1:{port}/healthz", headers=big_but_allowed, timeout=30)
        assert r.status_code == 200


BUSY_LOOP = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"


@contextmanager
def cpu_load(processes: int, seconds: float) -> Iterator[None]:
    """``processes`` busy loops, each ending by itself after ``seconds``; stopped on exit."""
    busy = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP.format(seconds=seconds)])
            for _ in range(processes)]
    try:
        yield
    finally:
        for proc in busy:
            proc.kill()
        for proc in busy:
            proc.wait()


def test_two_workers_come_up_on_a_loaded_machine(tmp_path: Path) -> None:
    port = free_port()
    load = 2 * (os.cpu_count() or 2)
    with cpu_load(load, BUSY_SECONDS), serving(tmp_path / "data", port, "--workers", "2") as (
        proc, output
    ):
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60).status_code == 200
        # Both workers finish starting (under load); none is killed as unresponsive.
        output.wait_for("Application startup complete", 2, proc)
        assert output.count("died") == 0 and output.count("was not ready") == 0, str(output)
        assert proc.poll() is None
