"""REST v1 for trust: a namespace's registered keys and policy, the hub-wide default policy,
and the verified signatures and attestations of one plugin version.

Reads are for whoever may read the namespace (a private one is 404 to others). Changes
(register a key, revoke one, set the namespace's policy) need ``namespace:trust``
(organization owners, the owner of a user namespace, site admins), CSRF for browser
sessions (``api.access``); :class:`TrustService` checks, changes and audits. Errors:
api.problems (bad PEM 400, duplicate 409, unknown key 404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from wasmhub.api.access import CurrentPrincipal, Ident
from wasmhub.api.routes import NOT_FOUND, Catalog, Name, Namespace, Tag, etagged
from wasmhub.authz.identity import Identity
from wasmhub.authz.permissions import Permission
from wasmhub.authz.principal import Principal
from wasmhub.signing.index import SignatureIndex
from wasmhub.signing.policy import TrustMode
from wasmhub.signing.trust import TrustService

trust_router = APIRouter(prefix="/v1")
TrustNamespace = Annotated[str, Path(max_length=128, pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")]


class TrustKeyOut(BaseModel):
    namespace: str
    name: str
    fingerprint: str = Field(description="sha256 of the DER SubjectPublicKeyInfo.")
    key_id: str
    public_key: str = Field(description="PEM PUBLIC KEY (ECDSA P-256).")
    status: str = Field(description="active, expired or revoked.")
    created_at: str
    created_by: str
    expires_at: str | None
    revoked_at: str | None
    revoked_reason: str | None


class TrustPolicyOut(BaseModel):
    namespace: str
    mode: str = Field(description="optional, required-for-deploy or required-for-pull.")
    source: str = Field(description="namespace, default (hub-wide) or built-in.")


class TrustOut(BaseModel):
    namespace: str
    policy: TrustPolicyOut
    keys: list[TrustKeyOut]


class SignaturesOut(BaseModel):
    repository: str
    digest: str
    verified: bool = Field(description="A signature by a valid namespace key verifies.")
    signatures: list[dict[str, Any]]
    attestations: list[dict[str, Any]]
    rejected: list[dict[str, str]] = Field(description="Signatures that did not verify, why.")
    other_referrers: list[dict[str, Any]]


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="The key's name in the namespace.")
    public_key: str = Field(min_length=1, max_length=20_000,
                            description="PEM PUBLIC KEY (ECDSA P-256), e.g. cosign.pub.")
    expires_at: datetime | None = Field(default=None, description="No signature counts after.")


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class PolicyIn(BaseModel):
    mode: TrustMode


def _trust(request: Request) -> TrustService:
    return TrustService(request.app.state.hub)


def _readable(identity: Identity, principal: Principal, namespace: str) -> None:
    identity.access.require(principal, Permission.REPOSITORY_READ, namespace=namespace,
                            what=f"namespace {namespace}")


@trust_router.get("/namespaces/{namespace}/trust", response_model=TrustOut,
                  summary="A namespace's trust policy and registered keys")
def get_trust(request: Request, namespace: TrustNamespace, principal: CurrentPrincipal,
              identity: Ident) -> Response:
    _readable(identity, principal, namespace)
    service = _trust(request)
    payload = TrustOut(namespace=namespace,
                       policy=TrustPolicyOut(**service.policy(namespace).to_json()),
                       keys=[TrustKeyOut(**k.to_json()) for k in service.keys(namespace)])
    return etagged(request, payload)


@trust_router.get("/namespaces/{namespace}/keys", response_model=list[TrustKeyOut],
                  summary="Public keys registered by a namespace (revoked ones included)")
def list_keys(request: Request, namespace: TrustNamespace, principal: CurrentPrincipal,
              identity: Ident) -> Response:
    _readable(identity, principal, namespace)
    keys = [TrustKeyOut(**k.to_json()) for k in _trust(request).keys(namespace)]
    return etagged(request, keys)


@trust_router.get("/namespaces/{namespace}/trust-policy", response_model=TrustPolicyOut,
                  summary="The trust policy that applies to a namespace")
def namespace_policy(request: Request, namespace: TrustNamespace, principal: CurrentPrincipal,
                     identity: Ident) -> Response:
    _readable(identity, principal, namespace)
    return etagged(request, TrustPolicyOut(**_trust(request).policy(namespace).to_json()))


@trust_router.post("/namespaces/{namespace}/keys", response_model=TrustKeyOut, status_code=201,
                   responses=NOT_FOUND, summary="Register a trusted public key (owners)")
def add_key(request: Request, namespace: TrustNamespace, body: KeyIn,
            principal: CurrentPrincipal) -> TrustKeyOut:
    view = _trust(request).add_key(namespace, body.name, body.public_key.encode(), principal,
                                   body.expires_at)
    return TrustKeyOut(**view.to_json())


@trust_router.post("/namespaces/{namespace}/keys/{key}/revoke", response_model=TrustKeyOut,
                   responses=NOT_FOUND,
                   summary="Revoke a key, by name or fingerprint (owners)")
def revoke_key(request: Request, namespace: TrustNamespace,
               key: Annotated[str, Path(min_length=1, max_length=80)], body: RevokeIn,
               principal: CurrentPrincipal) -> TrustKeyOut:
    view = _trust(request).revoke_key(namespace, key, body.reason, principal)
    return TrustKeyOut(**view.to_json())


@trust_router.put("/namespaces/{namespace}/trust-policy", response_model=TrustPolicyOut,
                  responses=NOT_FOUND, summary="Set a namespace's signature policy (owners)")
def set_namespace_policy(request: Request, namespace: TrustNamespace, body: PolicyIn,
                         principal: CurrentPrincipal) -> TrustPolicyOut:
    policy = _trust(request).set_policy(namespace, body.mode, principal)
    return TrustPolicyOut(**policy.to_json())


@trust_router.get("/trust-policy", response_model=TrustPolicyOut,
                  summary="The hub-wide default trust policy")
def default_policy(request: Request) -> Response:
    return etagged(request, TrustPolicyOut(**_trust(request).default_policy().to_json()))


@trust_router.get(
    "/plugins/{namespace}/{name:path}/versions/{tag}/signatures", response_model=SignaturesOut,
    responses=NOT_FOUND, summary="Signatures and attestations of one version, verified",
)
def version_signatures(request: Request, namespace: Namespace, name: Name, tag: Tag,
                       service: Catalog, principal: CurrentPrincipal,
                       identity: Ident) -> Response:
    identity.access.require(principal, Permission.REPOSITORY_READ,
                            repository=f"{namespace}/{name}", what=f"plugin {namespace}/{name}")
    version = service.get_version(namespace, name, tag)
    report = SignatureIndex(request.app.state.hub).report(
        f"{namespace}/{name}", version.version.digest)
    return etagged(request, SignaturesOut(**report.to_json()))
