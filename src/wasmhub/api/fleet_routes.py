"""REST v1 for Envoy fleets: deployments served over ECDS, rollouts, rollback, node status.

Reads need ``repository:read`` on the deployment's namespace (a private namespace is 404
to others); setting a deployment or undoing a rollout needs ``repository:push`` there
(and ``repository:read`` on the plugin); :class:`~wasmhub.fleet.service.FleetService`
checks both through the one access function. Browser sessions send their CSRF token
(``api.access``). Errors: api.problems (bad spec / refused rollout 400, unknown 404,
nothing to undo 409).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from wasmhub.api.access import CurrentPrincipal, SignedIn
from wasmhub.api.routes import NOT_FOUND, etagged
from wasmhub.deploy.spec import parse_deployment
from wasmhub.fleet.service import FleetService, Stage

fleet_router = APIRouter(prefix="/v1/fleet")
FleetNamespace = Annotated[str, Path(max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
FleetName = Annotated[str, Path(max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]


class StageIn(BaseModel):
    percent: int | None = Field(default=None, ge=1, le=99,
                                description="Share of the connected nodes that go first.")
    nodes: list[str] = Field(default_factory=list, max_length=1000,
                             description="Node ids that go first.")


class DeploymentIn(BaseModel):
    spec: dict[str, Any] = Field(description="A PluginDeployment document (or its spec), "
                                 "platform envoy, plugin resolved on this hub.")
    stage: StageIn | None = Field(default=None, description="First stage; none: all at once.")
    follow_tag: bool | None = Field(default=None, description="Roll out when the tag moves "
                                    "(default: the spec's updatePolicy).")


class XdsOut(BaseModel):
    enabled: bool
    address: str | None = Field(description="HOST:PORT of the ECDS gRPC server.")


class FleetOut(BaseModel):
    xds: XdsOut
    deployments: list[dict[str, Any]]
    nodes: list[dict[str, Any]]


def _fleet(request: Request) -> FleetService:
    return request.app.state.hub.fleet  # type: ignore[no-any-return]


def _xds(request: Request) -> XdsOut:
    settings = request.app.state.hub.settings
    if settings.xds_port is None:
        return XdsOut(enabled=False, address=None)
    host = settings.xds_host or settings.host
    if host in ("0.0.0.0", "::", ""):
        host = request.url.hostname or "127.0.0.1"
    return XdsOut(enabled=True, address=f"{host}:{settings.xds_port}")


@fleet_router.get("", response_model=FleetOut, summary="The fleet: xDS address, deployments, nodes")
def fleet(request: Request, principal: CurrentPrincipal,
          namespace: Annotated[str | None, Query(max_length=63)] = None) -> Response:
    service = _fleet(request)
    return etagged(request, FleetOut(
        xds=_xds(request),
        deployments=[d.to_json() for d in service.deployments(principal, namespace)],
        nodes=[n.to_json() for n in service.nodes(principal)]))


@fleet_router.get("/deployments/{namespace}/{name}", responses=NOT_FOUND,
                  summary="One fleet deployment: rollout state, revisions, nodes")
def get_deployment(request: Request, namespace: FleetNamespace, name: FleetName,
                   principal: CurrentPrincipal) -> dict[str, Any]:
    return _fleet(request).get(namespace, name, principal).to_json()


@fleet_router.get("/deployments/{namespace}/{name}/revisions", responses=NOT_FOUND,
                  summary="Every revision of a fleet deployment, newest first")
def revisions(request: Request, namespace: FleetNamespace, name: FleetName,
              principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return [r.to_json() for r in _fleet(request).history(namespace, name, principal)]


@fleet_router.put("/deployments/{namespace}/{name}", responses=NOT_FOUND,
                  summary="Create or change a fleet deployment; starts its rollout")
def set_deployment(request: Request, namespace: FleetNamespace, name: FleetName,
                   body: DeploymentIn, principal: SignedIn) -> dict[str, Any]:
    # A PluginDeployment document or its spec; the path names it. parse_deployment checks
    # the document's apiVersion, kind and that its spec is a mapping (SpecError, a 400).
    data = dict(body.spec)
    if "apiVersion" in data or "kind" in data:
        inner = data.get("spec")
        if isinstance(inner, dict):
            data["spec"] = {**inner, "name": name, "namespace": namespace}
    else:
        data.update(name=name, namespace=namespace)
    deployment = parse_deployment(data)
    stage = Stage(body.stage.percent, tuple(body.stage.nodes)) if body.stage else None
    view = _fleet(request).set(deployment, principal, stage=stage, follow_tag=body.follow_tag)
    return view.to_json()


@fleet_router.post("/deployments/{namespace}/{name}/undo", responses=NOT_FOUND,
                   summary="Withdraw the running rollout, or roll back to the previous revision")
def undo(request: Request, namespace: FleetNamespace, name: FleetName,
         principal: SignedIn) -> dict[str, Any]:
    return _fleet(request).undo(namespace, name, principal).to_json()
