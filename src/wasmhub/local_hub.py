"""Where a local ``wasmhub serve`` can be reached: a small state file in its data directory.

``serve`` (through ``app_from_env``'s lifespan) writes ``<data_dir>/serving.json`` =
``{"url": ..., "pid": ...}`` at start-up and removes it at shutdown (and, failing that,
at interpreter exit; uvicorn re-raises SIGTERM after its graceful shutdown, which skips
atexit hooks). Client commands (``search``, ``list``, references without a host) read it when
neither ``--hub`` nor ``WASMHUB_HUB_URL`` names a hub, so a hub started with
``scripts/serve --port 5099`` is the one ``wasmhub search`` asks. A file whose process is
gone is ignored, so a crashed hub never redirects a later command.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
from pathlib import Path

from wasmhub.settings import Settings

STATE_FILE = "serving.json"


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def _listen_url(settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "", "*"):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def record_serving(settings: Settings) -> Path | None:
    """Write the state file for this process; removed again at exit. None if not writable."""
    path = state_path(settings.data_dir)
    pid = os.getpid()
    body = json.dumps({"url": _listen_url(settings), "pid": pid})
    tmp = path.with_name(f".{path.name}.{pid}")
    try:
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        return None
    atexit.register(_forget, path, pid)
    return path


def forget_serving(settings: Settings) -> None:
    """Remove this process's state file (at shutdown; the atexit hook is the fallback)."""
    _forget(state_path(settings.data_dir), os.getpid())


def _forget(path: Path, pid: int) -> None:
    """Remove the state file if this process still owns it (another hub may have replaced it)."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serving_url(data_dir: Path) -> str | None:
    """The URL of the hub serving ``data_dir`` right now, or None."""
    try:
        state = json.loads(state_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    url, pid = state.get("url"), state.get("pid")
    if not isinstance(url, str) or not isinstance(pid, int) or not _alive(pid):
        return None
    return url
