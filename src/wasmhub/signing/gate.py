"""The trust gate as a client of a hub sees it: the namespace's policy and keys over HTTP,
then :func:`~wasmhub.signing.policy.ensure_trusted` against the plugin's registry.

``hub_trust`` reads ``GET /api/v1/namespaces/{ns}/trust``; ``remote_decision`` is the one
check ``wasmhub pull``/``deploy`` and the operator make before anything is fetched, written
or applied. A plain registry (no trust API) has no policy: ``None``. A wasmhub whose trust
API fails raises (fails closed).
"""

from __future__ import annotations

from wasmhub.client.hub import HubClient
from wasmhub.client.registry import RegistryClient
from wasmhub.oci.reference import Reference
from wasmhub.signing.policy import (
    Policy,
    Purpose,
    TrustDecision,
    ensure_trusted,
    keys_from_json,
    policy_from_json,
)
from wasmhub.signing.remote import ClientReader
from wasmhub.signing.verify import TrustedKey


def hub_trust(registry_url: str, namespace: str, hub_url: str | None,
              insecure: bool) -> tuple[Policy, list[TrustedKey]] | None:
    """The namespace's policy and keys from the hub (by default the registry itself, at the
    URL its client settled on), or None when it is a plain registry without trust API."""
    with HubClient(hub_url or registry_url, insecure=insecure) as hub:
        data = hub.trust(namespace)
    if data is None:
        return None
    return policy_from_json(dict(data["policy"])), keys_from_json(list(data.get("keys") or []))


def remote_decision(registry: str, repository: str, digest: str, *, hub_url: str,
                    purpose: Purpose, force: bool = False,
                    insecure: bool = False) -> TrustDecision | None:
    """``ensure_trusted`` for ``registry/repository@digest`` with the policy and keys the
    hub at ``hub_url`` gives the repository's namespace; None for a plain registry.
    Raises ``UntrustedPlugin`` when the policy refuses it."""
    namespace = repository.split("/", 1)[0] if "/" in repository else "library"
    trust = hub_trust(hub_url, namespace, None, insecure)
    if trust is None:
        return None
    policy, keys = trust
    ref = Reference.parse(f"{registry}/{repository}@{digest}")
    with RegistryClient(registry, insecure=insecure) as client:
        return ensure_trusted(ref, digest, policy, keys, ClientReader(client), purpose,
                              force=force)
