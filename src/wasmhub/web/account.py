"""Account pages: sign in, sign up, sign out, the account page (password, API tokens,
organizations and invitations).

Every POST goes through :meth:`Page.checked_form` (CSRF token + origin). Sign-in failures
say the same thing for unknown users and wrong passwords and count against the abuse
limits (``authz.middleware.sign_in``). Session cookies are HttpOnly, SameSite=Lax and
Secure whenever the hub is served over https (``cookie_secure``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wasmhub.authz.audit import AuditAction
from wasmhub.authz.middleware import SESSION_COOKIE, RateLimitedError, client_addr, sign_in
from wasmhub.errors import NotFoundError, WasmhubError
from wasmhub.settings import SignupMode
from wasmhub.web.context import Page

TOKEN_SCOPES = ("pull", "push", "delete", "admin")


def safe_next(value: str | None) -> str:
    """A local path to go back to after signing in (never another site)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value[:500]
    return "/account"


def _field(form: Any, name: str, limit: int = 1024) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def start_session(page: Page, user_id: int, target: str) -> Response:
    identity = page.identity
    new = identity.accounts.start_session(user_id, client_addr(page.request.scope))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, new.cookie, max_age=identity.settings.session_days
                        * 86400, httponly=True, samesite="lax", path="/",
                        secure=identity.settings.secure_cookies)
    return response


def sign_in_redirect(page: Page) -> Response | None:
    """Where signed-out visitors of a page for people go (None: signed in)."""
    if page.principal.is_person:
        return None
    target = "/account/sign-in?next=" + quote(page.request.url.path, safe="/")
    return page.finish(RedirectResponse(target, status_code=303))


async def sign_in_page(request: Request) -> Response:
    page = Page.of(request)
    values = {"username": "", "next": safe_next(request.query_params.get("next"))}
    error: str | None = None
    status = 200
    if request.method == "POST":
        form = await page.checked_form(max_fields=10)
        values = {"username": _field(form, "username", 64),
                  "next": safe_next(_field(form, "next", 500))}
        password = form.get("password")
        addr = client_addr(request.scope)
        try:
            principal = await run_in_threadpool(
                sign_in, page.identity, values["username"],
                password if isinstance(password, str) else "", addr, via="web")
        except RateLimitedError as exc:
            error, status = page.gettext("Too many attempts. Try again in %(s)s seconds.",
                                         s=exc.retry_after), 429
        except WasmhubError:
            error, status = page.gettext("Wrong username or password."), 401
        else:
            assert principal.user_id is not None
            response = await run_in_threadpool(start_session, page, principal.user_id,
                                               values["next"])
            return page.finish(response)
    return page.render("account/sign_in.html", {
        "values": values, "error": error, "nav": "sign-in",
        "signup_open": page.identity.settings.signup is not SignupMode.CLOSED,
    }, status=status)


async def sign_up_page(request: Request) -> Response:
    page = Page.of(request)
    mode = page.identity.settings.signup
    if mode is SignupMode.CLOSED:
        raise NotFoundError(page.gettext("Sign-up is closed on this hub; ask an administrator "
                                         "for an account."))
    values = {"username": "", "email": "", "code": ""}
    error: str | None = None
    status = 200
    if request.method == "POST":
        form = await page.checked_form(max_fields=10)
        values = {"username": _field(form, "username", 64), "email": _field(form, "email", 254),
                  "code": _field(form, "code", 64)}
        password = form.get("password")
        accounts = page.identity.accounts

        def create() -> int:
            if mode is SignupMode.INVITE_ONLY:
                accounts.use_signup_code(values["code"], values["username"])
            user = accounts.create_user(values["username"], values["email"],
                                        password if isinstance(password, str) else "")
            page.identity.audit.record(AuditAction.SIGN_UP, None, actor=user.username,
                                       namespace=user.username,
                                       client_addr=client_addr(request.scope))
            return user.id

        try:
            user_id = await run_in_threadpool(create)
        except WasmhubError as exc:
            error, status = exc.message, exc.http_status
        else:
            response = await run_in_threadpool(start_session, page, user_id, "/account")
            return page.finish(response)
    return page.render("account/sign_up.html", {
        "values": values, "error": error, "nav": "sign-in",
        "needs_code": mode is SignupMode.INVITE_ONLY,
    }, status=status)


async def sign_out(request: Request) -> Response:
    page = Page.of(request)
    await page.checked_form(max_fields=5)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await run_in_threadpool(page.identity.accounts.end_session, cookie)
        await run_in_threadpool(page.identity.audit.record, AuditAction.SIGN_OUT,
                                page.principal, namespace=page.principal.username)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return page.finish(response)


async def account_page(request: Request) -> Response:
    page = Page.of(request)
    if (redirect := sign_in_redirect(page)) is not None:
        return redirect
    identity = page.identity
    principal = page.principal
    message: str | None = None
    error: str | None = None
    new_token: str | None = None
    status = 200
    if request.method == "POST":
        form = await page.checked_form(max_fields=30)
        action = _field(form, "action", 20)

        def act() -> tuple[str | None, str | None]:
            assert principal.user_id is not None and principal.username is not None
            if action == "password":
                identity.accounts.change_password(principal.user_id, str(form.get("current")
                                                  or ""), str(form.get("new") or ""))
                identity.audit.record(AuditAction.PASSWORD_CHANGE, principal,
                                      namespace=principal.username)
                return page.gettext("Password changed; other sessions were signed out."), None
            if action == "token":
                scopes = [s for s in TOKEN_SCOPES if form.get(f"scope_{s}")]
                resources = [r for r in _field(form, "resources", 2000).split() if r]
                days = _field(form, "expires_days", 4)
                secret, info = identity.tokens.create(
                    name=_field(form, "name", 100), scopes=scopes, resources=resources,
                    created_by=principal.username, user_id=principal.user_id,
                    expires_days=int(days) if days.isdigit() else 90)
                identity.audit.record(AuditAction.TOKEN_CREATE, principal,
                                      namespace=principal.username, target=str(info.id),
                                      scopes=list(info.scopes))
                return page.gettext("Token created. Copy it now: it is not shown again."), \
                    secret
            if action == "revoke":
                raw = _field(form, "token_id", 12)
                tokens = identity.tokens.list(user_id=principal.user_id)
                if not raw.isdigit() or int(raw) not in {t.id for t in tokens}:
                    raise NotFoundError(page.gettext("No such token."))
                identity.tokens.revoke(int(raw))
                identity.audit.record(AuditAction.TOKEN_REVOKE, principal,
                                      namespace=principal.username, target=raw)
                return page.gettext("Token revoked."), None
            if action in ("accept", "decline"):
                identity.orgs.answer_invitation(principal, _field(form, "org", 64),
                                                action == "accept")
                return page.gettext("Invitation answered."), None
            raise NotFoundError(page.gettext("Unknown action."))

        try:
            message, new_token = await run_in_threadpool(act)
        except WasmhubError as exc:
            error, status = exc.message, exc.http_status

    def load() -> dict[str, Any]:
        return {
            "tokens": identity.tokens.list(user_id=principal.user_id),
            "organizations": identity.orgs.organizations_of(principal),
            "invitations": identity.orgs.invitations_of(principal),
        }

    context = await run_in_threadpool(load)
    context.update({"message": message, "error": error, "new_token": new_token,
                    "scopes": TOKEN_SCOPES, "nav": "account"})
    return page.render("account/account.html", context, status=status)
