"""The README's first command, ``scripts/serve``, as a newcomer runs it (issue 9, items 4-6).

It must leave a ``wasmhub`` command that works (the shim, here installed into a
temporary directory through ``WASMHUB_SHIM_DIR``), publish the sample plugins on a first
start so the catalog is alive, and be findable by the CLI on the port it was given.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.cli import REPO, clean_env
from tests.support.servers import free_port

pytestmark = [
    pytest.mark.timeout(1800),  # builds with npm/asc on a busy machine
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm (scripts/bootstrap)"),
]

SAMPLES = {"add-header", "auth-tenant", "rate-limit", "data-mask", "c-add-header"}


def _wait_for_catalog(url: str, proc: subprocess.Popen[str], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"scripts/serve exited {proc.returncode}")
        try:
            answer = httpx.get(f"{url}/api/v1/plugins", params={"per_page": 50}, timeout=5)
            if answer.status_code == 200:
                return [p["name"] for p in answer.json()["items"]]
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"no hub on {url} after {timeout}s")


def _run_serve(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[str]:
    with log.open("a") as out:
        return subprocess.Popen([str(REPO / "scripts" / "serve"), *args], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_scripts_serve_puts_wasmhub_on_path_and_starts_with_a_living_catalog(
    tmp_path: Path,
) -> None:
    shim_dir = tmp_path / "bin"
    data = tmp_path / "data"
    env = clean_env(tmp_path, WASMHUB_SHIM_DIR=str(shim_dir))
    port = free_port()
    log = tmp_path / "serve.log"
    proc = _run_serve(env, log, "--port", str(port), "--data-dir", str(data))
    try:
        names = _wait_for_catalog(f"http://127.0.0.1:{port}", proc, timeout=900)
        text = log.read_text()
        assert set(names) >= SAMPLES, f"{names}\n{text}"
        assert f"install-shim: installed {shim_dir}/wasmhub" in text
        assert f"{shim_dir} is not on PATH; add it: export PATH=\"{shim_dir}:$PATH\"" in text
        # the shim runs this checkout's wasmhub, and finds the hub on its unusual port
        # through the data directory it serves (no --hub, no WASMHUB_HUB_URL)
        user_env = {**env, "PATH": f"{shim_dir}{os.pathsep}/usr/bin:/bin",
                    "WASMHUB_DATA_DIR": str(data)}
        search = subprocess.run(["wasmhub", "search", "rate"], env=user_env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=120, check=False)
        assert search.returncode == 0, search.stderr
        assert "library/rate-limit" in search.stdout
    finally:
        _stop(proc)
    assert not (data / "serving.json").exists()

    # a second start finds the hub already filled and does not publish again
    proc = _run_serve(env, log, "--port", str(port), "--data-dir", str(data))
    try:
        _wait_for_catalog(f"http://127.0.0.1:{port}", proc, timeout=300)
        assert "already has plugins; not seeding" in log.read_text()
    finally:
        _stop(proc)
