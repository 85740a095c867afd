"""The playground page: ``/playground/{namespace}/{name}`` (``?version=``, default latest).

``GET`` shows a request editor (method, path, headers, body, how many times to send it,
the upstream's status, declared answers for HTTP callouts) and the plugin's
configuration: the schema-generated form of the plugin page (its ``render_field`` macro
and :class:`~wasmhub.web.plugin_page.ConfigState`) when the version publishes a schema,
else a JSON text area. ``POST`` runs it through :class:`wasmhub.playground.
PlaygroundService` and re-renders the page with the outcome, or, when
``static/playground.js`` sends it (``X-Playground: fragment``), only the outcome. Errors
are the service's typed ones, mapped to pages by the web app's one error handler; an
invalid configuration form re-renders with the field errors (400).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from wasmhub.authz.permissions import Permission
from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import PluginDetail, VersionDetail
from wasmhub.errors import NotFoundError
from wasmhub.playground import PlaygroundDisabledError, PlaygroundOutcome, PlaygroundRequest
from wasmhub.web import i18n
from wasmhub.web.context import Page, plugin_url
from wasmhub.web.plugin_page import MAX_FORM_FIELDS, ConfigState, _form_lists, _pick_version

DEFAULT_HEADERS = "x-user: alice\naccept: */*"


def playground_url(namespace: str, name: str) -> str:
    return "/playground" + plugin_url(namespace, name).removeprefix("/plugins")


async def _load(request: Request, page: Page) -> tuple[PluginDetail, VersionDetail]:
    namespace = request.path_params["namespace"]
    name = request.path_params["name"].strip("/")
    catalog = CatalogService(request.app.state.hub)
    wanted = request.query_params.get("version")

    def load() -> tuple[PluginDetail, VersionDetail]:
        # A private plugin is "not found" to whoever may not read it (authz).
        page.identity.access.require(page.principal, Permission.REPOSITORY_READ,
                                     repository=f"{namespace}/{name}",
                                     what=f"plugin {namespace}/{name}")
        detail = catalog.get_plugin(namespace, name)
        tag = _pick_version(detail, wanted)
        if tag is None:
            raise NotFoundError(f"{detail.summary.repository} has no version to run")
        return detail, catalog.get_version(namespace, name, tag)

    return await run_in_threadpool(load)


def _context(page: Page, detail: PluginDetail, version: VersionDetail, config: ConfigState,
             fields: dict[str, str], outcome: PlaygroundOutcome | None,
             config_text: str) -> dict[str, Any]:
    summary = detail.summary
    hub = page.request.app.state.hub
    return {
        "plugin": {"namespace": summary.namespace, "name": summary.name},
        "title": i18n.localized(summary.display_name, page.locale) or summary.name,
        "version": version.version.tag,
        "versions": [v.tag for v in detail.versions],
        "plugin_page_url": plugin_url(summary.namespace, summary.name),
        "action": playground_url(summary.namespace, summary.name)
        + f"?version={version.version.tag}",
        "fields": fields,
        "config_text": config_text,
        "outcome": outcome,
        "limits": hub.playground,
        **config.context(),
    }


def _default_fields() -> dict[str, str]:
    return {"method": "GET", "path": "/", "headers": DEFAULT_HEADERS, "body": "",
            "repeat": "1", "upstream_status": "200", "http_calls": ""}


async def playground_page(request: Request) -> Response:
    page = Page.of(request)
    service = request.app.state.hub.playground
    if not service.enabled:
        raise PlaygroundDisabledError("the playground is disabled on this hub")
    detail, version = await _load(request, page)
    config = await run_in_threadpool(ConfigState, request.app.state.hub.schema_evaluator,
                                     version)
    fields = _default_fields()
    config_text = "" if version.example_config is None else json.dumps(
        version.example_config, indent=2, ensure_ascii=False)
    outcome: PlaygroundOutcome | None = None
    status = 200
    if request.method == "POST":
        form = await request.form(max_fields=MAX_FORM_FIELDS)
        for key in fields:
            value = form.get(key)
            if isinstance(value, str):
                fields[key] = value
        config_value: Any = None
        typed: str | None = None
        if config.form is not None:
            await run_in_threadpool(config.submit, _form_lists(form))
            config_value = config.config
        else:
            raw = form.get("config")
            typed = config_text = raw if isinstance(raw, str) else ""
        if config.errors:
            status = 400
        else:
            run: PlaygroundRequest = service.build_request(
                config=config_value, config_text=typed, **fields)
            outcome = await service.run(version, run)
    context = _context(page, detail, version, config, fields, outcome, config_text)
    if request.headers.get("x-playground") == "fragment":
        return page.render("_playground_result.html", context, status=status)
    return page.render("playground.html", context, status=status)
