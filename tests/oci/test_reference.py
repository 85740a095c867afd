"""Image references: parse, print, default registry, typed errors, loopback hosts."""

from __future__ import annotations

import pytest

from wasmhub.errors import InputError
from wasmhub.oci.reference import Reference, ReferenceInvalid, is_loopback_host

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("127.0.0.1:5000/plugin:1.0", "127.0.0.1:5000", "plugin", "1.0", None),
        ("oci://ghcr.io/team/sub/plugin:v2", "ghcr.io", "team/sub/plugin", "v2", None),
        ("localhost/plugin", "localhost", "plugin", None, None),
        (f"reg.example.com/a/b@{DIGEST}", "reg.example.com", "a/b", None, DIGEST),
        (f"reg.example.com:443/a:t@{DIGEST}", "reg.example.com:443", "a", "t", DIGEST),
        ("[::1]:5000/x-y_z.w:latest", "[::1]:5000", "x-y_z.w", "latest", None),
    ],
)
def test_parse(text: str, registry: str, repository: str, tag: str | None,
               digest: str | None) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry, repository, tag, digest)
    assert Reference.parse(str(ref)) == ref


def test_default_registry_and_reference_property() -> None:
    ref = Reference.parse("team/plugin", default_registry="127.0.0.1:5080")
    assert ref.registry == "127.0.0.1:5080"
    assert ref.reference == "latest"
    assert ref.name == "plugin"
    assert ref.with_digest(DIGEST).reference == DIGEST


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("plugin:1.0", "names no registry"),
        ("reg.io/Upper/case", "invalid repository"),
        ("reg.io/a:bad tag", "invalid tag"),
        ("reg.io/a@sha256:zz", "invalid digest"),
    ],
)
def test_parse_errors(text: str, fragment: str) -> None:
    with pytest.raises(ReferenceInvalid, match=fragment) as info:
        Reference.parse(text)
    assert isinstance(info.value, InputError)


def test_loopback() -> None:
    assert is_loopback_host("localhost:5000")
    assert is_loopback_host("127.0.0.2")
    assert is_loopback_host("[::1]:80")
    assert not is_loopback_host("ghcr.io")
    assert not is_loopback_host("10.0.0.1:5000")


def test_oci_grammar_limits() -> None:
    sha512 = "sha512:" + "b" * 128
    assert Reference.parse(f"reg.io/a@{sha512}").digest == sha512
    with pytest.raises(ReferenceInvalid, match="invalid digest"):
        Reference.parse("reg.io/a@sha256:" + "A" * 64)
    with pytest.raises(ReferenceInvalid, match="longer than 255"):
        Reference.parse("reg.io/" + "a" * 256)
