"""The ``/v2/`` gate: who may do what to which repository, per the Docker token spec.

Wraps the registry's router. For each request it works out the repository and the
registry actions the route needs (pull, push, delete), asks the one permission check
(:class:`wasmhub.authz.access.AccessService`) and either passes the request on or
answers in the OCI envelope:

- anonymous and not allowed: ``401`` with ``WWW-Authenticate: Bearer realm=…,
  service=…,scope=repository:<name>:<actions>`` so the client fetches a token;
- a bearer token that was not asked for what the request needs: ``401``
  ``insufficient_scope`` with the scope to ask for;
- a token whose endpoint was asked and refused: ``404 NAME_UNKNOWN`` when the
  repository may not even be read (private repositories are invisible), else ``403
  DENIED``.

Anonymous pulls of public repositories need one indexed read (on SQLite on the event
loop); bearer requests need only the token's signature. Pushes and deletes are audited
here, after the handler answered, and tag immutability and tag moves are checked here,
before the manifest is stored. Moving a tag needs ``repository:tag-move``, which the
matrix gives to every role that may push (tests assert that), so a push grant covers it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wasmhub.authz.access import AccessService, namespace_of
from wasmhub.authz.audit import AuditAction, Outcome
from wasmhub.authz.identity import TOKEN_PATH, Identity
from wasmhub.authz.middleware import ERROR_KEY, PRINCIPAL_KEY, client_addr
from wasmhub.authz.permissions import ACTION_PERMISSIONS, RegistryAction
from wasmhub.authz.principal import ANONYMOUS, Principal
from wasmhub.oci.digest import is_digest
from wasmhub.oci.errors import Denied, NameUnknown, OCIError, Unauthorized, error_envelope
from wasmhub.oci.names import is_valid_name
from wasmhub.registry.base import API_VERSION

READ_SCOPE_KEY = "wasmhub.read_scope"
PULL = frozenset({RegistryAction.PULL})
PUSH = frozenset({RegistryAction.PULL, RegistryAction.PUSH})
DELETE = frozenset({RegistryAction.DELETE})

_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/(?P<name>.+)/blobs/uploads/(?P<rest>.*)$"), "uploads"),
    (re.compile(r"^/(?P<name>.+)/blobs/(?P<rest>[^/]+)$"), "blobs"),
    (re.compile(r"^/(?P<name>.+)/manifests/(?P<rest>[^/]+)$"), "manifests"),
    (re.compile(r"^/(?P<name>.+)/tags/list$"), "tags"),
    (re.compile(r"^/(?P<name>.+)/referrers/(?P<rest>[^/]+)$"), "referrers"),
)


@dataclass(frozen=True)
class Need:
    repository: str
    actions: frozenset[RegistryAction]
    kind: str
    reference: str
    # What a challenge tells the client to ask for, when more than ``actions``.
    suggest: frozenset[RegistryAction] | None = None


def classify(path: str, method: str) -> Need | None:
    """The repository and actions a ``/v2``-relative path needs (None: none needed)."""
    for pattern, kind in _ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        name = match.group("name")
        rest = match.groupdict().get("rest") or ""
        if kind == "uploads":
            actions = PUSH
        elif method in ("GET", "HEAD"):
            actions = PULL
        elif method == "DELETE":
            actions = DELETE
        else:
            actions = PUSH
        # A HEAD of a blob is how pushers check what to upload: suggest pull,push, since
        # some clients (oras-py) keep the first token for the whole push. The token
        # endpoint still grants only what the caller may do.
        suggest = PUSH if kind == "blobs" and method == "HEAD" else None
        return Need(name, actions, kind, rest, suggest)
    return None


def scope_string(repository: str, actions: frozenset[RegistryAction]) -> str:
    order = [a for a in RegistryAction if a in actions]
    return f"repository:{repository}:{','.join(order)}"


class RegistryGate:
    def __init__(self, app: ASGIApp, identity: Identity) -> None:
        self.app = app
        self.identity = identity
        self.access: AccessService = identity.access

    # -- answers ---------------------------------------------------------------------

    def realm(self, scope: Scope) -> str:
        base = self.identity.settings.public_url
        if not base:
            host = next((bytes(v).decode("latin-1") for k, v in scope.get("headers") or ()
                         if k == b"host"), f"{self.identity.settings.host}:"
                        f"{self.identity.settings.port}")
            base = f"{scope.get('scheme', 'http')}://{host}"
        return base.rstrip("/") + TOKEN_PATH

    def challenge(self, scope: Scope, need: Need | None, error: str | None = None) -> str:
        parts = [f'realm="{self.realm(scope)}"',
                 f'service="{self.identity.signer.service}"']
        if need is not None:
            parts.append(
                f'scope="{scope_string(need.repository, need.suggest or need.actions)}"')
        if error:
            parts.append(f'error="{error}"')
        return "Bearer " + ",".join(parts)

    async def answer(self, send: Send, exc: OCIError, challenge: str | None = None) -> None:
        body = error_envelope(exc)
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()),
                   (API_VERSION[0].lower().encode(), API_VERSION[1].encode())]
        if challenge:
            headers.append((b"www-authenticate", challenge.encode()))
        await send({"type": "http.response.start", "status": exc.http_status,
                    "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # -- the gate ----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root = scope.get("root_path", "")
        path: str = scope["path"]
        path = path[len(root):] if root and path.startswith(root) else path
        method: str = scope["method"]
        error = scope.get(ERROR_KEY)
        if error is not None:
            await self.answer(send, Unauthorized(error.message),
                              self.challenge(scope, None, "invalid_token"))
            return
        principal: Principal = scope.get(PRINCIPAL_KEY, ANONYMOUS)
        if path in ("", "/"):
            if principal.is_anonymous and principal.registry_access is None:
                await self.answer(send, Unauthorized("authentication required"),
                                  self.challenge(scope, None))
                return
            await self.app(scope, receive, send)
            return
        if path == "/_catalog":
            scope[READ_SCOPE_KEY] = await run_in_threadpool(self._catalog_scope, principal)
            await self.app(scope, receive, send)
            return
        need = classify(path, method)
        if need is None or not is_valid_name(need.repository):
            await self.app(scope, receive, send)  # the handlers' own 404 / NAME_INVALID
            return
        refusal = await self.refusal(scope, principal, need)
        if refusal is not None:
            await self.answer(send, *refusal)
            return
        if need.kind == "uploads" and method == "POST":
            await self._strip_unreadable_mount(scope, principal)
        if need.kind == "manifests" and method == "PUT":
            await self._guarded_push(scope, receive, send, principal, need)
            return
        if method == "DELETE":
            await self._audited(scope, receive, send, principal, need, AuditAction.DELETE)
            return
        await self.app(scope, receive, send)

    async def refusal(self, scope: Scope, principal: Principal, need: Need
                      ) -> tuple[OCIError, str | None] | None:
        """None when allowed, else the error (and challenge) to answer with."""
        access = principal.registry_access
        if access is not None:  # a registry JWT: its claims decide, no database
            granted = access.get(need.repository, frozenset())
            if need.actions <= granted:
                return None
            never_asked = need.actions - granted - principal.registry_denied.get(
                need.repository, frozenset())
            if never_asked:
                # The client asked for less than this request needs: tell it what to ask.
                return (Unauthorized("the token does not cover this request"),
                        self.challenge(scope, need, "insufficient_scope"))
            return self._denial(need, RegistryAction.PULL in granted
                                or need.repository in principal.registry_visible)
        facts = self.access.public_facts_nowait(need.repository)
        if facts is None:
            facts = await run_in_threadpool(self.access.public_facts, need.repository)
        roles = self.access.roles(None, principal, facts)
        if all(self.access.decide(principal, ACTION_PERMISSIONS[a], facts, roles)
               for a in need.actions) and not (facts.owned and not facts.repository_exists
                                               and need.actions == PULL):
            return None
        # Anonymous: challenge, so clients with credentials fetch a token. A missing
        # repository in an owned namespace is challenged too, so 401 vs 404 does not
        # tell anonymous callers which private names exist.
        return (Unauthorized("authentication required"), self.challenge(scope, need))

    @staticmethod
    def _denial(need: Need, readable: bool) -> tuple[OCIError, str | None]:
        if not readable:
            return NameUnknown(detail={"name": need.repository}), None
        return Denied(f"you may not {'/'.join(sorted(need.actions))} {need.repository}"), None

    def _catalog_scope(self, principal: Principal) -> object:
        """What ``_catalog`` may list: with ``registry:catalog:*`` in its JWT, everything
        the person (or the API token, as it stands now) may read; else public only plus
        the repositories the JWT grants pull on."""
        from dataclasses import replace

        from wasmhub.errors import AuthenticationError

        if principal.registry_access is not None and principal.registry_catalog:
            if principal.token is not None:
                try:
                    principal = self.identity.tokens.principal_by_id(principal.token.token_id)
                except AuthenticationError:
                    principal = ANONYMOUS
            elif principal.user_id is not None:
                principal = replace(principal, registry_access=None)
        return self.access.read_scope(principal)

    async def _strip_unreadable_mount(self, scope: Scope, principal: Principal) -> None:
        """A cross-repository mount from a repository the caller cannot read becomes a
        plain upload (as distribution does), so mounts cannot probe private blobs."""
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        source = next((v for k, v in query if k == "from"), None)
        if source is None or not is_valid_name(source):
            return
        refusal = await self.refusal(scope, principal, Need(source, PULL, "blobs", ""))
        if refusal is not None:
            kept = [(k, v) for k, v in query if k not in ("mount", "from")]
            scope["query_string"] = urlencode(kept).encode()

    async def _guarded_push(self, scope: Scope, receive: Receive, send: Send,
                            principal: Principal, need: Need) -> None:
        reference = need.reference
        previous: str | None = None
        if not is_digest(reference):
            previous, immutable = await run_in_threadpool(
                self._tag_state, need.repository, reference)
            if previous is not None and immutable:
                await self._refuse_and_audit(scope, send, principal, need, Denied(
                    f"tag {reference} of {need.repository} is immutable",
                    detail={"tag": reference}))
                return
        await self._audited(scope, receive, send, principal, need, AuditAction.PUSH,
                            previous=previous)

    def _tag_state(self, repository: str, tag: str) -> tuple[str | None, bool]:
        from sqlalchemy import select

        from wasmhub.authz.models import RepositoryPolicy
        from wasmhub.registry.models import Manifest, Repository, Tag

        with self.access.db.session() as session:
            digest = session.scalar(
                select(Manifest.digest).select_from(Tag)
                .join(Repository, Repository.id == Tag.repository_id)
                .join(Manifest, Manifest.id == Tag.manifest_id)
                .where(Repository.name == repository, Tag.name == tag))
            immutable = bool(session.scalar(select(RepositoryPolicy.tag_immutable).where(
                RepositoryPolicy.repository == repository)))
        return digest, immutable

    async def _refuse_and_audit(self, scope: Scope, send: Send, principal: Principal,
                                need: Need, exc: OCIError) -> None:
        await run_in_threadpool(
            self.identity.audit.record, AuditAction.TAG_MOVE, principal,
            outcome=Outcome.DENIED, namespace=namespace_of(need.repository),
            target=f"{need.repository}:{need.reference}", client_addr=client_addr(scope),
            reason=exc.message)
        await self.answer(send, exc)

    async def _audited(self, scope: Scope, receive: Receive, send: Send,
                       principal: Principal, need: Need, action: AuditAction,
                       previous: str | None = None) -> None:
        status = 0
        digest = ""

        async def watching(message: Message) -> None:
            nonlocal status, digest
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers") or ():
                    if key.lower() == b"docker-content-digest":
                        digest = bytes(value).decode("latin-1")
            await send(message)

        await self.app(scope, receive, watching)
        if status not in (201, 202):
            return
        if action is AuditAction.PUSH and previous is not None and previous != digest:
            action = AuditAction.TAG_MOVE
        target = (f"{need.repository}:{need.reference}" if need.kind == "manifests"
                  else f"{need.repository}@{need.reference}")

        def record() -> None:
            self.identity.audit.record(
                action, principal, namespace=namespace_of(need.repository), target=target,
                client_addr=client_addr(scope), digest=digest or need.reference,
                previous=previous)

        await run_in_threadpool(record)

