"""Client-side image references: ``[oci://]host[:port]/repo[/more][:tag][@sha256:hex]``.

Owned here until ``wasmhub.oci.reference`` exists; then this module should re-export that
parser (the grammar is the OCI distribution one: lowercase path components joined by
``.``, ``_``, ``__`` or dashes; tags ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``; digests
``algorithm:hex``).

A reference without a registry host (``team/plugin:1.0``) takes ``default_registry``;
the first path component is a host when it contains ``.`` or ``:`` or is ``localhost``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from wasmhub.errors import InputError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DIGEST_RE = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
HOST_RE = re.compile(
    r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?$"
)
SCHEME_PREFIXES = ("oci://", "docker://")


class ReferenceError(InputError):
    """A reference string that does not parse; the message says which part is wrong."""


def is_loopback_host(registry: str) -> bool:
    """True for ``localhost``, ``127.x.y.z`` and ``[::1]`` (with or without a port)."""
    host = registry
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost" or (
        component.startswith("[")
    )


@dataclass(frozen=True)
class Reference:
    """A parsed reference. ``tag`` and ``digest`` may both be set (the digest wins)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str, *, default_registry: str | None = None) -> Reference:
        raw = text.strip()
        for prefix in SCHEME_PREFIXES:
            if raw.startswith(prefix):
                raw = raw[len(prefix) :]
                break
        if not raw:
            raise ReferenceError("empty image reference")
        digest: str | None = None
        if "@" in raw:
            raw, digest = raw.rsplit("@", 1)
            if not DIGEST_RE.match(digest):
                raise ReferenceError(
                    f"invalid digest {digest!r} in {text!r}: expected sha256:<64 hex>"
                )
        first, sep, rest = raw.partition("/")
        if sep and _looks_like_host(first):
            registry, path = first, rest
        elif default_registry:
            registry, path = default_registry, raw
        else:
            raise ReferenceError(
                f"reference {text!r} names no registry; write host[:port]/repository[:tag]"
            )
        if not HOST_RE.match(registry):
            raise ReferenceError(f"invalid registry host {registry!r} in {text!r}")
        tag: str | None = None
        last_slash = path.rfind("/")
        colon = path.rfind(":")
        if colon > last_slash:
            path, tag = path[:colon], path[colon + 1 :]
            if not TAG_RE.match(tag):
                raise ReferenceError(
                    f"invalid tag {tag!r} in {text!r}: use letters, digits, '.', '_', '-'"
                )
        if not REPOSITORY_RE.match(path):
            raise ReferenceError(
                f"invalid repository name {path!r} in {text!r}: use lowercase letters, digits"
                " and separators ('.', '_', '-', '/')"
            )
        return cls(registry=registry, repository=path, tag=tag, digest=digest)

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest if known, else the tag (``latest``)."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        """The last repository component, e.g. ``plugin`` for ``team/plugin``."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.registry)

    def with_digest(self, digest: str) -> Reference:
        return replace(self, digest=digest)

    def with_tag(self, tag: str) -> Reference:
        return replace(self, tag=tag, digest=None)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text
