"""Organization pages: create one, manage members, invitations, teams and grants, the
namespace's visibility, a plugin's settings (private, immutable tags), the audit log.

Each POST names one ``action``; the change itself is :class:`OrgService`'s, after the
one permission check (so the page can never allow what the API refuses).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wasmhub.authz.permissions import Permission
from wasmhub.errors import NotFoundError, WasmhubError
from wasmhub.orgs.transfer import TransferService
from wasmhub.web.account import _field, sign_in_redirect
from wasmhub.web.context import Page

AUDIT_PAGE = 200


async def new_org_page(request: Request) -> Response:
    page = Page.of(request)
    if (redirect := sign_in_redirect(page)) is not None:
        return redirect
    error: str | None = None
    status = 200
    name = ""
    if request.method == "POST":
        form = await page.checked_form(max_fields=5)
        name = _field(form, "name", 64)
        try:
            info = await run_in_threadpool(page.identity.orgs.create, page.principal, name)
        except WasmhubError as exc:
            error, status = exc.message, exc.http_status
        else:
            return page.finish(RedirectResponse(f"/orgs/{info.name}", status_code=303))
    return page.render("account/org_new.html", {"name": name, "error": error,
                                                "nav": "account"}, status=status)


def _org_action(page: Page, org: str, form: Any) -> str:
    orgs = page.identity.orgs
    principal = page.principal
    action = _field(form, "action", 20)
    username = _field(form, "username", 64)
    team = _field(form, "team", 64)
    if action == "invite":
        orgs.invite(principal, org, username, _field(form, "role", 16) or "member")
        return page.gettext("Invitation sent to %(u)s.", u=username)
    if action == "role":
        role = _field(form, "role", 16)
        orgs.set_role(principal, org, username, None if role == "remove" else role)
        return page.gettext("Membership updated.")
    if action == "team":
        orgs.create_team(principal, org, team)
        return page.gettext("Team created.")
    if action == "team-member":
        orgs.set_team_member(principal, org, team, username,
                             _field(form, "member", 8) != "remove")
        return page.gettext("Team updated.")
    if action == "grant":
        permission = _field(form, "permission", 8)
        orgs.grant(principal, org, team, _field(form, "repository", 255) or "*",
                   None if permission == "none" else permission)
        return page.gettext("Team permission updated.")
    if action == "visibility":
        orgs.set_namespace_private(principal, org, _field(form, "private", 8) == "true")
        return page.gettext("Visibility updated.")
    raise NotFoundError(page.gettext("Unknown action."))


async def org_page(request: Request) -> Response:
    page = Page.of(request)
    org = request.path_params["org"]
    message: str | None = None
    error: str | None = None
    status = 200
    if request.method == "POST":
        if (redirect := sign_in_redirect(page)) is not None:
            return redirect
        form = await page.checked_form(max_fields=20)
        try:
            message = await run_in_threadpool(_org_action, page, org, form)
        except WasmhubError as exc:
            if exc.http_status == 404 and "Unknown action" not in exc.message:
                raise
            error, status = exc.message, exc.http_status

    def load() -> dict[str, Any]:
        info = page.identity.orgs.info(page.principal, org)
        manage = page.identity.access.check(page.principal, Permission.NAMESPACE_MEMBERS,
                                            namespace=org)
        trust = page.identity.access.check(page.principal, Permission.NAMESPACE_TRUST,
                                           namespace=org)
        return {"org": info, "manage": manage, "trust": trust}

    context = await run_in_threadpool(load)
    context.update({"message": message, "error": error, "nav": "account"})
    return page.render("account/org.html", context, status=status)


async def plugin_settings_page(request: Request) -> Response:
    page = Page.of(request)
    if (redirect := sign_in_redirect(page)) is not None:
        return redirect
    repository = f"{request.path_params['namespace']}/{request.path_params['name'].strip('/')}"
    orgs = page.identity.orgs
    message: str | None = None
    # Only those who may configure it see the page (404 for readers, like the API's 403/404).
    await run_in_threadpool(page.identity.access.require, page.principal,
                            Permission.REPOSITORY_CONFIGURE, repository=repository,
                            what=f"plugin {repository}")
    error: str | None = None
    status = 200
    to_namespace = ""
    if request.method == "POST":
        form = await page.checked_form(max_fields=10)
        if _field(form, "action", 20) == "transfer":
            to_namespace = _field(form, "to_namespace", 128)
            hub = request.app.state.hub
            try:
                result = await run_in_threadpool(TransferService(hub).transfer,
                                                 page.principal, repository, to_namespace)
            except WasmhubError as exc:
                error, status = exc.message, exc.http_status
            else:
                return page.finish(RedirectResponse(f"/plugins/{result.destination}",
                                                    status_code=303))
        else:
            await run_in_threadpool(lambda: orgs.set_repository_policy(
                page.principal, repository, private=_field(form, "private", 8) == "true",
                tag_immutable=_field(form, "tag_immutable", 8) == "true"))
            message = page.gettext("Settings saved.")
    policy = await run_in_threadpool(orgs.repository_policy, repository)
    return page.render("account/plugin_settings.html", {
        "repository": repository, "policy": policy, "message": message, "error": error,
        "to_namespace": to_namespace, "nav": "account",
    }, status=status)


async def audit_page(request: Request) -> Response:
    page = Page.of(request)
    if (redirect := sign_in_redirect(page)) is not None:
        return redirect
    namespace = request.path_params["org"]
    action = request.query_params.get("action") or None
    actor = request.query_params.get("actor") or None

    def load() -> list[Any]:
        page.identity.access.require(page.principal, Permission.NAMESPACE_AUDIT,
                                     namespace=namespace)
        return page.identity.audit.entries(namespace=namespace, action=action,
                                           actor=actor, limit=AUDIT_PAGE)

    entries = await run_in_threadpool(load)
    return page.render("account/audit.html", {
        "namespace": namespace, "entries": entries, "action": action or "",
        "actor": actor or "", "nav": "account",
    })
