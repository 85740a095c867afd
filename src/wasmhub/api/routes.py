"""REST v1 endpoints: parse, call CatalogService, map the result (errors: api.problems).

GETs carry a weak ETag over the JSON body and answer ``If-None-Match`` with 304. The
caller is the request's principal (``api.access``); every handler that touches one
plugin asks the permission check first, so a private plugin is 404 to whoever may not
read it, and listings only count what the caller may see.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, TypeAdapter
from starlette.responses import Response

from wasmhub.api.access import CurrentPrincipal, Ident, SignedIn
from wasmhub.api.schemas import (
    NO_NUL,
    AddPluginIn,
    FacetCountOut,
    Facets,
    PluginDetailOut,
    PluginList,
    PluginSummaryOut,
    ReasonIn,
    StarState,
    VersionDetailOut,
    VersionSummaryOut,
)
from wasmhub.authz.audit import AuditAction
from wasmhub.authz.identity import Identity
from wasmhub.authz.permissions import Permission
from wasmhub.authz.principal import Principal
from wasmhub.catalog.service import MAX_PER_PAGE, CatalogService
from wasmhub.catalog.types import FacetKind, Localized, Registration, SearchQuery, SortOrder

router = APIRouter(prefix="/v1")

NAMESPACE_RE = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$"
NAME_RE = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"
TAG_RE = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"

Namespace = Annotated[str, Path(max_length=128, pattern=NAMESPACE_RE)]
Name = Annotated[str, Path(max_length=255, pattern=NAME_RE)]
Tag = Annotated[str, Path(max_length=128, pattern=TAG_RE)]
FilterValue = Annotated[str | None, Query(max_length=128, pattern=NO_NUL)]
SignedFilter = Annotated[str | None, Query(
    pattern=r"^yes$", description="`yes`: only plugins whose latest version is signed by a "
    "trusted key of its namespace.")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such plugin or version (problem+json)"}
}


def catalog(request: Request) -> CatalogService:
    service: CatalogService = request.app.state.catalog
    return service


Catalog = Annotated[CatalogService, Depends(catalog)]


def _require(identity: Identity, principal: Principal, permission: Permission,
             namespace: str, name: str) -> None:
    """The one permission check, for the plugin ``namespace/name``."""
    identity.access.require(principal, permission, repository=f"{namespace}/{name}",
                            what=f"plugin {namespace}/{name}")


def _audit(identity: Identity, action: AuditAction, principal: Principal, namespace: str,
           target: str, **detail: Any) -> None:
    identity.audit.record(action, principal, namespace=namespace, target=target, **detail)


def _strip_weak(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def etagged(request: Request, payload: BaseModel | list[Any], status_code: int = 200) -> Response:
    """JSON response with a weak ETag; 304 when the client already has this body."""
    body = (
        payload.model_dump_json().encode() if isinstance(payload, BaseModel)
        else TypeAdapter(list[Any]).dump_json(payload)
    )
    etag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if_none_match = request.headers.get("if-none-match")
    if status_code == 200 and if_none_match:
        wanted = {_strip_weak(t) for t in if_none_match.split(",")}
        if "*" in wanted or _strip_weak(etag) in wanted:
            return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def _icon_url(request: Request, namespace: str, name: str) -> str:
    return str(request.url_for("plugin_icon", namespace=namespace, name=name).path)


@router.get("/plugins", response_model=PluginList, summary="List and search plugins")
def list_plugins(
    request: Request,
    service: Catalog,
    principal: CurrentPrincipal,
    identity: Ident,
    q: Annotated[str, Query(max_length=500, pattern=NO_NUL)] = "",
    category: FilterValue = None,
    abi: FilterValue = None,
    filter_type: FilterValue = None,
    platform: FilterValue = None,
    namespace: FilterValue = None,
    signed: SignedFilter = None,
    sort: SortOrder = SortOrder.RELEVANCE,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
) -> Response:
    result = service.search(SearchQuery(
        q=q, category=category, abi=abi, filter_type=filter_type, platform=platform,
        namespace=namespace, signed=signed, sort=sort, page=page, per_page=per_page,
        visible=identity.access.read_scope(principal),
    ))
    payload = PluginList(
        items=[PluginSummaryOut.of(p) for p in result.items], total=result.total,
        page=result.page, per_page=result.per_page, corrected_q=result.corrected_q,
    )
    return etagged(request, payload)


@router.post(
    "/plugins", response_model=PluginDetailOut, status_code=201,
    summary="Add a plugin by URL (oci:// or https://….wasm)",
    responses={400: {"description": "Unacceptable URL or content, or an unknown host"},
               409: {"description": "Already in the catalog"},
               502: {"description": "The remote server failed"},
               503: {"description": "Too many imports running; retry (Retry-After)"},
               504: {"description": "The remote server was too slow"}},
)
def add_plugin(request: Request, body: AddPluginIn, service: Catalog, principal: SignedIn,
               identity: Ident) -> Response:
    target = body.name or "plugin"
    identity.access.require(principal, Permission.REPOSITORY_PUSH,
                            repository=f"{body.namespace}/{target}",
                            what=f"namespace {body.namespace}")
    detail = service.add_by_url(Registration(
        url=body.url,
        display_name=Localized(body.display_name.en, body.display_name.zh),
        description=Localized(body.description.en, body.description.zh),
        namespace=body.namespace, name=body.name, tag=body.tag,
    ))
    ns, name = detail.summary.namespace, detail.summary.name
    _audit(identity, AuditAction.ADD_BY_URL, principal, ns, f"{ns}/{name}", url=body.url)
    payload = PluginDetailOut.of_detail(detail, _icon_url(request, ns, name))
    response = etagged(request, payload, status_code=201)
    response.headers["Location"] = str(
        request.url_for("get_plugin", namespace=ns, name=name).path
    )
    return response


@router.get("/categories", response_model=list[FacetCountOut], summary="Categories with counts")
def list_categories(request: Request, service: Catalog, principal: CurrentPrincipal,
                    identity: Ident) -> Response:
    counts = service.categories(identity.access.read_scope(principal))
    return etagged(request, [FacetCountOut.of(c) for c in counts])


@router.get("/facets", response_model=Facets, summary="Facet counts for a search")
def get_facets(
    request: Request,
    service: Catalog,
    principal: CurrentPrincipal,
    identity: Ident,
    q: Annotated[str, Query(max_length=500, pattern=NO_NUL)] = "",
    category: FilterValue = None,
    abi: FilterValue = None,
    filter_type: FilterValue = None,
    platform: FilterValue = None,
    namespace: FilterValue = None,
    signed: SignedFilter = None,
) -> Response:
    counts = service.facets(SearchQuery(
        q=q, category=category, abi=abi, filter_type=filter_type, platform=platform,
        namespace=namespace, signed=signed, visible=identity.access.read_scope(principal),
    ))
    payload = Facets(**{
        kind.value: [FacetCountOut.of(c) for c in counts.get(kind, [])] for kind in FacetKind
    })
    return etagged(request, payload)


@router.get(
    "/plugins/{namespace}/{name:path}/icon", name="plugin_icon", responses=NOT_FOUND,
    response_class=Response, summary="The plugin's icon (latest version)",
)
def plugin_icon(namespace: Namespace, name: Name, service: Catalog,
                principal: CurrentPrincipal, identity: Ident) -> Response:
    _require(identity, principal, Permission.REPOSITORY_READ, namespace, name)
    icon = service.get_icon(namespace, name)
    # Icons are user content (SVG may hold script): never let a browser run them here.
    return Response(icon.data, media_type=icon.media_type, headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=300",
    })


@router.put(
    "/plugins/{namespace}/{name:path}/star", response_model=StarState, responses=NOT_FOUND,
    summary="Star a plugin",
)
def star_plugin(namespace: Namespace, name: Name, service: Catalog, principal: SignedIn,
                identity: Ident) -> StarState:
    _require(identity, principal, Permission.REPOSITORY_STAR, namespace, name)
    return StarState(starred=True, stars=service.star(namespace, name, _person(principal)))


@router.delete(
    "/plugins/{namespace}/{name:path}/star", response_model=StarState, responses=NOT_FOUND,
    summary="Remove your star",
)
def unstar_plugin(namespace: Namespace, name: Name, service: Catalog, principal: SignedIn,
                  identity: Ident) -> StarState:
    _require(identity, principal, Permission.REPOSITORY_STAR, namespace, name)
    return StarState(starred=False, stars=service.unstar(namespace, name, _person(principal)))


def _person(principal: Principal) -> str:
    """Stars belong to people: one per user, never through a token."""
    if not principal.is_person or not principal.username:
        from wasmhub.errors import PermissionDeniedError

        raise PermissionDeniedError("stars are given by signed-in people, not by tokens")
    return principal.username


@router.put(
    "/plugins/{namespace}/{name:path}/versions/{tag}/deprecation",
    response_model=VersionSummaryOut, responses=NOT_FOUND, summary="Deprecate a version",
)
def deprecate_version(
    namespace: Namespace, name: Name, tag: Tag, body: ReasonIn, service: Catalog,
    principal: SignedIn, identity: Ident,
) -> VersionSummaryOut:
    _require(identity, principal, Permission.REPOSITORY_YANK, namespace, name)
    result = service.deprecate(namespace, name, tag, body.reason)
    _audit(identity, AuditAction.DEPRECATE, principal, namespace, f"{namespace}/{name}:{tag}",
           reason=body.reason)
    return VersionSummaryOut.of(result)


@router.delete(
    "/plugins/{namespace}/{name:path}/versions/{tag}/deprecation",
    response_model=VersionSummaryOut, responses=NOT_FOUND, summary="Undo a deprecation",
)
def undeprecate_version(
    namespace: Namespace, name: Name, tag: Tag, service: Catalog, principal: SignedIn,
    identity: Ident,
) -> VersionSummaryOut:
    _require(identity, principal, Permission.REPOSITORY_YANK, namespace, name)
    result = service.deprecate(namespace, name, tag, "", undo=True)
    _audit(identity, AuditAction.DEPRECATE, principal, namespace, f"{namespace}/{name}:{tag}",
           undo=True)
    return VersionSummaryOut.of(result)


@router.put(
    "/plugins/{namespace}/{name:path}/versions/{tag}/yank",
    response_model=VersionSummaryOut, responses=NOT_FOUND, summary="Yank a version",
)
def yank_version(
    namespace: Namespace, name: Name, tag: Tag, body: ReasonIn, service: Catalog,
    principal: SignedIn, identity: Ident,
) -> VersionSummaryOut:
    _require(identity, principal, Permission.REPOSITORY_YANK, namespace, name)
    result = service.yank(namespace, name, tag, body.reason)
    _audit(identity, AuditAction.YANK, principal, namespace, f"{namespace}/{name}:{tag}",
           reason=body.reason)
    return VersionSummaryOut.of(result)


@router.delete(
    "/plugins/{namespace}/{name:path}/versions/{tag}/yank",
    response_model=VersionSummaryOut, responses=NOT_FOUND, summary="Undo a yank",
)
def unyank_version(
    namespace: Namespace, name: Name, tag: Tag, service: Catalog, principal: SignedIn,
    identity: Ident,
) -> VersionSummaryOut:
    _require(identity, principal, Permission.REPOSITORY_YANK, namespace, name)
    result = service.yank(namespace, name, tag, "", undo=True)
    _audit(identity, AuditAction.YANK, principal, namespace, f"{namespace}/{name}:{tag}",
           undo=True)
    return VersionSummaryOut.of(result)


@router.get(
    "/plugins/{namespace}/{name:path}/versions/{tag}", response_model=VersionDetailOut,
    responses=NOT_FOUND, summary="One version: inspector facts, config, README, snippets",
)
def get_version(
    request: Request, namespace: Namespace, name: Name, tag: Tag, service: Catalog,
    principal: CurrentPrincipal, identity: Ident,
) -> Response:
    _require(identity, principal, Permission.REPOSITORY_READ, namespace, name)
    return etagged(request, VersionDetailOut.of(service.get_version(namespace, name, tag)))


@router.get(
    "/plugins/{namespace}/{name:path}/versions", response_model=list[VersionSummaryOut],
    responses=NOT_FOUND, summary="A plugin's versions, newest first",
)
def list_versions(
    request: Request, namespace: Namespace, name: Name, service: Catalog,
    principal: CurrentPrincipal, identity: Ident,
) -> Response:
    _require(identity, principal, Permission.REPOSITORY_READ, namespace, name)
    versions = service.list_versions(namespace, name)
    return etagged(request, [VersionSummaryOut.of(v) for v in versions])


@router.get(
    "/plugins/{namespace}/{name:path}", response_model=PluginDetailOut, responses=NOT_FOUND,
    summary="A plugin with its versions",
)
def get_plugin(
    request: Request, namespace: Namespace, name: Name, service: Catalog,
    principal: CurrentPrincipal, identity: Ident,
) -> Response:
    _require(identity, principal, Permission.REPOSITORY_READ, namespace, name)
    detail = service.get_plugin(namespace, name, user=principal.username
                                if principal.is_person else None)
    return etagged(request, PluginDetailOut.of_detail(detail, _icon_url(request, namespace, name)))

