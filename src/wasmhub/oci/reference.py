"""Image references: ``[oci://]host[:port]/repository[:tag][@algorithm:hex]``.

The repository, tag and digest follow the distribution grammar of
:mod:`wasmhub.oci.names` and :mod:`wasmhub.oci.digest`; this module adds the registry
host and the rules for telling a host from the first repository component.

A reference without a registry host (``team/plugin:1.0``) takes ``default_registry``;
the first path component is a host when it contains ``.`` or ``:``, is ``localhost``
or is a bracketed IPv6 address. ``oci://`` and ``docker://`` prefixes are accepted.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from wasmhub.errors import InputError
from wasmhub.oci.digest import Digest
from wasmhub.oci.errors import DigestInvalid, NameInvalid
from wasmhub.oci.names import is_valid_tag, validate_name

HOST_RE = re.compile(
    r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?$"
)
SCHEME_PREFIXES = ("oci://", "docker://")
DEFAULT_TAG = "latest"


class ReferenceInvalid(InputError):
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
    return (
        "." in component or ":" in component or component == "localhost"
        or component.startswith("[")
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
        """Parse ``text``; raises ReferenceInvalid naming the part that is wrong."""
        raw = text.strip()
        for prefix in SCHEME_PREFIXES:
            if raw.startswith(prefix):
                raw = raw[len(prefix) :]
                break
        if not raw:
            raise ReferenceInvalid("empty image reference")
        digest: str | None = None
        if "@" in raw:
            raw, digest = raw.rsplit("@", 1)
            try:
                Digest.parse(digest)
            except DigestInvalid as exc:
                raise ReferenceInvalid(
                    f"invalid digest {digest!r} in {text!r}: {exc.message}"
                ) from None
        first, sep, rest = raw.partition("/")
        if sep and _looks_like_host(first):
            registry, path = first, rest
        elif default_registry:
            registry, path = default_registry, raw
        else:
            raise ReferenceInvalid(
                f"reference {text!r} names no registry; write host[:port]/repository[:tag]"
            )
        if not HOST_RE.match(registry):
            raise ReferenceInvalid(f"invalid registry host {registry!r} in {text!r}")
        tag: str | None = None
        last_slash = path.rfind("/")
        colon = path.rfind(":")
        if colon > last_slash:
            path, tag = path[:colon], path[colon + 1 :]
            if not is_valid_tag(tag):
                raise ReferenceInvalid(
                    f"invalid tag {tag!r} in {text!r}: use letters, digits, '.', '_', '-'"
                )
        try:
            validate_name(path)
        except NameInvalid as exc:
            raise ReferenceInvalid(f"{exc.message} (in {text!r})") from None
        return cls(registry=registry, repository=path, tag=tag, digest=digest)

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest if known, else the tag (``latest``)."""
        return self.digest or self.tag or DEFAULT_TAG

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
