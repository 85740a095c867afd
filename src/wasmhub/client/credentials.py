"""Registry credentials in Docker's ``config.json`` format, shared with ``docker login``.

Location: ``$DOCKER_CONFIG/config.json`` when ``DOCKER_CONFIG`` is set, else
``~/.docker/config.json``. Lookup order for a registry host, as Docker does it:
``credHelpers[host]``, then ``auths[host]`` (``auth`` = base64 ``user:password``, or
``identitytoken``), then the default ``credsStore``. Helpers are the external
``docker-credential-<name>`` programs speaking ``get``/``store``/``erase`` on stdin.

Writes keep every other key of the file, go through a temporary file and ``os.replace``,
and leave the file mode 0600.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmhub.errors import ConfigError

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_DOCKER_HUB_HOSTS = {"docker.io", "index.docker.io", "registry-1.docker.io"}
IDENTITY_TOKEN_USER = "<token>"


@dataclass(frozen=True)
class Credential:
    """Either a username/password pair or an OAuth2 refresh (identity) token."""

    username: str | None = None
    password: str | None = None
    identity_token: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.username or self.password or self.identity_token)


def config_dir() -> Path:
    env = os.environ.get("DOCKER_CONFIG")
    return Path(env).expanduser() if env else Path.home() / ".docker"


def config_path() -> Path:
    return config_dir() / "config.json"


def server_key(registry: str) -> str:
    """The ``auths`` key Docker uses for a registry host."""
    return DOCKER_HUB_KEY if registry in _DOCKER_HUB_HOSTS else registry


def _normalize_key(key: str) -> str:
    """``https://host/v1/`` → ``host``, so keys written by other tools still match."""
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    host = key.split("/", 1)[0]
    return "docker.io" if host in _DOCKER_HUB_HOSTS else host


class CredentialHelperError(ConfigError):
    """A configured ``docker-credential-*`` program is missing or failed."""


def _run_helper(helper: str, action: str, payload: str) -> str | None:
    program = f"docker-credential-{helper}"
    path = shutil.which(program)
    if path is None:
        raise CredentialHelperError(
            f"credential helper {program} is configured in {config_path()} but not on PATH"
        )
    proc = subprocess.run(
        [path, action], input=payload, capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        text = (proc.stdout + proc.stderr).strip()
        if action in ("get", "erase") and "credentials not found" in text.lower():
            return None
        reason = text.splitlines()[0] if text else f"exit {proc.returncode}"
        raise CredentialHelperError(f"{program} {action} failed: {reason}")
    return proc.stdout


class DockerConfig:
    """A loaded ``config.json``; ``save`` writes it back atomically with mode 0600."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_path()
        self.data: dict[str, Any] = {}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            except ValueError as exc:
                raise ConfigError(f"{self.path} is not valid JSON: {exc}") from exc
            if not isinstance(loaded, dict):
                raise ConfigError(f"{self.path} must hold a JSON object")
            self.data = loaded

    # -- lookup ---------------------------------------------------------------------------

    def _auths(self) -> dict[str, Any]:
        auths = self.data.get("auths")
        return auths if isinstance(auths, dict) else {}

    def helper_for(self, registry: str) -> str | None:
        helpers = self.data.get("credHelpers")
        if isinstance(helpers, dict):
            for key, name in helpers.items():
                if _normalize_key(key) == _normalize_key(registry) and name:
                    return str(name)
        store = self.data.get("credsStore")
        return str(store) if store else None

    def _auth_entry(self, registry: str) -> tuple[str, dict[str, Any]] | None:
        want = _normalize_key(registry)
        for key, entry in self._auths().items():
            if _normalize_key(key) == want and isinstance(entry, dict):
                return key, entry
        return None

    def get(self, registry: str) -> Credential | None:
        """The credential for ``registry`` (``host[:port]``), or None."""
        helpers = self.data.get("credHelpers")
        has_specific_helper = isinstance(helpers, dict) and any(
            _normalize_key(k) == _normalize_key(registry) for k in helpers
        )
        if has_specific_helper:
            return self._from_helper(registry)
        found = self._auth_entry(registry)
        if found is not None:
            cred = _decode_entry(found[1], found[0])
            if cred is not None:
                return cred
        if self.data.get("credsStore"):
            return self._from_helper(registry)
        return None

    def _from_helper(self, registry: str) -> Credential | None:
        helper = self.helper_for(registry)
        if helper is None:
            return None
        output = _run_helper(helper, "get", server_key(registry))
        if not output:
            return None
        try:
            answer = json.loads(output)
        except ValueError as exc:
            raise CredentialHelperError(
                f"docker-credential-{helper} get returned non-JSON output"
            ) from exc
        user, secret = answer.get("Username"), answer.get("Secret")
        if user == IDENTITY_TOKEN_USER:
            return Credential(identity_token=secret)
        return Credential(username=user, password=secret)

    # -- changes --------------------------------------------------------------------------

    def store(self, registry: str, credential: Credential) -> str:
        """Save ``credential``; returns where it went (the file or the helper name)."""
        helper = self.helper_for(registry)
        if helper is not None:
            user = IDENTITY_TOKEN_USER if credential.identity_token else credential.username
            secret = credential.identity_token or credential.password
            payload = json.dumps(
                {"ServerURL": server_key(registry), "Username": user, "Secret": secret}
            )
            _run_helper(helper, "store", payload)
            # Docker keeps an empty auths entry so `docker info`-style listings show it.
            self._auths_for_write()[server_key(registry)] = {}
            self.save()
            return f"docker-credential-{helper}"
        found = self._auth_entry(registry)
        key = found[0] if found else server_key(registry)
        entry: dict[str, Any] = {}
        if credential.identity_token:
            entry["identitytoken"] = credential.identity_token
        if credential.username is not None and credential.password is not None:
            raw = f"{credential.username}:{credential.password}".encode()
            entry["auth"] = base64.b64encode(raw).decode("ascii")
        self._auths_for_write()[key] = entry
        self.save()
        return str(self.path)

    def erase(self, registry: str) -> bool:
        """Remove stored credentials for ``registry``; False when there were none."""
        removed = False
        helper = self.helper_for(registry)
        if helper is not None and shutil.which(f"docker-credential-{helper}"):
            removed = _run_helper(helper, "erase", server_key(registry)) is not None
        found = self._auth_entry(registry)
        if found is not None:
            del self._auths_for_write()[found[0]]
            removed = True
            self.save()
        return removed

    def _auths_for_write(self) -> dict[str, Any]:
        auths = self.data.get("auths")
        if not isinstance(auths, dict):
            auths = {}
            self.data["auths"] = auths
        return auths

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle, indent="\t")
                handle.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _decode_entry(entry: dict[str, Any], key: str) -> Credential | None:
    token = entry.get("identitytoken") or None
    auth = entry.get("auth")
    user: str | None = entry.get("username") or None
    password: str | None = entry.get("password") or None
    if auth:
        try:
            decoded = base64.b64decode(str(auth), validate=False).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"auths[{key!r}].auth in {config_path()} is not base64 user:password"
            ) from exc
        user, sep, password = decoded.partition(":")
        if not sep:
            raise ConfigError(f"auths[{key!r}].auth in {config_path()} lacks ':'")
    if token:
        return Credential(username=user, password=password, identity_token=str(token))
    if user is None and password is None:
        return None
    return Credential(username=user, password=password)


def load_credential(registry: str) -> Credential | None:
    """Convenience: the stored credential for ``registry`` from the default config."""
    return DockerConfig().get(registry)
