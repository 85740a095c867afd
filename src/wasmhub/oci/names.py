"""Repository names and tags (the distribution spec's grammar).

A name is one or more ``/``-separated path components of lowercase alphanumerics joined
by ``.``, ``_``, ``__`` or runs of ``-``; at most 255 characters in total. This grammar
already forbids ``..``, empty components and leading or trailing separators, so path
traversal through a name is impossible once it validates.
"""

from __future__ import annotations

import re

from wasmhub.oci.errors import ManifestInvalid, NameInvalid

MAX_NAME_LENGTH = 255
MAX_TAG_LENGTH = 128

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")


def is_valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and NAME_RE.match(name) is not None


def validate_name(name: str) -> str:
    """Return ``name`` or raise NameInvalid explaining the rule broken."""
    if len(name) > MAX_NAME_LENGTH:
        raise NameInvalid(f"repository name is longer than {MAX_NAME_LENGTH} characters")
    if not NAME_RE.match(name):
        raise NameInvalid(
            f"invalid repository name {name[:100]!r}: use lowercase letters, digits and "
            "'.', '_', '__', '-' between them, with '/' between path components"
        )
    return name


def is_valid_tag(tag: str) -> bool:
    return TAG_RE.match(tag) is not None


def validate_tag(tag: str) -> str:
    """Return ``tag`` or raise ManifestInvalid (the spec's code for a bad reference)."""
    if not TAG_RE.match(tag):
        raise ManifestInvalid(
            f"invalid tag {tag[:150]!r}: up to 128 of [A-Za-z0-9._-], not starting with '.' or '-'"
        )
    return tag
