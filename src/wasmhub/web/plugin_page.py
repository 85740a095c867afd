"""The plugin page: README, versions, inspector facts, config form, snippets, star.

``GET /plugins/{namespace}/{name}`` renders the page (``?version=`` picks a tag, default
the latest). ``POST`` to the same URL validates the config form server-side (the
plugin's schema is evaluated by the hub's bounded
:class:`~wasmhub.config_schema.SchemaEvaluator`, in a thread) and re-renders the page
(or, for htmx, just the config section) with the generated pluginConfig JSON or the
field errors; the install snippets then carry that config. ``POST /stars/{namespace}/
{name}`` stars or unstars for the signed-in user (one star per person; signed-out
visitors are sent to sign in). A plugin the visitor may not read is "not found", exactly
like one that does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wasmhub.authz.permissions import Permission
from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.snippets import version_snippets
from wasmhub.catalog.types import PluginDetail, Snippet, VersionDetail
from wasmhub.config_schema import SchemaEvaluator
from wasmhub.errors import NotFoundError
from wasmhub.web import i18n
from wasmhub.web.context import Page, is_htmx, plugin_url, trusted_html
from wasmhub.web.form_extras import localize_form, map_fields
from wasmhub.web.schema_form import (
    FieldKind,
    FormField,
    build_form,
    check_schema,
    errors_by_name,
    parse_form,
    validate_config,
)
from wasmhub.web.signatures import signatures_view

MAX_FORM_FIELDS = 500


def _names(request: Request) -> tuple[str, str]:
    return request.path_params["namespace"], request.path_params["name"].strip("/")


def _pick_version(detail: PluginDetail, wanted: str | None) -> str | None:
    tags = [v.tag for v in detail.versions]
    if wanted:
        if wanted not in tags:
            raise NotFoundError(f"{detail.summary.repository} has no version {wanted!r}")
        return wanted
    if detail.summary.latest_version in tags:
        return detail.summary.latest_version
    return tags[0] if tags else None


def initial_form_data(form: FormField) -> dict[str, list[str]]:
    """What the browser would submit for the form as first shown (prefilled values)."""
    return {f.name: [f.text_value] for f in form.walk()
            if f.kind is not FieldKind.OBJECT and f.text_value != ""}


class ConfigState:
    """The config editor's state: form model, submitted text, resulting JSON and errors."""

    def __init__(self, evaluator: SchemaEvaluator, version: VersionDetail | None) -> None:
        self.evaluator = evaluator
        self.schema: Mapping[str, Any] | None = None
        self.problem: str | None = None
        self.form: FormField | None = None
        self.submitted: dict[str, list[str]] = {}
        self.errors: dict[str, list[str]] = {}
        self.checked = False
        self.config: Any = version.example_config if version else None
        schema = version.config_schema if version else None
        if schema is not None:
            self.problem = check_schema(evaluator, schema)
            if self.problem is None:
                self.schema = schema
                example = self.config if isinstance(self.config, Mapping) else None
                self.form = build_form(schema, example)
                self.config, _ = parse_form(self.form, initial_form_data(self.form))

    def submit(self, data: Mapping[str, Sequence[str]]) -> None:
        if self.form is None or self.schema is None:
            return
        self.checked = True
        self.submitted = {k: list(v) for k, v in data.items()}
        config, problems = parse_form(self.form, data)
        problems += [p for p in validate_config(self.evaluator, self.schema, config)
                     if p.name not in {q.name for q in problems}]
        self.config = config
        self.errors = errors_by_name(problems)

    def context(self, locale: str = "en") -> dict[str, Any]:
        form, maps = self.form, {}
        if form is not None and self.schema is not None:
            maps = map_fields(form, self.schema)
            form = localize_form(form, self.schema, locale)
        return {
            "form": form,
            "map_fields": maps,
            "schema_problem": self.problem,
            "submitted": self.submitted,
            "config_errors": self.errors,
            "config_error_count": sum(len(v) for v in self.errors.values()),
            "config_checked": self.checked,
            "config_json": "" if self.config is None
            else json.dumps(self.config, indent=2, ensure_ascii=False),
        }


def _form_lists(form: FormData) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and key.startswith("cfg"):
            data.setdefault(key, []).append(value)
    return data


async def _load(
    request: Request, page: Page, wanted: str | None
) -> tuple[PluginDetail, VersionDetail | None, dict[str, Any] | None]:
    namespace, name = _names(request)
    catalog = CatalogService(request.app.state.hub)
    user = page.principal.username if page.principal.is_person else None

    def load() -> tuple[PluginDetail, VersionDetail | None, dict[str, Any] | None]:
        page.identity.access.require(page.principal, Permission.REPOSITORY_READ,
                                     repository=f"{namespace}/{name}",
                                     what=f"plugin {namespace}/{name}")
        detail = catalog.get_plugin(namespace, name, user)
        tag = _pick_version(detail, wanted)
        version = catalog.get_version(namespace, name, tag) if tag else None
        trust = signatures_view(request.app.state.hub, detail.summary.repository,
                                version.version.digest) if version else None
        return detail, version, trust

    return await run_in_threadpool(load)


def _page_context(
    request: Request, page: Page, detail: PluginDetail, version: VersionDetail | None,
    config: ConfigState,
) -> dict[str, Any]:
    summary = detail.summary
    base_url = request.app.state.hub.settings.base_url
    snippets: tuple[Snippet, ...] = ()
    if version is not None:
        usable = config.config if not config.errors else version.example_config
        snippets = version_snippets(version, base_url, usable).items
    readme = i18n.localized(version.readme_html if version else detail.readme_html, page.locale)
    title = i18n.localized(summary.display_name, page.locale) or summary.name
    url = plugin_url(summary.namespace, summary.name)
    return {
        "plugin": {
            "namespace": summary.namespace, "name": summary.name,
            "display_name": summary.display_name, "category": summary.category,
            "stars": summary.stars, "downloads": summary.downloads,
            "keywords": summary.keywords, "license": detail.license, "source": detail.source,
            "origin_url": detail.origin_url,
        },
        "title": title,
        "description": i18n.localized(summary.description, page.locale),
        "version": _version_view(version),
        "versions": detail.versions,
        "compat": list(version.platforms if version else ()),
        "readme_html": trusted_html(readme) if readme else "",
        "snippets": snippets,
        "pull_command": snippets[0].text if snippets else "",
        "starred": detail.starred_by_user,
        "star_url": "/stars" + url.removeprefix("/plugins"),
        "apply_url": "/apply" + url.removeprefix("/plugins")
        + (f"?version={quote(version.version.tag)}" if version else ""),
        "installed_url": "/installed" + url.removeprefix("/plugins"),
        "config_url": url + (f"?version={version.version.tag}" if version else ""),
        **config.context(page.locale),
    }


def _version_view(version: VersionDetail | None) -> dict[str, Any] | None:
    if version is None:
        return None
    v = version.version
    return {
        "version": v.tag, "digest": v.digest, "created_at": v.created_at, "size": v.size,
        "layout": v.layout, "abi_version": v.abi_version, "deprecated": v.deprecated,
        "deprecation_reason": v.deprecation_reason, "yanked": v.yanked,
        "yank_reason": v.yank_reason, "filter_types": version.filter_types,
        "wasi": version.wasi, "language": version.language, "root_id": version.root_id,
        "imports": version.imports, "module_sha256": version.module_sha256,
        "module_size": version.module_size, "is_proxy_wasm": version.is_proxy_wasm,
        "signed_by": v.signed_by,
    }


async def plugin_page(request: Request) -> Response:
    page = Page.of(request)
    detail, version, trust = await _load(request, page, request.query_params.get("version"))
    # The schema is the plugin author's: it is evaluated in worker processes, and the
    # wait for them (bounded) happens in a thread, never on the event loop.
    evaluator = request.app.state.hub.schema_evaluator
    config = await run_in_threadpool(ConfigState, evaluator, version)
    if request.method == "POST":
        form = await request.form(max_fields=MAX_FORM_FIELDS)
        await run_in_threadpool(config.submit, _form_lists(form))
        if is_htmx(request):
            context = _page_context(request, page, detail, version, config)
            return page.render("_config_response.html", context)
    context = _page_context(request, page, detail, version, config)
    return page.render("plugin.html", {**context, "trust": trust})


async def star(request: Request) -> Response:
    page = Page.of(request)
    namespace, name = _names(request)
    form = await page.checked_form(max_fields=10)
    wants_star = form.get("starred", "true") != "false"
    catalog = CatalogService(request.app.state.hub)
    principal = page.principal
    if not principal.is_person or not principal.username:
        target = "/account/sign-in?next=" + quote(plugin_url(namespace, name))
        if is_htmx(request):  # a whole-page navigation, not a sign-in form in the button
            return page.finish(Response(status_code=204, headers={"HX-Redirect": target}))
        return page.finish(RedirectResponse(target, status_code=303))
    user = principal.username

    def change() -> PluginDetail:
        page.identity.access.require(principal, Permission.REPOSITORY_STAR,
                                     repository=f"{namespace}/{name}",
                                     what=f"plugin {namespace}/{name}")
        if wants_star:
            catalog.star(namespace, name, user)
        else:
            catalog.unstar(namespace, name, user)
        return catalog.get_plugin(namespace, name, user)

    detail = await run_in_threadpool(change)
    if not is_htmx(request):
        return page.finish(RedirectResponse(plugin_url(namespace, name), status_code=303))
    url = plugin_url(namespace, name)
    return page.render("_star.html", {
        "plugin": {"stars": detail.summary.stars},
        "starred": detail.starred_by_user,
        "star_url": "/stars" + url.removeprefix("/plugins"),
    })
