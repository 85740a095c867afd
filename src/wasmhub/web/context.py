"""Per-request rendering for the web UI: locale, template globals, cookies.

Owns :class:`Page`, which every handler builds first: it settles the request's locale
(remembering an explicit ``?lang=`` in the ``lang`` cookie), renders a template with the
globals all pages share (URLs, static paths, the language switch, the signed-in user)
and guards state-changing forms (:meth:`Page.checked_form`): the form must echo the CSRF
token (the session's, or for signed-out visitors a double-submit cookie) and a request
naming another ``Origin`` is refused, whatever it carries.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from wasmhub import __version__
from wasmhub.accounts.service import same_secret
from wasmhub.authz.access import ReadScope
from wasmhub.authz.audit import AuditAction, Outcome
from wasmhub.authz.identity import Identity
from wasmhub.authz.middleware import principal_or_anonymous
from wasmhub.authz.principal import ANONYMOUS, Principal
from wasmhub.catalog.snippets import registry_host
from wasmhub.errors import PermissionDeniedError
from wasmhub.web import i18n
from wasmhub.web.templating import environment

CSRF_COOKIE = "wasmhub_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
ONE_YEAR = 365 * 24 * 3600


def plugin_url(namespace: str, name: str) -> str:
    return f"/plugins/{quote(namespace, safe='')}/{quote(name, safe='/')}"


def namespace_url(namespace: str) -> str:
    return f"/namespaces/{quote(namespace, safe='')}"


def static_url(path: str) -> str:
    # The version busts caches after an upgrade; files are immutable within a release.
    return f"/static/{path}?v={__version__}"


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@dataclass
class Page:
    request: Request
    locale: str
    remember_locale: bool
    principal: Principal = ANONYMOUS
    new_csrf: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Request) -> Page:
        query_lang = request.query_params.get("lang")
        locale = i18n.select_locale(
            query_lang, request.cookies.get(i18n.COOKIE_NAME),
            request.headers.get("accept-language"),
        )
        return cls(request, locale, remember_locale=i18n.normalize_locale(query_lang) is not None,
                   principal=principal_or_anonymous(request))

    @property
    def identity(self) -> Identity:
        identity: Identity = self.request.app.state.hub.identity
        return identity

    def read_scope(self) -> ReadScope:
        """Which private plugins this visitor may see in listings."""
        scope: ReadScope = self.identity.access.read_scope(self.principal)
        return scope

    # -- CSRF ---------------------------------------------------------------------------

    def csrf_token(self) -> str:
        """What this visitor's forms must send back."""
        if self.principal.session_csrf:
            return self.principal.session_csrf
        token = self.request.cookies.get(CSRF_COOKIE, "")
        if not (token.replace("-", "").replace("_", "").isalnum() and 20 <= len(token) <= 64):
            token = self.new_csrf or secrets.token_urlsafe(24)
            self.new_csrf = token
        return token

    def _same_origin(self) -> bool:
        origin = self.request.headers.get("origin")
        if origin is None:
            return True  # same-origin form posts from older browsers; the token decides
        host = self.request.headers.get("host", "")
        return origin.split("://", 1)[-1].rstrip("/") == host

    async def checked_form(self, max_fields: int = 50) -> Any:
        """The posted form, after the CSRF and origin checks (403 + audit otherwise)."""
        form = await self.request.form(max_fields=max_fields, max_files=0)
        sent = form.get(CSRF_FIELD) or self.request.headers.get(CSRF_HEADER) or ""
        expected = (self.principal.session_csrf
                    or self.request.cookies.get(CSRF_COOKIE, ""))
        if not self._same_origin() or not (
                isinstance(sent, str) and sent and expected and same_secret(sent, expected)):
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(
                self.identity.audit.record, AuditAction.ACCESS_DENIED, self.principal,
                outcome=Outcome.DENIED, target=self.request.url.path[:200],
                reason="missing or wrong CSRF token, or another origin",
                origin=self.request.headers.get("origin"))
            raise PermissionDeniedError(
                self.gettext("This form expired or came from another site. Reload the page "
                             "and try again."))
        return form

    def gettext(self, message: str, **variables: Any) -> str:
        text = i18n.translations(self.locale).gettext(message)
        return text % variables if variables else text

    def lang_url(self, code: str) -> str:
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        params.append(("lang", code))
        # One leading slash: "//evil.example/x" would be a link to another host.
        path = "/" + self.request.url.path.lstrip("/")
        return f"{quote(path)}?{urlencode(params)}"

    def render(
        self, template: str, context: dict[str, Any] | None = None, *, status: int = 200
    ) -> Response:
        env = environment(self.locale)
        base = self.request.app.state.hub.settings.base_url
        values: dict[str, Any] = {
            "request": self.request,
            "static": static_url,
            "lang_url": self.lang_url,
            "plugin_url": plugin_url,
            "namespace_url": namespace_url,
            "registry_host": registry_host(base),
            "nav": None,
            "header_query": None,
            "principal": self.principal,
            "current_user": None if self.principal.is_anonymous else self.principal.username,
            "csrf_token": self.csrf_token(),
            "playground_enabled": self.request.app.state.hub.settings.playground_enabled,
        }
        values.update(context or {})
        html = env.get_template(template).render(values)
        return self.finish(HTMLResponse(html, status_code=status))

    def finish(self, response: Response) -> Response:
        if self.remember_locale:
            response.set_cookie(
                i18n.COOKIE_NAME, self.locale, max_age=ONE_YEAR, samesite="lax", path="/"
            )
        if self.new_csrf:
            response.set_cookie(
                CSRF_COOKIE, self.new_csrf, samesite="strict", httponly=True, path="/",
                secure=self.request.app.state.hub.settings.secure_cookies,
            )
        if self.principal.is_anonymous and self.request.cookies.get("wasmhub_session"):
            response.delete_cookie("wasmhub_session", path="/")  # unknown or expired
        response.headers.setdefault("Vary", "Accept-Language, Cookie, HX-Request")
        return response


def trusted_html(html: str) -> Markup:
    """README HTML that the catalog already sanitized with nh3 (``catalog.readme``)."""
    return Markup(html)
