"""Basic and Bearer challenge flows against a real auth-requiring proxy on loopback."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.client.authproxy import AuthProxy
from wasmhub.client.auth import parse_challenge
from wasmhub.client.credentials import Credential, DockerConfig
from wasmhub.client.errors import RegistryAuthenticationError
from wasmhub.client.registry import RegistryClient
from wasmhub.errors import AuthenticationError
from wasmhub.oci.digest import sha256_digest

pytestmark = pytest.mark.interop


def test_parse_challenge() -> None:
    c = parse_challenge('Bearer realm="https://auth.io/token",service="reg",'
                        'scope="repository:a/b:pull,push"')
    assert c is not None and c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.io/token", "service": "reg",
                        "scope": "repository:a/b:pull,push"}
    basic = parse_challenge('Basic realm="x"')
    assert basic is not None and basic.scheme == "basic"
    assert parse_challenge("") is None


def good(proxy: AuthProxy) -> Credential:
    return Credential(proxy.username, proxy.password)


def test_basic_flow(basic_proxy: AuthProxy) -> None:
    with RegistryClient(basic_proxy.host, credential=good(basic_proxy)) as client:
        client.ping()
        name = f"auth/{uuid.uuid4().hex[:8]}"
        data = os.urandom(50)
        digest = client.upload_blob(name, data)
        assert client.fetch_blob(name, digest) == data
        denied_before = basic_proxy.counts["denied"]
        client.blob_exists(name, digest)
        assert basic_proxy.counts["denied"] == denied_before  # Basic is sent up front now


def test_basic_bad_credentials(basic_proxy: AuthProxy) -> None:
    with RegistryClient(basic_proxy.host, credential=Credential("alice", "wrong")) as client,\
            pytest.raises(AuthenticationError) as info:
        client.ping()
    assert "authentication required" in info.value.message
    assert f"wasmhub login {basic_proxy.host}" in info.value.message


def test_no_credentials(basic_proxy: AuthProxy) -> None:
    with RegistryClient(basic_proxy.host) as client, \
            pytest.raises(RegistryAuthenticationError):
        client.ping()


def test_bearer_flow_with_token_cache(bearer_proxy: AuthProxy) -> None:
    with RegistryClient(bearer_proxy.host, credential=good(bearer_proxy),
                        chunk_size=64 * 1024) as client:
        client.ping()
        name = f"auth/{uuid.uuid4().hex[:8]}"
        data = os.urandom(200_000)  # chunked: several PATCHes on one push token
        tokens_before = bearer_proxy.counts["token"]
        digest = client.upload_blob(name, data)
        assert bearer_proxy.counts["token"] == tokens_before + 1
        assert client.fetch_blob(name, digest) == data  # pull scope: one more token
        assert client.fetch_blob(name, digest) == data  # cached
        assert bearer_proxy.counts["token"] == tokens_before + 2
        assert client.blob_exists(name, sha256_digest(data))


def test_bearer_identity_token_from_docker_config(bearer_proxy: AuthProxy) -> None:
    DockerConfig().store(bearer_proxy.host, Credential(identity_token=bearer_proxy.refresh_token))
    with RegistryClient(bearer_proxy.host) as client:
        name = f"auth/{uuid.uuid4().hex[:8]}"
        digest = client.upload_blob(name, b"via refresh token")
        assert client.blob_exists(name, digest)


def test_bearer_bad_credentials(bearer_proxy: AuthProxy) -> None:
    with RegistryClient(bearer_proxy.host, credential=Credential("alice", "nope")) as client, \
            pytest.raises(AuthenticationError, match="token service refused credentials as"):
        client.ping()
