"""A real auth-requiring registry for tests: a Starlette proxy in front of a registry.

It runs under uvicorn in a thread on loopback. In ``basic`` mode every ``/v2/`` request
needs ``Authorization: Basic`` with the configured user; in ``bearer`` mode ``/v2/``
challenges with ``Bearer realm=.../token,service=...,scope=...`` and ``/token`` issues
tokens (GET with Basic credentials, or the OAuth2 POST with a refresh token) whose
scopes are checked per request. Authorised requests are forwarded to the upstream registry
(the CNCF distribution) with ``Location`` headers rewritten to point back at the proxy.
"""

from __future__ import annotations

import base64
import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.servers import free_port, serving_in_thread

SERVICE = "test-registry"


@dataclass
class AuthProxy:
    mode: str  # "basic" or "bearer"
    upstream: str
    username: str = "alice"
    password: str = "s3cret"
    refresh_token: str = "refresh-abc"
    url: str = ""
    tokens: dict[str, set[str]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def _basic_ok(self, header: str) -> bool:
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.username and pw == self.password

    @staticmethod
    def needed_scope(request: Request) -> str | None:
        path = request.url.path
        if path in ("/v2/", "/v2"):
            return None
        if path == "/v2/_catalog":
            return "registry:catalog:*"
        rest = path[len("/v2/"):]
        for marker in ("/blobs/", "/manifests/", "/tags/", "/referrers/"):
            if marker in rest:
                repo = rest.split(marker, 1)[0]
                action = "pull" if request.method in ("GET", "HEAD") else "push"
                if request.method == "DELETE":
                    action = "delete"
                return f"repository:{repo}:{action}"
        return None

    def _granted(self, token: str, scope: str | None) -> bool:
        if token not in self.tokens:
            return False
        if scope is None:
            return True
        kind, _, rest = scope.rpartition(":")
        for granted in self.tokens[token]:
            g_kind, _, g_actions = granted.rpartition(":")
            if g_kind == kind and (rest in g_actions.split(",") or g_actions == "*"):
                return True
        return False

    async def token(self, request: Request) -> Response:
        self.counts["token"] += 1
        if request.method == "POST":
            form = await request.form()
            if form.get("grant_type") != "refresh_token" or (
                form.get("refresh_token") != self.refresh_token
            ):
                return JSONResponse({"errors": [{"code": "UNAUTHORIZED",
                                                 "message": "bad refresh token"}]}, 401)
            scopes = str(form.get("scope", "")).split()
        else:
            if not self._basic_ok(request.headers.get("authorization", "")):
                return JSONResponse({"errors": [{"code": "UNAUTHORIZED",
                                                 "message": "bad credentials"}]}, 401)
            scopes = request.query_params.getlist("scope")
        token = secrets.token_hex(16)
        self.tokens[token] = set(scopes)
        return JSONResponse({"token": token, "access_token": token, "expires_in": 300})

    async def v2(self, request: Request) -> Response:
        self.counts["v2"] += 1
        header = request.headers.get("authorization", "")
        scope = self.needed_scope(request)
        if self.mode == "basic":
            if not self._basic_ok(header):
                return self._deny('Basic realm="test"')
        else:
            token = header[7:] if header.lower().startswith("bearer ") else ""
            if not self._granted(token, scope):
                challenge = f'Bearer realm="{self.url}/token",service="{SERVICE}"'
                if scope:
                    challenge += f',scope="{scope}"'
                return self._deny(challenge)
        return await self._forward(request)

    def _deny(self, challenge: str) -> Response:
        self.counts["denied"] += 1
        return JSONResponse(
            {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
            401, headers={"WWW-Authenticate": challenge},
        )

    async def _forward(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "authorization", "content-length")}
        url = self.upstream + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        async with httpx.AsyncClient() as client:
            upstream = await client.request(request.method, url, headers=headers,
                                            content=await request.body())
        out = {k: v for k, v in upstream.headers.items()
               if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                    "content-encoding")}
        if "location" in out:
            out["location"] = out["location"].replace(self.upstream, self.url)
        body = b"" if request.method == "HEAD" else upstream.content
        response = Response(body, upstream.status_code, headers=out)
        if request.method == "HEAD" and "content-length" in upstream.headers:
            response.headers["content-length"] = upstream.headers["content-length"]
        return response

    def app(self) -> Starlette:
        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        return Starlette(routes=[
            Route("/token", self.token, methods=["GET", "POST"]),
            Route("/v2/{path:path}", self.v2, methods=methods),
            Route("/v2", self.v2, methods=methods),
        ])


@contextmanager
def running_auth_proxy(mode: str, upstream: str) -> Iterator[AuthProxy]:
    port = free_port()
    proxy = AuthProxy(mode=mode, upstream=upstream, url=f"http://127.0.0.1:{port}")
    with serving_in_thread(proxy.app(), "auth proxy", port):
        yield proxy
