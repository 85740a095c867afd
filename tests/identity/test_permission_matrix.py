"""The permission matrix, generated from :data:`wasmhub.authz.permissions.ROLE_PERMISSIONS`.

Every subject (anonymous, a signed-in outsider, member, maintainer, owner, team read /
write / admin, a pull-only token, an expired token) × every operation (pull, push,
delete, tag move, yank, manage members, change visibility, see in search / facets /
catalog) × public and private, asserted through HTTP on each surface that offers the
operation: ``/v2/``, the REST API and the UI. The expected outcome comes from the matrix
(the specification, as data) and the subject's relationships as declared in
``tests.identity.world``; the observed one from the running app.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from tests.identity.world import World, person
from wasmhub.authz.permissions import (
    ROLE_PERMISSIONS,
    Permission,
    Role,
    TokenScope,
    permitted,
    scope_permissions,
)
from wasmhub.registry.models import Manifest, Repository, Tag
from wasmhub.settings import Settings

P = Permission
SUBJECT_ROLES: dict[str, frozenset[Role]] = {
    "anonymous": frozenset(),
    "otto": frozenset(),
    "meg": frozenset({Role.MEMBER}),
    "mark": frozenset({Role.MAINTAINER}),
    "olive": frozenset({Role.OWNER}),
    "tina": frozenset({Role.MEMBER, Role.TEAM_READ}),
    "walt": frozenset({Role.MEMBER, Role.TEAM_WRITE}),
    "ada": frozenset({Role.MEMBER, Role.TEAM_ADMIN}),
    "scoped-token": frozenset({Role.OWNER}),
    "expired-token": frozenset({Role.OWNER}),
}
TOKEN_SCOPES = {"scoped-token": (TokenScope.PULL,)}
PEOPLE = {"otto", "meg", "mark", "olive", "tina", "walt", "ada"}
ORG_PUBLIC = {"pubco": True, "privco": False}
WRITES = {P.REPOSITORY_PUSH, P.REPOSITORY_DELETE, P.REPOSITORY_TAG_MOVE, P.REPOSITORY_YANK,
          P.NAMESPACE_MEMBERS, P.REPOSITORY_CONFIGURE}


def allowed(subject: str, permission: Permission, public: bool) -> bool:
    roles = set(SUBJECT_ROLES[subject])
    if public:
        roles.add(Role.PUBLIC)
        if subject in PEOPLE:
            roles.add(Role.SIGNED_IN)
    if not permitted(roles, permission):
        return False
    scopes = TOKEN_SCOPES.get(subject)
    return scopes is None or permission in scope_permissions(scopes)


def expected(subject: str, permission: Permission, public: bool, surface: str,
             listing: bool = False) -> str:
    """ok / hidden (404, or absent from a listing) / forbidden (403) / unauthenticated
    (401, or the UI's redirect to sign in)."""
    if subject == "expired-token" and not (listing and surface == "ui"):
        return "unauthenticated"
    if allowed(subject, permission, public):
        return "ok"
    if listing:
        return "hidden"
    readable = allowed(subject, P.REPOSITORY_READ, public)
    if subject == "anonymous" and (surface == "v2" or permission in WRITES):
        return "unauthenticated"
    return "forbidden" if readable else "hidden"


@dataclass(frozen=True)
class Case:
    subject: str
    org: str
    surface: str
    operation: str
    permission: Permission

    @property
    def repo(self) -> str:
        return f"{self.org}/plug"


def _status_outcome(status: int, ok: set[int]) -> str:
    if status in ok:
        return "ok"
    return {404: "hidden", 403: "forbidden", 401: "unauthenticated", 303: "unauthenticated"
            }.get(status, f"status {status}")


class Runner:
    def __init__(self, world: World) -> None:
        self.world = world
        self.client = world.client
        self.tokens: dict[tuple[str, str], str | None] = {}

    def bearer(self, case: Case, scope: str) -> dict[str, str] | None:
        """Registry auth headers; None when the token endpoint refused the credentials."""
        subject = self.world.subjects[case.subject]
        if case.subject == "anonymous":
            return {}
        key = (case.subject, scope)
        if key not in self.tokens:
            self.tokens[key] = self.world.registry_token(subject, scope)
        token = self.tokens[key]
        return None if token is None else {"Authorization": f"Bearer {token}"}

    def ui_post(self, case: Case, path: str, data: dict[str, str]) -> int:
        subject = self.world.subjects[case.subject]
        if subject.session:
            cookies = {"wasmhub_session": subject.session}
            token = subject.csrf or ""
        else:
            cookies = {"wasmhub_csrf": "anonymous-double-submit-token"}
            token = "anonymous-double-submit-token"
        self.client.cookies.clear()
        r = self.client.post(path, data={"csrf_token": token, **data}, cookies=cookies,
                             follow_redirects=False)
        self.client.cookies.clear()
        return r.status_code

    def ui_get(self, case: Case, path: str) -> tuple[int, str]:
        subject = self.world.subjects[case.subject]
        self.client.cookies.clear()
        cookies = {"wasmhub_session": subject.session} if subject.session else {}
        r = self.client.get(path, cookies=cookies, follow_redirects=False)
        self.client.cookies.clear()
        return r.status_code, r.text

    def api(self, case: Case, method: str, path: str, **kwargs: object) -> int:
        subject = self.world.subjects[case.subject]
        self.client.cookies.clear()
        headers = subject.api_headers()
        cookies = {}
        if "Cookie" in headers:
            cookies = {"wasmhub_session": headers.pop("Cookie").split("=", 1)[1]}
        r = self.client.request(method, path, headers=headers, cookies=cookies,
                                **kwargs)  # type: ignore[arg-type]
        self.client.cookies.clear()
        return r.status_code

    def current_tag_digest(self, repo: str, tag: str) -> str | None:
        with self.world.hub.database.session() as session:
            return session.scalar(
                select(Manifest.digest).select_from(Tag)
                .join(Repository, Repository.id == Tag.repository_id)
                .join(Manifest, Manifest.id == Tag.manifest_id)
                .where(Repository.name == repo, Tag.name == tag))

    # -- the operations --------------------------------------------------------------

    def run(self, case: Case) -> str:
        method = getattr(self, f"{case.surface}_{case.operation}".replace("-", "_"))
        result: str = method(case)
        return result

    def v2_pull(self, case: Case) -> str:
        headers = self.bearer(case, f"repository:{case.repo}:pull")
        if headers is None:
            return "unauthenticated"
        r = self.client.get(f"/v2/{case.repo}/manifests/1.0.0", headers=headers)
        return _status_outcome(r.status_code, {200})

    def _v2_put(self, case: Case, tag: str, image_key: str) -> str:
        headers = self.bearer(case, f"repository:{case.repo}:pull,push")
        if headers is None:
            return "unauthenticated"
        image = self.world.images[f"{case.org}/{image_key}"]
        r = self.client.put(f"/v2/{case.repo}/manifests/{tag}", content=image.manifest,
                            headers={**headers, "Content-Type": image.manifest_media_type})
        return _status_outcome(r.status_code, {201})

    def v2_push(self, case: Case) -> str:
        return self._v2_put(case, f"new-{case.subject}", "one")

    def v2_tag_move(self, case: Case) -> str:
        one = self.world.images[f"{case.org}/one"]
        current = self.current_tag_digest(case.repo, "moving")
        from wasmhub.oci.digest import Digest

        key = "two" if current == str(Digest.of(one.manifest)) else "one"
        return self._v2_put(case, "moving", key)

    def v2_delete(self, case: Case) -> str:
        headers = self.bearer(case, f"repository:{case.repo}:delete")
        if headers is None:
            return "unauthenticated"
        r = self.client.delete(f"/v2/{case.repo}/manifests/del-{case.subject}",
                               headers=headers)
        return _status_outcome(r.status_code, {202})

    def v2_see(self, case: Case) -> str:
        headers = self.bearer(case, "registry:catalog:*")
        if headers is None:
            return "unauthenticated"
        r = self.client.get("/v2/_catalog", headers=headers)
        assert r.status_code == 200, r.text
        return "ok" if case.repo in r.json()["repositories"] else "hidden"

    def api_pull(self, case: Case) -> str:
        return _status_outcome(self.api(case, "GET", f"/api/v1/plugins/{case.repo}"), {200})

    def api_yank(self, case: Case) -> str:
        status = self.api(case, "PUT", f"/api/v1/plugins/{case.repo}/versions/1.0.0/yank",
                          json={"reason": "matrix"})
        return _status_outcome(status, {200})

    def api_members(self, case: Case) -> str:
        status = self.api(case, "POST", f"/api/v1/orgs/{case.org}/invitations",
                          json={"username": "ivy"})
        return _status_outcome(status, {204})

    def api_visibility(self, case: Case) -> str:
        status = self.api(case, "PUT", f"/api/v1/repositories/{case.repo}/settings",
                          json={"private": not ORG_PUBLIC[case.org]})
        return _status_outcome(status, {200})

    def api_see(self, case: Case) -> str:
        subject = self.world.subjects[case.subject]
        self.client.cookies.clear()
        headers = subject.api_headers()
        cookies = ({"wasmhub_session": headers.pop("Cookie").split("=", 1)[1]}
                   if "Cookie" in headers else {})
        r = self.client.get("/api/v1/plugins", params={"q": "matrixplug"}, headers=headers,
                            cookies=cookies)
        if r.status_code == 401:
            return "unauthenticated"
        listed = case.repo in {f"{p['namespace']}/{p['name']}" for p in r.json()["items"]}
        facets = self.client.get("/api/v1/facets", params={"q": "matrixplug"},
                                 headers=headers, cookies=cookies).json()
        counted = any(f["value"] == case.org for f in facets["namespace"])
        self.client.cookies.clear()
        assert listed == counted, f"search and facets disagree for {case}"
        return "ok" if listed else "hidden"

    def ui_pull(self, case: Case) -> str:
        status, _ = self.ui_get(case, f"/plugins/{case.repo}")
        return _status_outcome(status, {200})

    def ui_members(self, case: Case) -> str:
        return _status_outcome(self.ui_post(case, f"/orgs/{case.org}",
                                            {"action": "invite", "username": "ivy"}), {200})

    def ui_visibility(self, case: Case) -> str:
        private = "false" if ORG_PUBLIC[case.org] else "true"
        return _status_outcome(self.ui_post(case, f"/settings/plugins/{case.repo}",
                                            {"private": private}), {200})

    def ui_see(self, case: Case) -> str:
        status, text = self.ui_get(case, "/search?q=matrixplug")
        assert status == 200
        return "ok" if f'href="/plugins/{case.repo}"' in text else "hidden"


OPERATIONS: dict[str, tuple[Permission, tuple[str, ...]]] = {
    "pull": (P.REPOSITORY_READ, ("v2", "api", "ui")),
    "push": (P.REPOSITORY_PUSH, ("v2",)),
    "delete": (P.REPOSITORY_DELETE, ("v2",)),
    "tag-move": (P.REPOSITORY_TAG_MOVE, ("v2",)),
    "yank": (P.REPOSITORY_YANK, ("api",)),
    "members": (P.NAMESPACE_MEMBERS, ("api", "ui")),
    "visibility": (P.REPOSITORY_CONFIGURE, ("api", "ui")),
    "see": (P.REPOSITORY_READ, ("v2", "api", "ui")),
}
UI_SUBJECTS = {"anonymous", *PEOPLE}  # the UI is for people; tokens are for machines


def generate_cases() -> list[Case]:
    return [
        Case(subject, org, surface, operation, permission)
        for org in ORG_PUBLIC
        for operation, (permission, surfaces) in OPERATIONS.items()
        for surface in surfaces
        for subject in SUBJECT_ROLES
        if surface != "ui" or subject in UI_SUBJECTS
    ]


def test_the_matrix_ties_tag_moves_to_pushes() -> None:
    """The registry gate lets a push grant cover moving a tag; the matrix must agree."""
    for role, permissions in ROLE_PERMISSIONS.items():
        assert (P.REPOSITORY_PUSH in permissions) == (P.REPOSITORY_TAG_MOVE in permissions), role
    for scope in TokenScope:
        granted = scope_permissions((scope,))
        assert (P.REPOSITORY_PUSH in granted) == (P.REPOSITORY_TAG_MOVE in granted), scope


def test_generated_matrix_has_enough_cases() -> None:
    cases = generate_cases()
    assert len(cases) >= 200
    assert {c.surface for c in cases} == {"v2", "api", "ui"}


@pytest.fixture
def secure_settings(tmp_path: object, database_url: str) -> Settings:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    # Every person signs in at the token endpoint for several scopes: lift the abuse
    # limits here (they have their own tests).
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    open_namespaces=False, signup="open",  # type: ignore[arg-type]
                    signin_limit_per_address=100_000, signin_limit_per_account=100_000)


# About 300 HTTP round trips plus ~70 argon2 checks at the token endpoint: minutes on a
# busy 2-core machine with PostgreSQL.
@pytest.mark.timeout(1500)
def test_permission_matrix(world: World) -> None:
    runner = Runner(world)
    from tests.catalog.publish import push

    for org in ORG_PUBLIC:
        push(world.hub, f"{org}/plug", "moving", world.images[f"{org}/one"])
        for subject in SUBJECT_ROLES:
            push(world.hub, f"{org}/plug", f"del-{subject}", world.images[f"{org}/one"])
    mismatches: list[str] = []
    cases = generate_cases()
    for case in cases:
        want = expected(case.subject, case.permission, ORG_PUBLIC[case.org], case.surface,
                        listing=case.operation == "see")
        got = runner.run(case)
        if got != want:
            mismatches.append(f"{case.surface:3} {case.operation:10} {case.org:6} "
                              f"{case.subject:13} expected {want}, got {got}")
    assert not mismatches, f"{len(mismatches)} of {len(cases)} cases differ:\n" + "\n".join(
        mismatches)
    # Denials were audited where they happened (the token endpoint's narrowed grants).
    olive = person(world.hub, "olive")
    entries = world.hub.identity.audit.entries(namespace="privco", action="access.denied")
    assert entries, "denied registry access to privco was not audited"
    assert world.hub.identity.access.check(olive, P.NAMESPACE_AUDIT, namespace="privco")

