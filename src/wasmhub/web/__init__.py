"""The server-rendered web UI (Jinja2 + htmx), mounted at ``/`` by ``wasmhub.app``.

Owns the UI's routes table and its error pages. Pages are rendered on the server and
work without JavaScript; ``static/htmx-2.0.4.min.js`` (vendored, 0BSD, see
``static/htmx-LICENSE.txt``) and ``static/wasmhub.js`` only enhance them. All data comes
from :class:`wasmhub.catalog.service.CatalogService`.

Modules: ``context`` (per-request locale and rendering), ``i18n`` (locale selection and
catalogs), ``templating`` (Jinja environment and filters), ``browse`` (home, search,
namespaces), ``plugin_page`` (plugin page, config form, stars), ``playground_page``
(the plugin playground; ``static/playground.js``), ``add`` (add by URL),
``schema_form`` (JSON Schema → form → JSON), ``deploy_pages`` (the Apply form —
logic in ``apply_page`` — and the Installed page, sections in ``installed``),
``account`` (sign in/up/out, password, tokens), ``orgs_pages`` (organizations, teams,
plugin settings, audit log), ``trust_pages`` (a namespace's signing keys and signature
policy). Install
snippets come from :mod:`wasmhub.catalog.snippets` (rendered by the deploy providers),
the same source as the API's.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from wasmhub.errors import WasmhubError
from wasmhub.hub import Hub
from wasmhub.web.account import account_page, sign_in_page, sign_out, sign_up_page
from wasmhub.web.add import add_page
from wasmhub.web.browse import home, namespace_page, search
from wasmhub.web.context import Page
from wasmhub.web.deploy_pages import apply_page, installed_page
from wasmhub.web.orgs_pages import audit_page, new_org_page, org_page, plugin_settings_page
from wasmhub.web.playground_page import playground_page
from wasmhub.web.plugin_page import plugin_page, star
from wasmhub.web.templating import _
from wasmhub.web.trust_pages import keys_page

STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger(__name__)

_HEADINGS = {
    400: _("That request did not make sense"),
    401: _("Please sign in"),
    429: _("Too many attempts"),
    403: _("You may not do that"),
    404: _("Page not found"),
    405: _("That method is not allowed here"),
    502: _("A remote server failed"),
}
_FALLBACK_HEADING = _("Something went wrong")


def error_page(request: Request, status: int, detail: str | None) -> Response:
    """The UI's HTML error page (also used by the app's boundary checks)."""
    page = Page.of(request)
    heading = page.gettext(_HEADINGS.get(status, _FALLBACK_HEADING))
    if status == 404 and not detail:
        detail = page.gettext("There is nothing at this address. Try searching for a plugin.")
    return page.render("error.html", {
        "status_code": status,
        "heading": heading,
        "message": detail or page.gettext("Please try again later."),
    }, status=status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if exc.status_code != 404 and exc.detail else None
    return error_page(request, exc.status_code, detail)


_LOCALIZED_DETAILS = {
    400: _("The request to %(path)s was not valid."),
    403: _("You may not open %(path)s."),
    404: _("Nothing was found at %(path)s. Try searching for a plugin."),
}


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WasmhubError)
    if exc.http_status >= 500:
        log.error("web: %s", exc.message)
    detail = exc.message
    page = Page.of(request)
    template = _LOCALIZED_DETAILS.get(exc.http_status)
    if page.locale != "en" and template is not None:
        # Domain messages are English; a translated page says the same in its language.
        detail = page.gettext(template, path=request.url.path)
    return error_page(request, exc.http_status, detail)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("web: unhandled error on %s", request.url.path, exc_info=exc)
    return error_page(request, 500, None)


def web_routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/search", search, methods=["GET"]),
        Route("/add", add_page, methods=["GET", "POST"]),
        Route("/namespaces/{namespace}", namespace_page, methods=["GET"]),
        Route("/plugins/{namespace}/{name:path}", plugin_page, methods=["GET", "POST"]),
        Route("/stars/{namespace}/{name:path}", star, methods=["POST"]),
        Route("/apply/{namespace}/{name:path}", apply_page, methods=["GET", "POST"]),
        Route("/installed/{namespace}/{name:path}", installed_page, methods=["GET"]),
        Route("/account", account_page, methods=["GET", "POST"]),
        Route("/account/sign-in", sign_in_page, methods=["GET", "POST"]),
        Route("/account/sign-up", sign_up_page, methods=["GET", "POST"]),
        Route("/account/sign-out", sign_out, methods=["POST"]),
        Route("/orgs/new", new_org_page, methods=["GET", "POST"]),
        Route("/orgs/{org}", org_page, methods=["GET", "POST"]),
        Route("/orgs/{org}/audit", audit_page, methods=["GET"]),
        Route("/orgs/{org}/keys", keys_page, methods=["GET", "POST"]),
        Route("/settings/plugins/{namespace}/{name:path}", plugin_settings_page,
              methods=["GET", "POST"]),
        Route("/playground/{namespace}/{name:path}", playground_page, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def create_web_app(hub: Hub) -> Starlette:
    """The UI as its own ASGI app (so its error pages are HTML, not problem+json)."""
    app = Starlette(
        routes=web_routes(),
        exception_handlers={
            HTTPException: _http_error,
            WasmhubError: _domain_error,
            Exception: _server_error,
        },
    )
    app.state.hub = hub
    return app
