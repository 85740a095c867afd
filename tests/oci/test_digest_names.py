"""Digest parsing and the repository-name and tag grammars."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wasmhub.errors import InputError
from wasmhub.oci.digest import Digest, DigestAlgorithm, sha256_digest
from wasmhub.oci.errors import DigestInvalid, ManifestInvalid, NameInvalid
from wasmhub.oci.names import (
    MAX_NAME_LENGTH,
    is_valid_name,
    is_valid_tag,
    validate_name,
    validate_tag,
)

SPEC_NAME = re.compile(
    r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$"
)
SPEC_TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")


def test_sha256_and_sha512_parse() -> None:
    d = Digest.parse(sha256_digest(b"x"))
    assert d.algorithm is DigestAlgorithm.SHA256
    assert d.matches(b"x") and not d.matches(b"y")
    d512 = Digest.parse("sha512:" + hashlib.sha512(b"x").hexdigest())
    assert d512.algorithm is DigestAlgorithm.SHA512
    assert str(d512) == "sha512:" + hashlib.sha512(b"x").hexdigest()


@pytest.mark.parametrize(
    "text",
    [
        "", "sha256", "sha256:", "sha256:abc", "md5:" + "a" * 32, "sha256:" + "A" * 64,
        "sha256:" + "g" * 64, "sha512:" + "a" * 64, "SHA256:" + "a" * 64,
        "sha256:" + "a" * 65, "../../etc:passwd",
    ],
)
def test_bad_digests(text: str) -> None:
    with pytest.raises(DigestInvalid) as info:
        Digest.parse(text)
    assert isinstance(info.value, InputError)
    assert info.value.code == "DIGEST_INVALID"


@pytest.mark.parametrize(
    "name",
    ["a", "library/ubuntu", "a.b_c__d---e/f0", "x" * 255, "foo/bar/baz/qux", "0-0"],
)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "A", "a/", "/a", "a//b", "../a", "a/../b", "a/./b", "a..b", "a-", "-a", "a___b",
     "a" * 256, "a:b", "a b", "_catalog", "a/_b", "a%2fb"],
)
def test_invalid_names(name: str) -> None:
    assert not is_valid_name(name)
    with pytest.raises(NameInvalid):
        validate_name(name)


@given(st.from_regex(SPEC_NAME, fullmatch=True))
def test_names_matching_the_spec_regex_are_valid_up_to_255(name: str) -> None:
    assert is_valid_name(name) == (len(name) <= MAX_NAME_LENGTH)


@given(st.text(alphabet="ab-._/Z0", max_size=20))
def test_name_validation_agrees_with_the_spec_regex(name: str) -> None:
    assert is_valid_name(name) == bool(SPEC_NAME.match(name))


@given(st.text(alphabet="aZ9_.-:/ ", max_size=140))
def test_tag_validation_agrees_with_the_spec_regex(tag: str) -> None:
    assert is_valid_tag(tag) == bool(SPEC_TAG.match(tag))


def test_tag_errors() -> None:
    assert validate_tag("v1.0.0_rc-1") == "v1.0.0_rc-1"
    for bad in ["", ".hidden", "-x", "a" * 129, "a:b", "a/b"]:
        with pytest.raises(ManifestInvalid):
            validate_tag(bad)
    assert validate_tag("a" * 128)
