"""A transferred plugin's signatures: cosign's ``docker-reference`` names the old
repository, so after a transfer the catalog must stop showing the badge (re-signing for
the new name brings it back: docs/operations.md)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.signing.conftest import ServedHub, generate_key, publish, sign
from wasmhub.authz.principal import Principal, PrincipalKind
from wasmhub.orgs.transfer import TransferService


def _signed_by(served: ServedHub, repository: str) -> dict[str, list[str]]:
    body = httpx.get(f"{served.url}/api/v1/plugins/{repository}").json()
    return {v["tag"]: v["signed_by"] for v in body["versions"]}


def test_transfer_drops_the_badge_of_signatures_naming_the_old_repository(
        served: ServedHub, tmp_path: Path) -> None:
    public = generate_key("release")
    plugin = publish(served.host, tmp_path, name="badged")
    sign(plugin.ref, "release")
    identity = served.hub.identity
    info = identity.accounts.create_user("alice", "alice@example.com", "correct horse battery")
    alice = Principal(PrincipalKind.USER, user_id=info.id, username=info.username)
    for org in ("acme", "beta"):
        identity.orgs.create(alice, org)
        served.trust.add_key(org, "release", public.read_bytes(), "alice")
    assert _signed_by(served, "acme/badged") == {"1.0.0": ["release"]}

    result = TransferService(served.hub).transfer(alice, "acme/badged", "beta")
    assert (result.destination, result.signatures_dropped) == ("beta/badged", 1)
    # The signature moved with the repository's tags but names acme/badged: not trusted.
    assert _signed_by(served, "beta/badged") == {"1.0.0": []}
    signed = httpx.get(f"{served.url}/api/v1/plugins", params={"signed": "yes"}).json()
    assert signed["items"] == []
