"""Per-request rendering for the web UI: locale, template globals, cookies.

Owns :class:`Page`, which every handler builds first: it settles the request's locale
(remembering an explicit ``?lang=`` in the ``lang`` cookie), renders a template with the
globals all pages share (URLs, static paths, the language switch) and knows who the
visitor is for stars (an anonymous ``wasmhub_visitor`` cookie until accounts exist).
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
from wasmhub.catalog.snippets import registry_host
from wasmhub.web import i18n
from wasmhub.web.templating import environment

VISITOR_COOKIE = "wasmhub_visitor"
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
    new_visitor: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Request) -> Page:
        query_lang = request.query_params.get("lang")
        locale = i18n.select_locale(
            query_lang, request.cookies.get(i18n.COOKIE_NAME),
            request.headers.get("accept-language"),
        )
        return cls(request, locale, remember_locale=i18n.normalize_locale(query_lang) is not None)

    def gettext(self, message: str, **variables: Any) -> str:
        text = i18n.translations(self.locale).gettext(message)
        return text % variables if variables else text

    def visitor(self) -> str:
        """The anonymous identity stars are recorded under; created on first use."""
        token = self.request.cookies.get(VISITOR_COOKIE, "")
        if not (token.isalnum() and 16 <= len(token) <= 64):
            token = self.new_visitor or secrets.token_hex(16)
            self.new_visitor = token
        return f"visitor:{token}"

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
        if self.new_visitor:
            response.set_cookie(
                VISITOR_COOKIE, self.new_visitor, max_age=ONE_YEAR, samesite="lax",
                httponly=True, path="/",
            )
        response.headers.setdefault("Vary", "Accept-Language, Cookie, HX-Request")
        return response


def trusted_html(html: str) -> Markup:
    """README HTML that the catalog already sanitized with nh3 (``catalog.readme``)."""
    return Markup(html)
