"""Running the hub under uvicorn: bind first, bound request heads, announce when ready.

- :func:`bind_listener` binds and listens on the configured address before anything
  else, so a port in use is one clear :class:`ListenError` (naming ``--port`` /
  ``WASMHUB_PORT``), and connections made while workers start wait in the kernel's
  backlog instead of being refused.
- :class:`BoundedHttpToolsProtocol` is uvicorn's httptools protocol with a limit on the
  request line plus headers (uvicorn has one only for h11): a bigger head gets ``431``
  and the connection is closed, before it is buffered. It also offers the ASGI
  ``http.response.zerocopysend`` extension on plain TCP (:mod:`wasmhub.zerocopy`): blob
  GETs go out with ``sendfile(2)``.
- :func:`run_server` runs one worker in this process or a supervisor with several
  worker processes. The supervisor's health-ping timeout is a setting
  (``worker_healthcheck_timeout_seconds``): uvicorn's default of 5 s killed workers that
  were still importing on a loaded machine, in a restart loop.
- :class:`ReadyAnnouncer` prints the URL once ``/healthz`` answers, not before.
"""

from __future__ import annotations

import asyncio
import errno
import http.client
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from wasmhub import zerocopy
from wasmhub.errors import WasmhubError
from wasmhub.settings import Settings

APP_FACTORY = "wasmhub.app:app_from_env"
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
_HEAD_END = b"\r\n\r\n"


class ListenError(WasmhubError):
    """The server cannot listen where it was told to (port in use, not allowed, ...)."""


def bind_listener(host: str, port: int, backlog: int = 2048, *,
                  reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket on ``host:port``; raises ListenError with one line a user
    can act on. ``reuse_port``: other processes may listen there too (SO_REUSEPORT), and
    the kernel balances connections among them (replicas on one host without a proxy)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            message = (f"port {port} on {host} is already in use; stop the other server or "
                       "choose another port with --port or WASMHUB_PORT")
        elif exc.errno == errno.EACCES:
            message = (f"not allowed to listen on {where}; choose a port above 1023 with "
                       "--port or WASMHUB_PORT")
        elif exc.errno in (errno.EADDRNOTAVAIL, socket.EAI_NONAME):
            message = (f"{host} is not an address of this machine; choose another with "
                       "--host or WASMHUB_HOST")
        else:
            message = f"cannot listen on {where}: {exc.strerror or exc}"
        raise ListenError(message) from None
    sock.set_inheritable(True)
    return sock


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools with a limit on each request's head (request line and headers).

    The limit is uvicorn's ``h11_max_incomplete_event_size`` (the same meaning for its
    h11 protocol), set by :func:`uvicorn_config` from ``max_header_bytes``. Bytes are
    counted as they arrive, before httptools buffers them; a head that has not ended
    within the limit is answered 431 and the connection closed.
    """

    def __init__(self, config: Config, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_limit = config.h11_max_incomplete_event_size or DEFAULT_MAX_HEADER_BYTES
        self._in_head = True
        self._head_bytes = 0
        self._tail = b""

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if self._head_bytes + len(data) > self._head_limit:
                room = max(self._head_limit - self._head_bytes, 0)
                if _HEAD_END not in self._tail + data[:room]:
                    self._refuse_head()
                    return
            self._head_bytes += len(data)
            self._tail = data[-3:]
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        # Plain TCP only: sendfile(2) cannot write through TLS.
        if self.transport.get_extra_info("sslcontext") is None:
            cycle.scope.setdefault("extensions", {})[zerocopy.EXTENSION] = {}
            cycle.send = zerocopy.zero_copy_send(cycle, self.transport)  # type: ignore[method-assign,assignment]
        super()._start_asgi_task(cycle, app)

    def on_message_complete(self) -> None:
        # The next bytes on this connection start another request's head.
        self._in_head, self._head_bytes, self._tail = True, 0, b""
        super().on_message_complete()

    def _refuse_head(self) -> None:
        message = (f"request line and headers exceed {self._head_limit} bytes "
                   "(max_header_bytes)").encode()
        self.logger.warning("refused a request head over %d bytes from %s",
                            self._head_limit, self.client)
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(message)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + message
        )
        self._in_head = False  # ignore whatever else arrives before the close
        self.transport.close()


def uvicorn_config(settings: Settings) -> Config:
    from wasmhub.ops.serving import uvicorn_options

    return Config(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        http=BoundedHttpToolsProtocol,
        loop="uvloop",
        timeout_worker_healthcheck=int(settings.worker_healthcheck_timeout_seconds),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        **uvicorn_options(settings),  # log config, graceful shutdown, no access log
    )


def probe_host(host: str) -> str:
    """Where to reach a server listening on ``host`` from this machine."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


class ReadyAnnouncer:
    """Calls ``announce()`` once ``GET /healthz`` on the listener answers 200."""

    def __init__(self, host: str, port: int, announce: Callable[[], None],
                 interval: float = 0.1) -> None:
        self.host, self.port = probe_host(host), port
        self.announce = announce
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="wasmhub-ready", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def _watch(self) -> None:
        while not self.stopped.is_set():
            if self._answers():
                self.announce()
                return
            time.sleep(self.interval)


def run_server(settings: Settings, sock: socket.socket) -> None:
    """Serve on ``sock`` until interrupted: in-process for one worker, else supervised."""
    from uvicorn.server import Server
    from uvicorn.supervisors.multiprocess import Multiprocess

    config = uvicorn_config(settings)
    try:
        if settings.workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # pragma: no cover - the user pressed Ctrl-C
        pass
    finally:
        sock.close()
