"""Deploy pages of a plugin: ``/apply/{ns}/{name}`` (the Apply form) and
``/installed/{ns}/{name}`` (where it runs). Thin: the form → Deployment → rendering logic
is :mod:`wasmhub.web.apply_page`, the status sections :mod:`wasmhub.web.installed`.

- ``GET /apply/…`` shows the form, prefilled (query parameters of the same names work
  too) and its rendering; ``POST`` with ``action=render`` re-renders (a read: no CSRF,
  like the config form); ``action=apply`` applies to the hub's cluster — CSRF-checked,
  only with cluster access configured and ``cluster:apply`` (site administrators).
- ``GET /installed/…``: the status sections.

A plugin the visitor may not read is "not found", as on the plugin page.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from wasmhub.authz.permissions import Permission
from wasmhub.authz.principal import ANONYMOUS
from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.snippets import ORDER
from wasmhub.catalog.types import PluginDetail, VersionDetail
from wasmhub.deploy import provider_for
from wasmhub.deploy.errors import ClusterError
from wasmhub.deploy.serving import ModuleFiles
from wasmhub.errors import NotFoundError, WasmhubError
from wasmhub.wasm.report import ModuleReport, inspect_module
from wasmhub.web import i18n
from wasmhub.web.apply_page import (
    FIELDS,
    FORM_WIDE,
    TARGET_FIELDS,
    ApplyForm,
    ApplyResult,
    build,
    choices,
)
from wasmhub.web.context import Page, plugin_url
from wasmhub.web.installed import hub_cluster, plugin_facts, section_view, sections
from wasmhub.web.plugin_page import MAX_FORM_FIELDS, ConfigState, _form_lists, _load

MAX_VERSIONS_MATCHED = 50  # newest versions whose module sha256 the Installed page knows


def _default_form(version: VersionDetail) -> ApplyForm:
    claimed = [p for p in ORDER if p.compat_key in set(version.platforms)]
    platform = (claimed or ORDER)[0]
    values = {"platform": platform.value}
    if "selector" in TARGET_FIELDS[platform]:
        values["selector"] = "app=my-app"
    elif "target_refs" in TARGET_FIELDS[platform]:
        values["target_refs"] = "HTTPRoute/my-route"
    elif "services" in TARGET_FIELDS[platform]:
        values["services"] = "my-service"
    return ApplyForm(values)


def _module_report(request: Request, version: VersionDetail) -> ModuleReport | None:
    """The module's inspector report for the compatibility check (None: not available,
    e.g. a catalog entry whose image is not in this hub's registry)."""
    if not version.module_sha256:
        return None
    files = ModuleFiles(request.app.state.hub)
    try:
        path = files.path(files.find(version.module_sha256))
        return inspect_module(path.read_bytes())
    except (WasmhubError, OSError):
        return None


def _header(page: Page, detail: PluginDetail, version: VersionDetail | None) -> dict[str, Any]:
    summary = detail.summary
    return {
        "plugin": {"namespace": summary.namespace, "name": summary.name,
                   "display_name": summary.display_name},
        "title": i18n.localized(summary.display_name, page.locale) or summary.name,
        "version": {"version": version.version.tag, "digest": version.version.digest}
        if version else None,
        "page_url": plugin_url(summary.namespace, summary.name),
        "apply_url": "/apply" + plugin_url(summary.namespace, summary.name)
        .removeprefix("/plugins"),
        "installed_url": "/installed" + plugin_url(summary.namespace, summary.name)
        .removeprefix("/plugins"),
    }


async def apply_page(request: Request) -> Response:
    page = Page.of(request)
    hub = request.app.state.hub
    form_data: Any = None
    if request.method == "POST":
        form_data = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
    wanted = (form_data or request.query_params).get("version") or None
    detail, version, _trust = await _load(request, page, wanted)
    if version is None:
        raise NotFoundError(f"{detail.summary.repository} has no version to deploy")
    repository = detail.summary.repository
    config = await run_in_threadpool(ConfigState, hub.schema_evaluator, version)
    action = "render"
    if form_data is not None:
        action = "apply" if form_data.get("action") == "apply" else "render"
        if action == "apply":
            form_data = await page.checked_form(max_fields=MAX_FORM_FIELDS)
        await run_in_threadpool(config.submit, _form_lists(form_data))
        form = ApplyForm.from_form(form_data)
    elif any(k in request.query_params for k in FIELDS):
        form = ApplyForm.from_form(request.query_params)
    else:
        form = _default_form(version)
    settings = hub.settings
    access = page.identity.access

    def work() -> tuple[ApplyResult, list[str], bool]:
        can_apply = settings.cluster_access and access.check(
            page.principal, Permission.CLUSTER_APPLY, repository=repository)
        if action == "apply":
            access.require(page.principal, Permission.CLUSTER_APPLY, repository=repository,
                           what=f"the hub's cluster for {repository}")
            if not settings.cluster_access:
                raise NotFoundError("this hub has no cluster access (deploy_kubeconfig)")
        private = not access.check(ANONYMOUS, Permission.REPOSITORY_READ,
                                   repository=repository)
        result = build(form, version, settings.base_url, config=config.config,
                       config_errors=config.errors, private=private,
                       report=_module_report(request, version), force=action != "apply")
        applied: list[str] = []
        if action == "apply" and result.ok and result.rendering is not None:
            try:
                cluster = hub_cluster(settings)
                assert cluster is not None
                applied = provider_for(result.rendering.deployment.platform).apply(
                    result.rendering, cluster)
            except ClusterError as exc:
                result.add(FORM_WIDE, exc.message)
        return result, applied, bool(can_apply)

    result, applied, can_apply = await run_in_threadpool(work)
    rendering = result.rendering
    context = {
        **_header(page, detail, version),
        **config.context(page.locale),
        "form_values": form.values,
        "platform": form.platform,
        "target_fields": {p.value: list(f) for p, f in TARGET_FIELDS.items()},
        "choices": choices(),
        "errors": result.errors,
        "error_count": result.error_count,
        "form_errors": result.errors.get(FORM_WIDE, []),
        "warnings": result.warnings,
        "resources": [{"label": r.label, "yaml": r.yaml(), "filename": r.filename}
                      for r in rendering.resources] if rendering and not result.errors else [],
        "all_yaml": rendering.yaml() if rendering and not result.errors else "",
        "notes": list(rendering.notes) if rendering else [],
        "command": result.command,
        "cluster_access": settings.cluster_access,
        "can_apply": can_apply,
        "applied": applied,
        "action": action,
    }
    status = 200 if not result.errors else 422 if request.method == "POST" else 200
    return page.render("apply.html", context, status=status)


async def installed_page(request: Request) -> Response:
    page = Page.of(request)
    hub = request.app.state.hub
    detail, version, _trust = await _load(request, page, None)
    namespace, name = detail.summary.namespace, detail.summary.name
    catalog = CatalogService(hub)

    def work() -> list[dict[str, Any]]:
        versions = [catalog.get_version(namespace, name, v.tag)
                    for v in detail.versions[:MAX_VERSIONS_MATCHED]]
        facts = plugin_facts(detail, versions, hub.settings.base_url)
        return [section_view(s) for s in sections(hub, page.principal, facts, page.gettext)]

    views = await run_in_threadpool(work)
    return page.render("installed.html", {**_header(page, detail, version),
                                          "sections": views})
