"""The add-plugin form: register a plugin by ``oci://`` or ``https://`` URL.

``GET /add`` shows the form; ``POST /add`` checks what only the form can check (a URL is
given and uses a supported scheme, an English name is given), then calls
:meth:`CatalogService.add_by_url`, which fetches, inspects and indexes the artifact and
stores nothing when it fails. Its typed errors are shown in the form, with everything
the user typed kept; success redirects to the new plugin's page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wasmhub.authz.audit import AuditAction
from wasmhub.authz.permissions import Permission
from wasmhub.catalog.adding import NotAPluginError
from wasmhub.catalog.fetch import ContentTooLargeError, UnsafeURLError
from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import Localized, PluginDetail, Registration
from wasmhub.errors import UpstreamError, WasmhubError
from wasmhub.web.context import Page, plugin_url

FIELDS = ("url", "display_name_en", "display_name_zh", "description_en", "description_zh",
          "namespace", "name")
LIMITS = {"url": 2048, "display_name_en": 255, "display_name_zh": 255,
          "description_en": 4000, "description_zh": 4000, "namespace": 128, "name": 255}
DEFAULT_NAMESPACE = "library"
# Failures of what the URL points at (unreachable, refused, too large, not a plugin).
URL_ERRORS = (UpstreamError, NotAPluginError, UnsafeURLError, ContentTooLargeError)


def _check(page: Page, values: dict[str, str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    url = values["url"]
    if not url:
        errors["url"] = [page.gettext("Enter the plugin's URL.")]
    else:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("oci", "https"):
            errors["url"] = [page.gettext(
                "Use an oci:// image reference or an https:// link to a .wasm file.")]
        elif not urlsplit(url).netloc:
            errors["url"] = [page.gettext("The URL has no host.")]
    if not values["display_name_en"]:
        errors["display_name_en"] = [page.gettext("Enter an English name.")]
    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            errors.setdefault(name, []).append(
                page.gettext("At most %(n)s characters.", n=limit))
    return errors


async def add_page(request: Request) -> Response:
    page = Page.of(request)
    values = dict.fromkeys(FIELDS, "")
    errors: dict[str, list[str]] = {}
    form_error: str | None = None
    status = 200
    if request.method == "POST":
        form = await page.checked_form(max_fields=20)
        for name in FIELDS:
            raw = form.get(name)
            values[name] = raw.strip() if isinstance(raw, str) else ""
        errors = _check(page, values)
        if errors:
            status = 400
        else:
            registration = Registration(
                url=values["url"],
                display_name=Localized(values["display_name_en"], values["display_name_zh"]),
                description=Localized(values["description_en"], values["description_zh"]),
                namespace=values["namespace"] or DEFAULT_NAMESPACE,
                name=values["name"] or None,
            )
            catalog = CatalogService(request.app.state.hub)
            principal = page.principal

            def add() -> PluginDetail:
                page.identity.access.require(
                    principal, Permission.REPOSITORY_PUSH,
                    repository=f"{registration.namespace}/{registration.name or 'plugin'}",
                    what=f"namespace {registration.namespace}")
                detail = catalog.add_by_url(registration)
                page.identity.audit.record(
                    AuditAction.ADD_BY_URL, principal, namespace=detail.summary.namespace,
                    target=detail.summary.repository, url=registration.url)
                return detail

            try:
                detail = await run_in_threadpool(add)
            except WasmhubError as exc:
                status = exc.http_status if 400 <= exc.http_status < 600 else 400
                form_error = exc.message
                if isinstance(exc, URL_ERRORS):
                    # The artifact behind the URL is what failed: point at that field.
                    errors["url"] = [page.gettext("Check this URL.")]
            else:
                target = plugin_url(detail.summary.namespace, detail.summary.name)
                return page.finish(RedirectResponse(target, status_code=303))
    return page.render("add.html", {
        "values": values, "errors": errors, "form_error": form_error, "nav": "add",
    }, status=status)
