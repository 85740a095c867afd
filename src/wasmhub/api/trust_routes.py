"""REST v1 for trust: a namespace's registered keys and policy, the hub-wide default policy,
and the verified signatures and attestations of one plugin version.

Read-only: keys and policies are changed with ``wasmhub trust ...`` (admin) until
identity's organization owners can do it through the API. Errors: api.problems.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from wasmhub.api.access import CurrentPrincipal, Ident
from wasmhub.api.routes import NOT_FOUND, Catalog, Name, Namespace, Tag, etagged
from wasmhub.authz.permissions import Permission
from wasmhub.signing.index import SignatureIndex
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


def _trust(request: Request) -> TrustService:
    return TrustService(request.app.state.hub)


@trust_router.get("/namespaces/{namespace}/trust", response_model=TrustOut,
                  summary="A namespace's trust policy and registered keys")
def get_trust(request: Request, namespace: TrustNamespace) -> Response:
    service = _trust(request)
    payload = TrustOut(namespace=namespace,
                       policy=TrustPolicyOut(**service.policy(namespace).to_json()),
                       keys=[TrustKeyOut(**k.to_json()) for k in service.keys(namespace)])
    return etagged(request, payload)


@trust_router.get("/namespaces/{namespace}/keys", response_model=list[TrustKeyOut],
                  summary="Public keys registered by a namespace (revoked ones included)")
def list_keys(request: Request, namespace: TrustNamespace) -> Response:
    keys = [TrustKeyOut(**k.to_json()) for k in _trust(request).keys(namespace)]
    return etagged(request, keys)


@trust_router.get("/namespaces/{namespace}/trust-policy", response_model=TrustPolicyOut,
                  summary="The trust policy that applies to a namespace")
def namespace_policy(request: Request, namespace: TrustNamespace) -> Response:
    return etagged(request, TrustPolicyOut(**_trust(request).policy(namespace).to_json()))


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
