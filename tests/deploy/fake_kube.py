"""An in-process Kubernetes API server for the deploy tests (no real one installs here).

It implements what wasmhub's cluster code uses, with the API server's semantics that
matter to it: discovery (``/apis/{group}/{version}``), server-side apply (``PATCH`` with
``application/apply-patch+yaml``, ``fieldManager``, ``force``, ``dryRun=All``), GET, LIST
(namespaced and cluster-wide, ``labelSelector``, ``limit``), WATCH (``watch=true``: the
current objects as ``ADDED``, then ``MODIFIED``/``DELETED`` events until
``timeoutSeconds``), JSON merge patch, DELETE (an object with finalizers only gets a
``deletionTimestamp`` until they are removed), ``metadata.generation`` bumped on spec
changes, the ``status`` subresource, and pods. Every object written (or dry-run) is
validated against its CRD's OpenAPI v3 schema and CEL rules with the same vendored CRDs
and validator the hub ships; an invalid object is a 422 ``Invalid`` Status, an unserved
type a 404, as a real server answers. Types without a vendored schema (Consul, Gloo) are
stored unvalidated.

``fail_apply`` names objects whose next non-dry-run apply fails with 500, to exercise
the all-or-none rollback.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from wasmhub.deploy.schemas import crd_problems, crds


@dataclass(frozen=True)
class ServedType:
    group: str
    version: str
    kind: str
    plural: str
    validated: bool


def vendored_types() -> list[ServedType]:
    out = []
    for key, doc in crds().items():
        group, version, kind = key.split("/")
        out.append(ServedType(group, version, kind, doc["spec"]["names"]["plural"], True))
    return out


UNVALIDATED = [ServedType("consul.hashicorp.com", "v1alpha1", "ServiceDefaults",
                          "servicedefaults", False),
               ServedType("gateway.solo.io", "v1", "Gateway", "gateways", False)]


def _status(code: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Failure", "message": message, "reason": reason,
                         "code": code}, status_code=code)


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


@dataclass
class FakeKube:
    types: list[ServedType]
    # (plural.group, namespace, name) → the stored object
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    pods: list[dict[str, Any]] = field(default_factory=list)
    fail_apply: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _version: int = 1

    def _record(self, kind: str, resource: str, obj: dict[str, Any]) -> None:
        """Called with the lock held: one watch event."""
        self.events.append((kind, resource, copy.deepcopy(obj)))

    def _store(self, key: tuple[str, str, str], obj: dict[str, Any], created: bool) -> None:
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)
        self.objects[key] = obj
        self._record("ADDED" if created else "MODIFIED", key[0], obj)

    def add_pod(self, namespace: str, name: str, labels: dict[str, str]) -> None:
        self.pods.append({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": name, "namespace": namespace,
                                       "labels": labels}})

    def _type(self, group: str, version: str, plural: str) -> ServedType | None:
        return next((t for t in self.types if (t.group, t.version, t.plural) ==
                     (group, version, plural)), None)

    def app(self) -> Starlette:
        ns_path = "/apis/{group}/{version}/namespaces/{ns}/{plural}"
        return Starlette(routes=[
            Route("/apis/{group}/{version}", self.discovery),
            Route("/apis/{group}/{version}/{plural}", self.list_all),
            Route(ns_path, self.list_namespaced),
            Route(ns_path + "/{name}", self.item, methods=["GET", "PATCH", "DELETE"]),
            Route(ns_path + "/{name}/status", self.status_subresource,
                  methods=["GET", "PATCH", "PUT"]),
            Route("/api/v1/namespaces/{ns}/pods", self.list_pods),
        ])

    async def discovery(self, request: Request) -> Response:
        group, version = request.path_params["group"], request.path_params["version"]
        served = [t for t in self.types if (t.group, t.version) == (group, version)]
        if not served:
            return _status(404, "NotFound", f"the server could not find {group}/{version}")
        return JSONResponse({"kind": "APIResourceList", "apiVersion": "v1",
                             "groupVersion": f"{group}/{version}", "resources": [
                                 {"name": t.plural, "kind": t.kind, "namespaced": True,
                                  "verbs": ["get", "list", "watch", "patch", "delete"]}
                                 for t in served]})

    def _list(self, request: Request, namespace: str | None) -> Response:
        p = request.path_params
        rtype = self._type(p["group"], p["version"], p["plural"])
        self.requests.append(f"LIST {p['plural']}")
        if rtype is None:
            return _status(404, "NotFound", f"the server could not find {p['plural']}")
        selector = request.query_params.get("labelSelector", "")
        if request.query_params.get("watch") in ("true", "1"):
            timeout = float(request.query_params.get("timeoutSeconds", "30"))
            return StreamingResponse(self._watch(rtype, namespace, selector, timeout),
                                     media_type="application/json")
        with self._lock:
            wanted = f"{rtype.plural}.{rtype.group}"
            items = [copy.deepcopy(o) for (resource, ns, _), o in sorted(self.objects.items())
                     if resource == wanted and namespace in (None, ns)
                     and _matches(o["metadata"].get("labels") or {}, selector)]
        return JSONResponse({"apiVersion": f"{rtype.group}/{rtype.version}",
                             "kind": f"{rtype.kind}List",
                             "metadata": {"resourceVersion": str(self._version)},
                             "items": items})

    async def _watch(self, rtype: ServedType, namespace: str | None, selector: str,
                     timeout: float) -> Any:
        wanted = f"{rtype.plural}.{rtype.group}"

        def visible(resource: str, obj: dict[str, Any]) -> bool:
            meta = obj["metadata"]
            return resource == wanted and namespace in (None, meta.get("namespace")) and \
                _matches(meta.get("labels") or {}, selector)

        with self._lock:
            start = len(self.events)
            current = [copy.deepcopy(o) for (r, _, _), o in self.objects.items() if visible(r, o)]
        for obj in current:
            yield json.dumps({"type": "ADDED", "object": obj}) + "\n"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                fresh = self.events[start:]
                start = len(self.events)
            for kind, resource, obj in fresh:
                if visible(resource, obj):
                    yield json.dumps({"type": kind, "object": obj}) + "\n"
            await asyncio.sleep(0.05)

    async def list_all(self, request: Request) -> Response:
        return self._list(request, None)

    async def list_namespaced(self, request: Request) -> Response:
        return self._list(request, request.path_params["ns"])

    async def item(self, request: Request) -> Response:
        p = request.path_params
        rtype = self._type(p["group"], p["version"], p["plural"])
        if rtype is None:
            return _status(404, "NotFound", f"the server could not find {p['plural']}")
        key = (f"{rtype.plural}.{rtype.group}", p["ns"], p["name"])
        dry = request.query_params.get("dryRun") == "All"
        self.requests.append(f"{request.method} {p['plural']}/{p['name']}"
                             + (" dryRun" if dry else ""))
        if request.method == "GET":
            with self._lock:
                found = self.objects.get(key)
            if found is None:
                return _status(404, "NotFound", f"{p['plural']} {p['name']!r} not found")
            return JSONResponse(found)
        if request.method == "DELETE":
            with self._lock:
                found = self.objects.get(key)
                if found is None:
                    return _status(404, "NotFound", f"{p['plural']} {p['name']!r} not found")
                if not dry and found["metadata"].get("finalizers"):
                    found["metadata"].setdefault("deletionTimestamp", "2026-01-01T00:00:00Z")
                    self._store(key, found, created=False)
                elif not dry:
                    del self.objects[key]
                    self._record("DELETED", key[0], found)
            return JSONResponse({"kind": "Status", "apiVersion": "v1", "status": "Success",
                                 "details": {"name": p["name"], "kind": p["plural"]}})
        return await self._apply(request, rtype, key, dry)

    async def _merge(self, request: Request, key: tuple[str, str, str]) -> Response:
        patch = json.loads(await request.body())
        with self._lock:
            found = self.objects.get(key)
            if found is None:
                return _status(404, "NotFound", f"{key[0]} {key[2]!r} not found")
            merged = _merge_patch(copy.deepcopy(found), patch)
            meta = merged["metadata"]
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                del self.objects[key]
                self._record("DELETED", key[0], merged)
            else:
                self._store(key, merged, created=False)
        return JSONResponse(merged)

    async def _apply(self, request: Request, rtype: ServedType,
                     key: tuple[str, str, str], dry: bool) -> Response:
        if request.headers.get("content-type") == "application/merge-patch+json":
            return await self._merge(request, key)
        if request.headers.get("content-type") != "application/apply-patch+yaml":
            return _status(415, "UnsupportedMediaType", "apply or merge patches only")
        if not request.query_params.get("fieldManager"):
            return _status(422, "Invalid", "fieldManager is required for apply patch")
        body = yaml.safe_load(await request.body())
        meta = body.get("metadata") or {}
        if (body.get("kind"), meta.get("name"), meta.get("namespace", key[1])) != \
                (rtype.kind, key[2], key[1]):
            return _status(400, "BadRequest", "the body does not match the URL")
        if rtype.validated:
            problems = crd_problems(body)
            if problems:
                return _status(422, "Invalid", f"{rtype.kind}.{rtype.group} {key[2]!r} is "
                               f"invalid: {'; '.join(problems)}")
        with self._lock:
            if not dry and key[2] in self.fail_apply:
                self.fail_apply.discard(key[2])
                return _status(500, "InternalError", f"injected failure for {key[2]}")
            previous = self.objects.get(key)
            merged = copy.deepcopy(body)
            merged_meta = merged.setdefault("metadata", {})
            merged_meta["namespace"] = key[1]
            merged_meta["uid"] = (previous or {}).get("metadata", {}).get(
                "uid", str(uuid.uuid4()))
            merged_meta["managedFields"] = [{"manager": request.query_params["fieldManager"],
                                             "operation": "Apply"}]
            old_meta = (previous or {}).get("metadata", {})
            generation = old_meta.get("generation", 0)
            if previous is None or previous.get("spec") != merged.get("spec"):
                generation += 1
            merged_meta["generation"] = generation
            for kept in ("finalizers", "deletionTimestamp"):
                if kept in old_meta:
                    merged_meta.setdefault(kept, old_meta[kept])
            if previous and "status" in previous:
                merged["status"] = previous["status"]
            if not dry:
                self._store(key, merged, created=previous is None)
        return JSONResponse(merged, status_code=200 if previous else 201)

    async def status_subresource(self, request: Request) -> Response:
        p = request.path_params
        rtype = self._type(p["group"], p["version"], p["plural"])
        key = (f"{p['plural']}.{p['group']}", p["ns"], p["name"])
        with self._lock:
            found = self.objects.get(key)
        if rtype is None or found is None:
            return _status(404, "NotFound", f"{p['plural']} {p['name']!r} not found")
        if request.method == "GET":
            return JSONResponse(found)
        body = json.loads(await request.body()) if request.headers.get(
            "content-type", "").endswith("json") else yaml.safe_load(await request.body())
        candidate = copy.deepcopy(found)
        if request.headers.get("content-type") == "application/merge-patch+json":
            candidate = _merge_patch(candidate, {"status": body.get("status")})
        else:
            candidate["status"] = body.get("status")
        if rtype.validated:
            problems = crd_problems(candidate)
            if problems:
                return _status(422, "Invalid", "; ".join(problems))
        with self._lock:
            self._store(key, candidate, created=False)
        return JSONResponse(candidate)

    async def list_pods(self, request: Request) -> Response:
        selector = request.query_params.get("labelSelector", "")
        ns = request.path_params["ns"]
        items = [p for p in self.pods if p["metadata"]["namespace"] == ns
                 and _matches(p["metadata"]["labels"], selector)]
        return JSONResponse({"apiVersion": "v1", "kind": "PodList",
                             "metadata": {"resourceVersion": "1"}, "items": items})


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def kubeconfig_for(url: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": url}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u",
                                                      "namespace": "default"}}],
            "users": [{"name": "u", "user": {"token": "test"}}]}
