"""``POST /api/v1/plugins/{namespace}/{name}/versions/{tag}/playground``: run one request
through a stored plugin version on the hub's local runtime (see :mod:`wasmhub.playground`
for the limits). Parse, call the hub's one PlaygroundService, return its outcome; errors
are the service's typed ones, mapped to problem+json by ``api.problems``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from wasmhub.api.access import CurrentPrincipal, Ident
from wasmhub.api.routes import NOT_FOUND, Catalog, Name, Namespace, Tag
from wasmhub.authz.permissions import Permission

router = APIRouter(prefix="/v1")


class PlaygroundIn(BaseModel):
    method: str = Field("GET", max_length=16, description="HTTP method")
    path: str = Field("/", max_length=4096, description="Request path with query")
    headers: list[tuple[str, str]] = Field(default_factory=list, max_length=100,
                                           description="Request header [name, value] pairs")
    body: str = Field("", max_length=16 * 1024 * 1024, description="Request body (text)")
    config: Any = Field(None, description="pluginConfig as a JSON value (null: none)")
    repeat: int = Field(1, ge=1, description="Times to send the request through one VM")
    upstream_status: int = Field(200, ge=100, le=599, description="The upstream's status")
    http_calls: list[dict[str, Any]] = Field(
        default_factory=list, max_length=20,
        description="Answers to proxy_http_call: {cluster, status, headers, body, fail}")


@router.post(
    "/plugins/{namespace}/{name:path}/versions/{tag}/playground", responses={
        **NOT_FOUND,
        400: {"description": "Invalid request or configuration (problem+json)"},
        403: {"description": "The playground is disabled on this hub"},
        503: {"description": "The playground is busy or the run overran its budget"},
    }, summary="Run a request through a plugin version in the hub's sandboxed runtime",
)
async def run_playground(request: Request, namespace: Namespace, name: Name, tag: Tag,
                         body: PlaygroundIn, service: Catalog, principal: CurrentPrincipal,
                         identity: Ident) -> dict[str, Any]:
    identity.access.require(principal, Permission.REPOSITORY_READ,
                            repository=f"{namespace}/{name}", what=f"plugin {namespace}/{name}")
    playground = request.app.state.hub.playground
    if not playground.enabled:
        from wasmhub.playground import PlaygroundDisabledError

        raise PlaygroundDisabledError("the playground is disabled on this hub")
    from starlette.concurrency import run_in_threadpool

    version = await run_in_threadpool(service.get_version, namespace, name, tag)
    run = playground.build_request(
        method=body.method, path=body.path, headers=[list(p) for p in body.headers],
        body=body.body, config=body.config, repeat=body.repeat,
        upstream_status=body.upstream_status, http_calls=body.http_calls)
    outcome = await playground.run(version, run)
    result: dict[str, Any] = outcome.to_json()
    return result
