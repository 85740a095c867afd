"""Trust verbs: ``sign``, ``verify``, ``attest``, ``attestations`` and ``key generate|import|list``.

Signatures follow cosign's key-pair format and are written both under the cosign tag and
as an OCI 1.1 referrer (``wasmhub.signing``, docs/trust.md). ``--key`` is a name in the
local key store (``wasmhub key list``) or a PEM file. Private keys' passphrases come from
``--passphrase-stdin``, ``$WASMHUB_KEY_PASSPHRASE`` or a prompt. Exit 1 when verification
fails, 2 for bad usage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from wasmhub.cli.artifacts import InsecureOpt, emit_json, handle_errors, parse_ref
from wasmhub.cli.console import err, out
from wasmhub.cli.options import JsonOpt
from wasmhub.cli.trust_checks import (
    load_signing_key,
    local_keys,
    org_keys,
    read_passphrase,
    resolve_digest,
)
from wasmhub.client.registry import RegistryClient
from wasmhub.errors import ConfigError
from wasmhub.oci.reference import Reference
from wasmhub.signing.errors import KeyFormatError, VerificationFailed
from wasmhub.signing.keys import PublicKey, SigningKey
from wasmhub.signing.keystore import KeyStore, check_name
from wasmhub.signing.predicates import AttestationKind, classify
from wasmhub.signing.remote import (
    ClientReader,
    Report,
    attest_image,
    require_signature,
    sign_image,
    verify_manifest,
)
from wasmhub.signing.verify import Expected, TrustedKey

KeyOpt = Annotated[str, typer.Option("--key", "-k", help="Key name in the store or PEM file.")]
StdinOpt = Annotated[bool, typer.Option(
    "--passphrase-stdin", help="Read the private key's passphrase from stdin.")]
VerifyKeysOpt = Annotated[list[str] | None, typer.Option(
    "--key", "-k", help="Public key (store name or PEM file); repeatable.")]
OrgOpt = Annotated[str | None, typer.Option(
    "--org", help="Verify with the keys this namespace registered in the hub.")]
HubUrlOpt = Annotated[str | None, typer.Option(
    "--hub", help="Hub that holds the --org keys (default: the reference's registry).")]


def _annotations(items: list[str]) -> dict[str, str]:
    result = {}
    for item in items:
        key, found, value = item.partition("=")
        if not found or not key.strip():
            raise ConfigError(f"--annotation expects KEY=VALUE, got {item!r}")
        result[key.strip()] = value
    return result


@handle_errors
def sign(
    reference: Annotated[str, typer.Argument(help="host[:port]/repository[:tag|@digest]")],
    key: KeyOpt,
    annotation: Annotated[list[str] | None, typer.Option(
        "--annotation", "-a", help="Extra signed claim KEY=VALUE (payload 'optional').")] = None,
    tag_only: Annotated[bool, typer.Option(
        "--tag-only", help="Only the cosign tag, no OCI referrer.")] = False,
    referrer_only: Annotated[bool, typer.Option(
        "--referrer-only", help="Only the OCI 1.1 referrer, no cosign tag.")] = False,
    passphrase_stdin: StdinOpt = False,
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Sign the manifest a reference names (cosign tag + OCI 1.1 referrer)."""
    if tag_only and referrer_only:
        raise ConfigError("give --tag-only or --referrer-only, not both")
    ref = parse_ref(reference)
    claims = _annotations(annotation or [])
    signing_key = load_signing_key(key, passphrase_stdin)  # before anything is written
    with RegistryClient(ref.registry, insecure=insecure) as client:
        result = sign_image(client, ref, signing_key, annotations=claims,
                            tag=not referrer_only, referrer=not tag_only)
    if as_json:
        emit_json(result.to_json())
        return
    out.print(f"signed {result.reference} with key {result.key_id}")
    if result.tag:
        out.print(f"cosign tag: {result.tag}")
    if result.referrer:
        out.print(f"referrer:   {result.referrer}")


def _keys_for(registry_url: str, key: list[str] | None, org: str | None, hub: str | None,
              insecure: bool) -> list[TrustedKey]:
    if key and org:
        raise ConfigError("give --key or --org, not both")
    if key:
        return local_keys(key)
    if org:
        return org_keys(registry_url, org, hub, insecure)
    raise ConfigError("name the keys to trust: --key K (repeatable) or --org ORG")


def _print_report(report: Report, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("kind", "key", "found in", "claims"):
        table.add_column(column, overflow="fold")
    for item in report.verified:
        claims = item.predicate_type or ", ".join(f"{k}={v}" for k, v in item.optional.items())
        table.add_row(item.kind, escape(item.key.label), escape(", ".join(item.sources)),
                      escape(claims or "-"))
    out.print(table)
    for rejection in report.rejections:
        err.print(f"[yellow]rejected[/] {escape(rejection.source)}: {escape(rejection.reason)}")


def _verified_report(ref: Reference, key: list[str] | None, org: str | None,
                     hub: str | None, insecure: bool) -> tuple[str, Report]:
    """(digest, verification report) of ``ref`` against ``--key`` or ``--org`` keys."""
    with RegistryClient(ref.registry, insecure=insecure) as client:
        keys = _keys_for(client.base_url, key, org, hub, insecure)
        digest = resolve_digest(client, ref)
        report = verify_manifest(ClientReader(client),
                                 Expected(digest, ref.repository, ref.registry), keys)
    return digest, report


@handle_errors
def verify(
    reference: Annotated[str, typer.Argument(help="host[:port]/repository[:tag|@digest]")],
    key: VerifyKeysOpt = None,
    org: OrgOpt = None,
    hub: HubUrlOpt = None,
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify a plugin's signatures with your keys or its organization's trusted keys."""
    ref = parse_ref(reference)
    digest, report = _verified_report(ref, key, org, hub, insecure)
    what = f"{ref.registry}/{ref.repository}@{digest}"
    if as_json:
        emit_json(report.to_json())
        if not report.signatures:
            raise typer.Exit(1)
        return
    require_signature(report, what)
    _print_report(report, f"{what}: {len(report.signatures)} valid signature(s)")


@handle_errors
def attest(
    reference: Annotated[str, typer.Argument(help="host[:port]/repository[:tag|@digest]")],
    document: Annotated[Path, typer.Argument(help="SBOM (SPDX/CycloneDX JSON) or SLSA "
                                                  "provenance predicate (JSON).")],
    kind: Annotated[AttestationKind, typer.Option("--type", help="sbom or provenance.")],
    key: KeyOpt,
    passphrase_stdin: StdinOpt = False,
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Attach a signed SBOM or provenance attestation (an OCI 1.1 referrer)."""
    ref = parse_ref(reference)
    try:
        data = document.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {document}: {exc.strerror}") from exc
    predicate_type, predicate = classify(kind, data, str(document))
    signing_key = load_signing_key(key, passphrase_stdin)
    with RegistryClient(ref.registry, insecure=insecure) as client:
        result = attest_image(client, ref, signing_key, kind.value, predicate_type, predicate)
    if as_json:
        emit_json(result.to_json())
        return
    out.print(f"attached {kind.value} ({predicate_type}) to {result.reference}")
    out.print(f"referrer: {result.referrer}")


@handle_errors
def attestations(
    reference: Annotated[str, typer.Argument(help="host[:port]/repository[:tag|@digest]")],
    key: VerifyKeysOpt = None,
    org: OrgOpt = None,
    hub: HubUrlOpt = None,
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """List a plugin's attestations and verify each (exit 1 if one does not verify)."""
    ref = parse_ref(reference)
    digest, report = _verified_report(ref, key, org, hub, insecure)
    rejected = [r for r in report.rejections if r.source in report.attestation_kinds]
    if as_json:
        data = report.to_json()
        emit_json({"repository": data["repository"], "digest": digest,
                   "attestations": data["attestations"],
                   "rejected": [r.to_json() for r in rejected]})
    else:
        table = Table(title=f"{ref.registry}/{ref.repository}@{digest}: attestations",
                      title_justify="left")
        for column in ("type", "predicate", "key", "referrer", "status"):
            table.add_column(column, overflow="fold")
        for item in report.attestations:
            table.add_row(report.attestation_kinds.get(item.sources[0], ""),
                          item.predicate_type or "", escape(item.key.label),
                          item.sources[0].removeprefix("referrer "), "[green]verified[/]")
        for rejection in rejected:
            table.add_row(report.attestation_kinds.get(rejection.source, ""), "", "-",
                          rejection.source.removeprefix("referrer "),
                          f"[red]{escape(rejection.reason)}[/]")
        out.print(table)
        if not report.attestations and not rejected:
            out.print("no attestations")
    if rejected:
        raise VerificationFailed(f"{len(rejected)} attestation(s) did not verify: "
                                 f"{rejected[0].reason}", tuple(rejected))


# -- key store -------------------------------------------------------------------------------

key_app = typer.Typer(help="The local key store (see `wasmhub key list` for its path).",
                      no_args_is_help=True)


@key_app.command("generate")
@handle_errors
def key_generate(
    name: Annotated[str, typer.Argument(help="Name in the key store.")],
    passphrase_stdin: StdinOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Make an ECDSA P-256 key pair; the private key is stored encrypted."""
    store = KeyStore()
    check_name(name)
    passphrase = read_passphrase(passphrase_stdin, confirm=True, what=f"new key {name}")
    stored = store.add(name, (key := SigningKey.generate()).public, key, passphrase)
    if as_json:
        emit_json(stored.to_json())
        return
    out.print(f"generated key {name} ({stored.public.key_id})")
    out.print(f"private: {stored.private_path}")
    out.print(f"public:  {stored.public_path}  (share this one)")


@key_app.command("import")
@handle_errors
def key_import(
    file: Annotated[Path, typer.Argument(help="PEM private key (PKCS#8 or EC) or public key.")],
    name: Annotated[str, typer.Option("--name", help="Name in the key store.")],
    passphrase_stdin: StdinOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a PEM key to the store (a private key is re-encrypted with your passphrase)."""
    store = KeyStore()
    check_name(name)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from exc
    if b"PRIVATE KEY" in data:
        passphrase = read_passphrase(passphrase_stdin, what=str(file)) \
            if b"ENCRYPTED" in data else None
        private = SigningKey.from_pem(data, passphrase, str(file))
        if passphrase is None:
            passphrase = read_passphrase(passphrase_stdin, confirm=True,
                                         what=f"stored key {name}")
        stored = store.add(name, private.public, private, passphrase)
    elif b"PUBLIC KEY" in data:
        stored = store.add(name, PublicKey.from_pem(data, str(file)))
    else:
        raise KeyFormatError(f"{file} holds no PEM PUBLIC KEY or PRIVATE KEY")
    if as_json:
        emit_json(stored.to_json())
        return
    kind = "key pair" if stored.has_private else "public key"
    out.print(f"imported {kind} {name} ({stored.public.key_id})")


@key_app.command("list")
@handle_errors
def key_list(as_json: JsonOpt = False) -> None:
    """The keys in the local store."""
    store = KeyStore()
    keys = store.list()
    if as_json:
        emit_json({"path": str(store.path), "keys": [k.to_json() for k in keys]})
        return
    table = Table(title=f"{len(keys)} key(s) in {store.path}", title_justify="left")
    for column in ("name", "key id", "private", "fingerprint"):
        table.add_column(column, overflow="fold")
    for k in keys:
        table.add_row(k.name, k.public.key_id, "yes" if k.has_private else "no",
                      k.public.fingerprint)
    out.print(table)


def register(app: typer.Typer) -> None:
    for verb in (sign, verify, attest, attestations):
        app.command()(verb)
    app.add_typer(key_app, name="key")
