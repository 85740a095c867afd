"""What the CLI verbs share about trust: passphrases, ``--key`` loading, the hub's trust
settings of a namespace, and the check made before a pulled plugin is written or run.

``verified_digest`` is the one gate of ``pull``, ``run`` and ``test`` on a registry
reference: it resolves the reference to a digest, verifies that digest when asked
(``--verify``) or when the namespace's policy requires it (``required-for-pull``), and
returns the digest to fetch, so what is written or run is exactly what was verified.
"""

from __future__ import annotations

import os
import sys

import typer

from wasmhub.client.registry import RegistryClient
from wasmhub.errors import ConfigError, NotFoundError
from wasmhub.oci.reference import Reference
from wasmhub.signing.errors import PassphraseError
from wasmhub.signing.gate import hub_trust
from wasmhub.signing.keys import SigningKey
from wasmhub.signing.keystore import KeyStore
from wasmhub.signing.policy import Purpose, ensure_trusted
from wasmhub.signing.remote import ClientReader, Report, require_signature, verify_manifest
from wasmhub.signing.verify import Expected, TrustedKey

PASSPHRASE_ENV = "WASMHUB_KEY_PASSPHRASE"


def namespace_of(ref: Reference) -> str:
    return ref.repository.split("/", 1)[0] if "/" in ref.repository else "library"


def read_passphrase(from_stdin: bool, *, confirm: bool = False, what: str = "key") -> str:
    """``--passphrase-stdin``, else ``$WASMHUB_KEY_PASSPHRASE``, else a prompt on a tty."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise PassphraseError("--passphrase-stdin read an empty passphrase")
        return line
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    if not sys.stdin.isatty():
        raise PassphraseError(f"no passphrase for the {what}: set {PASSPHRASE_ENV} or pass "
                              "--passphrase-stdin")
    text: str = typer.prompt(f"Passphrase for the {what}", hide_input=True,
                             confirmation_prompt=confirm)
    return text


def load_signing_key(key: str, from_stdin: bool) -> SigningKey:
    store = KeyStore()
    path = store.private_path(key)
    data = path.read_bytes()
    passphrase = read_passphrase(from_stdin, what=str(path)) if b"ENCRYPTED" in data else None
    return SigningKey.from_pem(data, passphrase, str(path))


def local_keys(names: list[str]) -> list[TrustedKey]:
    store = KeyStore()
    return [TrustedKey(store.resolve_public(name), name) for name in names]


def org_keys(registry_url: str, org: str, hub_url: str | None,
             insecure: bool) -> list[TrustedKey]:
    trust = hub_trust(registry_url, org, hub_url, insecure)
    if trust is None:
        raise NotFoundError(f"{hub_url or registry_url} has no trust settings (not a "
                            "wasmhub?); verify with --key instead")
    if not trust[1]:
        raise NotFoundError(f"namespace {org} has registered no keys on "
                            f"{hub_url or registry_url}")
    return trust[1]


def resolve_digest(client: RegistryClient, ref: Reference) -> str:
    if ref.digest:
        return ref.digest
    descriptor = client.head_manifest(ref.repository, ref.reference)
    if descriptor is None:  # a GET makes the registry say why, in its own words
        return client.get_manifest(ref.repository, ref.reference).digest
    return descriptor.digest


def verify_with(client: RegistryClient, ref: Reference, digest: str,
                keys: list[TrustedKey]) -> Report:
    report = verify_manifest(ClientReader(client),
                             Expected(digest, ref.repository, ref.registry), keys)
    require_signature(report, f"{ref.registry}/{ref.repository}@{digest}")
    return report


def verified_digest(client: RegistryClient, ref: Reference, *, verify: bool = False,
                    keys: list[str] | None = None, hub_url: str | None = None,
                    insecure: bool = False) -> tuple[str, Report | None]:
    """(digest to fetch, the verification report if one was made); raises when refused."""
    digest = resolve_digest(client, ref)
    if verify and keys:
        return digest, verify_with(client, ref, digest, local_keys(keys))
    # Fails closed: a wasmhub whose trust API errors stops the pull; a plain registry
    # (no such API) has no policy.
    trust = hub_trust(client.base_url, namespace_of(ref), hub_url, insecure)
    if verify:
        if trust is None or not trust[1]:
            raise ConfigError(f"--verify needs keys: {ref.registry} has no trusted keys for "
                              f"{namespace_of(ref)}; give --key")
        return digest, verify_with(client, ref, digest, trust[1])
    if trust is None:
        return digest, None
    policy, trusted = trust
    decision = ensure_trusted(ref, digest, policy, trusted, ClientReader(client), Purpose.PULL)
    return digest, decision.report
