"""Short-lived registry bearer tokens (Docker token authentication spec), signed with
HS256 by keys in ``<data_dir>/auth/registry-keys.json``.

The token endpoint (``authz.token_endpoint``) and the ``/v2/`` gate are the same
service, so a shared secret suffices. Rotation (docs/operations.md): ``wasmhub admin
rotate-registry-key`` adds a key and makes it current; older keys still verify until
``--retire`` drops them (wait one token lifetime). Every process reloads the file when
its modification time changes. Only HS256 is accepted, with the key named by ``kid``:
``alg: none``, other algorithms and other keys are refused.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from wasmhub.authz.permissions import RegistryAction
from wasmhub.authz.principal import Principal, PrincipalKind, TokenGrant
from wasmhub.errors import AuthenticationError

ALGORITHM = "HS256"
ISSUER = "wasmhub"
RELOAD_CHECK_SECONDS = 2.0
# Verified tokens kept per process, so a client's repeated requests with one token cost a
# dictionary lookup instead of a signature check and a JSON parse each.
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class KeyRing:
    current: str
    keys: dict[str, bytes]


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _new_kid() -> str:
    return time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)


class RegistryTokenSigner:
    def __init__(self, key_file: Path, service: str, lifetime_seconds: int = 300) -> None:
        self.key_file = key_file
        self.service = service
        self.lifetime = lifetime_seconds
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None
        self._mtime = 0.0
        self._checked = 0.0
        self._verified: dict[str, tuple[float, Principal]] = {}

    # -- keys ------------------------------------------------------------------------

    def _read(self) -> KeyRing:
        raw = json.loads(self.key_file.read_text())
        keys = {kid: bytes.fromhex(secret) for kid, secret in raw["keys"].items()}
        return KeyRing(raw["current"], keys)

    def ring(self) -> KeyRing:
        now = time.monotonic()
        with self._lock:
            if self._ring is not None and now - self._checked < RELOAD_CHECK_SECONDS:
                return self._ring
            self._checked = now
            if not self.key_file.exists():
                kid = _new_kid()
                try:
                    self.key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:
                    pass  # another worker made it first
                else:
                    with os.fdopen(fd, "w") as handle:
                        json.dump({"current": kid, "keys": {kid: secrets.token_hex(32)}},
                                  handle)
            mtime = self.key_file.stat().st_mtime
            if self._ring is None or mtime != self._mtime:
                self._ring = self._read()
                self._mtime = mtime
                self._verified = {}  # a retired key must not live on in the cache
            return self._ring

    def rotate(self, retire: bool = False) -> str:
        """Add a key and make it current (``retire``: drop all others); returns its id."""
        ring = self.ring()
        kid = _new_kid()
        keys = {} if retire else {k: v.hex() for k, v in ring.keys.items()}
        keys[kid] = secrets.token_hex(32)
        _write_atomically(self.key_file, {"current": kid, "keys": keys})
        with self._lock:
            self._ring = None
        return kid

    # -- tokens --------------------------------------------------------------------------

    def issue(self, principal: Principal, access: dict[str, frozenset[RegistryAction]],
              catalog: bool = False, visible: frozenset[str] = frozenset(),
              denied: dict[str, frozenset[RegistryAction]] | None = None
              ) -> tuple[str, int]:
        """A signed JWT granting ``access``. ``visible`` names requested repositories the
        principal may read though it did not ask to pull (so a refusal can be 403, not
        404); ``denied`` the actions asked for and refused (so the registry answers 403/404
        instead of asking the client to fetch a token for them again). Both are extra
        members of the access entries, which other readers ignore."""
        refused = denied or {}
        ring = self.ring()
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": self.service, "iat": now, "nbf": now - 5,
            "exp": now + self.lifetime, "jti": secrets.token_hex(8),
            "sub": principal.username or "",
            "access": [{"type": "repository", "name": name, "actions": sorted(actions),
                        **({"visible": True} if name in visible else {}),
                        **({"denied": sorted(refused[name])} if refused.get(name) else {})}
                       for name, actions in sorted(access.items())],
        }
        if catalog:
            claims["access"].append({"type": "registry", "name": "catalog", "actions": ["*"]})
        if principal.user_id is not None:
            claims["uid"] = principal.user_id
        if principal.token is not None:
            claims["tid"] = principal.token.token_id
            if principal.token.namespace:
                claims["org"] = principal.token.namespace
        if principal.is_site_admin and principal.token is None:
            claims["adm"] = True
        token = jwt.encode(claims, ring.keys[ring.current], algorithm=ALGORITHM,
                           headers={"kid": ring.current})
        return token, self.lifetime

    def verify(self, token: str) -> Principal:
        """The principal a registry JWT stands for; AuthenticationError when invalid."""
        cached = self._verified.get(token)
        if cached is not None and cached[0] > time.time():
            self.ring()  # notices a rotation (and clears the cache) within seconds
            hit = self._verified.get(token)
            if hit is not None:
                return hit[1]
        principal, expires = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified = {}
        self._verified[token] = (expires, principal)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("the bearer token is malformed") from None
        if header.get("alg") != ALGORITHM:
            raise AuthenticationError("the bearer token's algorithm is not accepted")
        ring = self.ring()
        key = ring.keys.get(str(header.get("kid", "")))
        if key is None:
            raise AuthenticationError("the bearer token was signed by an unknown key")
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=self.service,
                                issuer=ISSUER, options={"require": ["exp", "iat", "aud"]})
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the bearer token has expired") from None
        except jwt.PyJWTError:
            raise AuthenticationError("the bearer token is not valid") from None
        access: dict[str, frozenset[RegistryAction]] = {}
        visible: set[str] = set()
        denied: dict[str, frozenset[RegistryAction]] = {}
        catalog = False
        for entry in claims.get("access") or []:
            if not isinstance(entry, dict):
                continue
            if entry.get("type") == "registry" and entry.get("name") == "catalog":
                catalog = True
                continue
            actions = frozenset(RegistryAction(a) for a in entry.get("actions") or []
                                if a in RegistryAction.__members__.values())
            access[str(entry.get("name"))] = actions
            refused = frozenset(RegistryAction(a) for a in entry.get("denied") or []
                                if a in RegistryAction.__members__.values())
            if refused:
                denied[str(entry.get("name"))] = refused
            if entry.get("visible") and RegistryAction.PULL not in actions:
                visible.add(str(entry.get("name")))
        uid = claims.get("uid")
        tid = claims.get("tid")
        grant = TokenGrant(int(tid), frozenset(), (), claims.get("org")) if tid else None
        kind = (PrincipalKind.TOKEN if grant else
                PrincipalKind.USER if uid is not None else PrincipalKind.ANONYMOUS)
        principal = Principal(kind, user_id=uid, username=claims.get("sub") or None,
                              is_site_admin=bool(claims.get("adm")), token=grant,
                              registry_access=access, registry_catalog=catalog,
                              registry_visible=frozenset(visible), registry_denied=denied,
                              via="jwt")
        return principal, float(claims["exp"])
