"""REST v1 for identity and access: who am I, API tokens, organizations, members,
invitations, teams and grants, visibility and repository settings, the audit log.

Every change goes through :class:`wasmhub.orgs.service.OrgService` or
:class:`wasmhub.authz.tokens.TokenService` after the one permission check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response, StreamingResponse

from wasmhub.api.access import CurrentPrincipal, Ident, SignedIn
from wasmhub.authz.audit import AuditAction
from wasmhub.authz.permissions import Permission
from wasmhub.authz.tokens import TokenInfo
from wasmhub.errors import NotFoundError, PermissionDeniedError
from wasmhub.orgs.transfer import TransferService

router = APIRouter(prefix="/v1")
NAME_RE = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$"
REPO_RE = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"
OrgName = Annotated[str, Path(max_length=64, pattern=NAME_RE)]
UserName = Annotated[str, Path(max_length=64, pattern=NAME_RE)]


class MeOut(BaseModel):
    kind: str
    username: str | None
    site_admin: bool
    organizations: dict[str, str]
    invitations: dict[str, str]


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Literal["pull", "push", "delete", "admin"]] = Field(min_length=1)
    resources: list[Annotated[str, Field(max_length=255, pattern=REPO_RE)]] = Field(
        default_factory=list, max_length=50,
        description="Namespaces or repositories the token is limited to; empty = all.")
    organization: str | None = Field(None, max_length=64, pattern=NAME_RE,
                                     description="Make an organization token.")
    expires_days: int | None = Field(90, ge=1, le=366)


class TokenOut(BaseModel):
    id: int
    name: str
    owner: str
    kind: str
    scopes: list[str]
    resources: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool
    token: str | None = Field(None, description="The secret; shown only when created.")

    @classmethod
    def of(cls, info: TokenInfo, secret: str | None = None) -> TokenOut:
        return cls(id=info.id, name=info.name, owner=info.owner, kind=info.kind,
                   scopes=list(info.scopes), resources=list(info.resources),
                   created_at=info.created_at, expires_at=info.expires_at,
                   last_used_at=info.last_used_at, revoked=info.revoked, token=secret)


class OrgIn(BaseModel):
    name: str = Field(max_length=64, pattern=NAME_RE)


class TeamOut(BaseModel):
    name: str
    members: list[str]
    grants: dict[str, str]


class OrgOut(BaseModel):
    name: str
    private: bool
    members: dict[str, str]
    teams: list[TeamOut]
    invitations: dict[str, str]


class RoleIn(BaseModel):
    role: Literal["owner", "maintainer", "member"]


class InviteIn(BaseModel):
    username: str = Field(max_length=64, pattern=NAME_RE)
    role: Literal["owner", "maintainer", "member"] = "member"


class GrantIn(BaseModel):
    repository: str = Field(max_length=255, description="A repository of the org, or *.")
    permission: Literal["read", "write", "admin"] | None


class VisibilityIn(BaseModel):
    private: bool


class RepositorySettingsIn(BaseModel):
    private: bool | None = None
    tag_immutable: bool | None = None


class TransferIn(BaseModel):
    # Checked by the service (400 problem+json with the reason), not by a pattern (422).
    to_namespace: str = Field(min_length=1, max_length=128,
                              description="The namespace the plugin moves to.")


class TransferOut(BaseModel):
    source: str
    destination: str
    tags: int
    versions: int
    signatures_dropped: int = Field(description="Signature index rows of the old name; "
                                    "cosign signatures name the old repository, re-sign.")


class RepositorySettingsOut(BaseModel):
    repository: str
    private: bool
    tag_immutable: bool


@router.get("/me", response_model=MeOut, summary="Who the credentials belong to")
def me(principal: CurrentPrincipal, identity: Ident) -> MeOut:
    return MeOut(kind=principal.kind.value, username=principal.username,
                 site_admin=principal.is_site_admin,
                 organizations=identity.orgs.organizations_of(principal),
                 invitations=identity.orgs.invitations_of(principal))


# -- tokens -------------------------------------------------------------------------------


@router.post("/tokens", response_model=TokenOut, status_code=201,
             summary="Create an API token (the secret is shown once)")
def create_token(body: TokenIn, principal: SignedIn, identity: Ident) -> TokenOut:
    if not principal.is_person or principal.username is None:
        raise PermissionDeniedError("tokens are created by signed-in people")
    if body.organization is not None:
        identity.access.require(principal, Permission.NAMESPACE_MEMBERS,
                                namespace=body.organization,
                                what=f"organization {body.organization}")
    secret, info = identity.tokens.create(
        name=body.name, scopes=list(body.scopes), resources=body.resources,
        created_by=principal.username, user_id=principal.user_id,
        namespace=body.organization, expires_days=body.expires_days)
    identity.audit.record(AuditAction.TOKEN_CREATE, principal,
                          namespace=body.organization or principal.username,
                          target=str(info.id), name=info.name, scopes=list(info.scopes),
                          resources=list(info.resources))
    return TokenOut.of(info, secret)


@router.get("/tokens", response_model=list[TokenOut], summary="Your (or an org's) tokens")
def list_tokens(principal: SignedIn, identity: Ident,
                organization: Annotated[str | None, Query(max_length=64, pattern=NAME_RE)]
                = None) -> list[TokenOut]:
    if organization is not None:
        identity.access.require(principal, Permission.NAMESPACE_MEMBERS,
                                namespace=organization, what=f"organization {organization}")
        return [TokenOut.of(t) for t in identity.tokens.list(namespace=organization)]
    return [TokenOut.of(t) for t in identity.tokens.list(user_id=principal.user_id)]


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke a token")
def revoke_token(token_id: Annotated[int, Path(ge=1, le=2**31)], principal: SignedIn,
                 identity: Ident) -> Response:
    user_id, org = identity.tokens.owner_of(token_id)
    if org is not None:
        identity.access.require(principal, Permission.NAMESPACE_MEMBERS, namespace=org,
                                what=f"token {token_id}")
    elif user_id != principal.user_id and not principal.is_site_admin:
        raise NotFoundError(f"no token {token_id}")
    identity.tokens.revoke(token_id)
    identity.audit.record(AuditAction.TOKEN_REVOKE, principal,
                          namespace=org or principal.username, target=str(token_id))
    return Response(status_code=204)


# -- organizations ------------------------------------------------------------------------


def _org_out(info: Any) -> OrgOut:
    return OrgOut(name=info.name, private=info.private, members=info.members,
                  teams=[TeamOut(name=t.name, members=list(t.members), grants=t.grants)
                         for t in info.teams], invitations=info.invitations)


@router.post("/orgs", response_model=OrgOut, status_code=201, summary="Create an organization")
def create_org(body: OrgIn, principal: SignedIn, identity: Ident) -> OrgOut:
    return _org_out(identity.orgs.create(principal, body.name))


@router.get("/orgs/{org}", response_model=OrgOut, summary="An organization")
def get_org(org: OrgName, principal: CurrentPrincipal, identity: Ident) -> OrgOut:
    return _org_out(identity.orgs.info(principal, org))


@router.put("/orgs/{org}/members/{username}", status_code=204, summary="Change a role")
def set_member(org: OrgName, username: UserName, body: RoleIn, principal: SignedIn,
               identity: Ident) -> Response:
    identity.orgs.set_role(principal, org, username, body.role)
    return Response(status_code=204)


@router.delete("/orgs/{org}/members/{username}", status_code=204, summary="Remove a member")
def remove_member(org: OrgName, username: UserName, principal: SignedIn, identity: Ident
                  ) -> Response:
    identity.orgs.set_role(principal, org, username, None)
    return Response(status_code=204)


@router.post("/orgs/{org}/invitations", status_code=204, summary="Invite a user")
def invite(org: OrgName, body: InviteIn, principal: SignedIn, identity: Ident) -> Response:
    identity.orgs.invite(principal, org, body.username, body.role)
    return Response(status_code=204)


@router.post("/invitations/{org}/{answer}", status_code=204,
             summary="Accept or decline an invitation")
def answer(org: OrgName, answer: Literal["accept", "decline"], principal: SignedIn,
           identity: Ident) -> Response:
    identity.orgs.answer_invitation(principal, org, answer == "accept")
    return Response(status_code=204)


@router.post("/orgs/{org}/teams", status_code=204, summary="Create a team")
def create_team(org: OrgName, body: OrgIn, principal: SignedIn, identity: Ident) -> Response:
    identity.orgs.create_team(principal, org, body.name)
    return Response(status_code=204)


@router.put("/orgs/{org}/teams/{team}/members/{username}", status_code=204,
            summary="Add a member to a team")
def add_team_member(org: OrgName, team: OrgName, username: UserName, principal: SignedIn,
                    identity: Ident) -> Response:
    identity.orgs.set_team_member(principal, org, team, username, True)
    return Response(status_code=204)


@router.delete("/orgs/{org}/teams/{team}/members/{username}", status_code=204,
               summary="Remove a member from a team")
def remove_team_member(org: OrgName, team: OrgName, username: UserName, principal: SignedIn,
                       identity: Ident) -> Response:
    identity.orgs.set_team_member(principal, org, team, username, False)
    return Response(status_code=204)


@router.put("/orgs/{org}/teams/{team}/grants", status_code=204,
            summary="Give a team read/write/admin on a repository or the namespace (*)")
def grant(org: OrgName, team: OrgName, body: GrantIn, principal: SignedIn, identity: Ident
          ) -> Response:
    identity.orgs.grant(principal, org, team, body.repository, body.permission)
    return Response(status_code=204)


# -- visibility, settings, audit ----------------------------------------------------------


@router.put("/namespaces/{namespace}/visibility", status_code=204,
            summary="Make a namespace private or public")
def namespace_visibility(namespace: OrgName, body: VisibilityIn, principal: SignedIn,
                         identity: Ident) -> Response:
    identity.orgs.set_namespace_private(principal, namespace, body.private)
    return Response(status_code=204)


@router.put("/repositories/{repository:path}/settings", response_model=RepositorySettingsOut,
            summary="Visibility and tag immutability of one repository (plugin)")
def repository_settings(repository: Annotated[str, Path(max_length=255, pattern=REPO_RE)],
                        body: RepositorySettingsIn, principal: SignedIn, identity: Ident
                        ) -> RepositorySettingsOut:
    policy = identity.orgs.set_repository_policy(
        principal, repository, private=body.private, tag_immutable=body.tag_immutable)
    return RepositorySettingsOut(repository=repository, private=policy.private,
                                 tag_immutable=policy.tag_immutable)


@router.post("/plugins/{namespace}/{name:path}/transfer", response_model=TransferOut,
             summary="Move a plugin to another namespace (owners of both)")
def transfer_plugin(namespace: OrgName,
                    name: Annotated[str, Path(max_length=255, pattern=REPO_RE)],
                    body: TransferIn, request: Request, principal: SignedIn) -> TransferOut:
    result = TransferService(request.app.state.hub).transfer(
        principal, f"{namespace}/{name}", body.to_namespace)
    return TransferOut(source=result.source, destination=result.destination,
                       tags=result.tags, versions=result.versions,
                       signatures_dropped=result.signatures_dropped)


@router.get("/namespaces/{namespace}/audit", summary="The namespace's audit log",
            response_model=None)
def audit_log(
    namespace: OrgName, principal: SignedIn, identity: Ident,
    action: Annotated[str | None, Query(max_length=40)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    since: datetime | None = None, until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    format: Annotated[Literal["json", "jsonl"], Query()] = "json",
) -> Any:
    identity.access.require(principal, Permission.NAMESPACE_AUDIT, namespace=namespace)
    filters: dict[str, Any] = {"namespace": namespace, "action": action, "actor": actor,
                               "since": since, "until": until, "limit": limit}
    if format == "jsonl":
        return StreamingResponse(identity.audit.json_lines(**filters),
                                 media_type="application/x-ndjson")
    return [e.to_json() for e in identity.audit.entries(**filters)]
