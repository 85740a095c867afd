"""Deploy verbs: ``deploy`` (render, check, write or apply), ``undeploy`` and ``status``.

``wasmhub deploy PLATFORM REF [options]`` resolves REF on the hub to its digest, builds a
``Deployment`` (the plugin's own root id, phase, priority and example config unless
given), renders the platform's resources (validated against the platform's schema) and
runs the pre-apply checks (docs/deploy.md). Then it prints the YAML, writes
``-o DIR`` (resources + ``kustomization.yaml``), or applies to the cluster of the current
kubeconfig context with ``--apply`` (``--dry-run`` for a server-side dry run). ``--file``
reads a ``PluginDeployment`` YAML instead of the options.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from wasmhub.cli.console import err, out

PLATFORMS = "istio, istio-trafficextension, envoy-gateway, higress, consul, envoy, gloo"

KubeconfigOpt = Annotated[Path | None, typer.Option(
    "--kubeconfig", envvar="KUBECONFIG", help="Kubeconfig file (default: $KUBECONFIG or "
    "~/.kube/config; in a pod, the service account).")]
ContextOpt = Annotated[str | None, typer.Option("--context", help="Kubeconfig context.")]
HubOpt = Annotated[str | None, typer.Option(
    "--hub", envvar="WASMHUB_HUB_URL",
    help="Hub URL for the catalog API and /modules/ (default: from REF's registry host).")]


def _pairs(values: list[str], option: str, sep: str = "=") -> dict[str, str]:
    out_pairs: dict[str, str] = {}
    for value in values:
        key, found, item = value.partition(sep)
        if not found or not key:
            raise typer.BadParameter(f"{value!r}: expected KEY{sep}VALUE", param_hint=option)
        out_pairs[key] = item
    return out_pairs


def _config(text: str | None) -> Any:
    if text is None:
        return None
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {path}: {exc.strerror}",
                                     param_hint="--config") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--config") from exc


def _target_refs(values: list[str]) -> list[dict[str, str]]:
    from wasmhub.deploy.spec import target_ref

    try:
        return [target_ref(value) for value in values]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--target-ref") from exc


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None and v not in ([], {})}


def deploy(
    platform: Annotated[str | None, typer.Argument(help=f"One of: {PLATFORMS}.")] = None,
    ref: Annotated[str | None, typer.Argument(
        help="Plugin reference: host/namespace/name[:tag|@sha256:...].")] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", "-f", help="A PluginDeployment YAML instead of PLATFORM REF and options.")
    ] = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Write the resources and kustomization.yaml to DIR.")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Apply to the cluster.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="With --apply: a server-side dry run (nothing is stored).")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Deploy despite an incompatibility; overwrite files in -o DIR.")
    ] = False,
    name: Annotated[str | None, typer.Option(help="Resource name (default: the plugin's).")
    ] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
    selector: Annotated[list[str], typer.Option(
        "--selector", "-l", help="Workload label KEY=VALUE (repeatable; Istio).")] = [],  # noqa: B006
    target_ref: Annotated[list[str], typer.Option(
        help="Gateway API target KIND/NAME (repeatable).")] = [],  # noqa: B006
    service: Annotated[list[str], typer.Option(
        help="Target service (Consul; Higress rule; Istio waypoint).")] = [],  # noqa: B006
    ingress: Annotated[list[str], typer.Option(help="Higress ingress NS/NAME.")] = [],  # noqa: B006
    domain: Annotated[list[str], typer.Option(help="Higress domain rule.")] = [],  # noqa: B006
    gateway: Annotated[list[str], typer.Option(help="Gloo Gateway name.")] = [],  # noqa: B006
    phase: Annotated[str | None, typer.Option(
        help="AUTHN, AUTHZ, STATS or UNSPECIFIED.")] = None,
    priority: Annotated[int | None, typer.Option(help="1-1000; higher runs first.")] = None,
    config: Annotated[str | None, typer.Option(
        help="Plugin config as JSON, or @FILE (default: the plugin's example).")] = None,
    env: Annotated[list[str], typer.Option(help="VM env NAME=VALUE (repeatable).")] = [],  # noqa: B006
    host_env: Annotated[list[str], typer.Option(
        help="VM env read from the proxy's environment (repeatable).")] = [],  # noqa: B006
    fail_strategy: Annotated[str | None, typer.Option(
        help="fail-closed (default), fail-open or reload.")] = None,
    pull_policy: Annotated[str | None, typer.Option(help="IfNotPresent or Always.")] = None,
    pull_secret: Annotated[str | None, typer.Option(help="Image pull Secret name.")] = None,
    match_mode: Annotated[str | None, typer.Option(
        help="CLIENT, SERVER or CLIENT_AND_SERVER (Istio).")] = None,
    port: Annotated[list[int], typer.Option(help="Traffic match port (repeatable).")] = [],  # noqa: B006
    plugin_type: Annotated[str | None, typer.Option("--type", help="http or network.")] = None,
    root_id: Annotated[str | None, typer.Option(help="Root context id.")] = None,
    plugin_name: Annotated[str | None, typer.Option(help="Envoy filter name.")] = None,
    source: Annotated[str | None, typer.Option(
        help="oci (pull the image) or http (fetch /modules/ by sha256).")] = None,
    platform_version: Annotated[str | None, typer.Option(
        help="Platform version to check compatibility against (default: newest known).")
    ] = None,
    listen_port: Annotated[int | None, typer.Option(help="Envoy: listener port.")] = None,
    upstream: Annotated[str | None, typer.Option(help="Envoy: upstream HOST:PORT.")] = None,
    admin_port: Annotated[int | None, typer.Option(help="Envoy: admin port.")] = None,
    xds: Annotated[bool, typer.Option(
        "--xds", help="Envoy: a fleet bootstrap whose filter follows the hub's ECDS server; "
        "with --apply, register the deployment on the hub (docs/deploy.md).")] = False,
    xds_address: Annotated[str | None, typer.Option(
        help="With --xds: HOST:PORT of the hub's xDS server (default: what the hub says).")
    ] = None,
    xds_mode: Annotated[str, typer.Option(
        help="With --xds: delta (default), sotw, ads or ads-delta.")] = "delta",
    stage_percent: Annotated[int | None, typer.Option(
        help="With --xds --apply: roll out to this share of the nodes first.")] = None,
    stage_node: Annotated[list[str], typer.Option(
        help="With --xds --apply: a node id that goes first (repeatable).")] = [],  # noqa: B006
    follow_tag: Annotated[bool, typer.Option(
        help="With --xds --apply: roll out again when the tag moves.")] = False,
    hub: HubOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Deploy a plugin to a platform: render, check, then print, write (-o) or --apply."""
    from wasmhub.deploy.spec import load_deployment, parse_deployment

    if file is not None:
        draft = load_deployment(file)
    else:
        if platform is None or ref is None:
            raise typer.BadParameter("give PLATFORM and REF, or --file", param_hint="REF")
        envoy: dict[str, Any] = {}
        if upstream:
            host, _, up_port = upstream.rpartition(":")
            if not host or not up_port.isdigit():
                raise typer.BadParameter(f"{upstream!r}: expected HOST:PORT",
                                         param_hint="--upstream")
            envoy.update(upstreamAddress=host, upstreamPort=int(up_port))
        envoy.update(_drop_none({"listenPort": listen_port, "adminPort": admin_port}))
        vm_env: list[dict[str, Any]] = [
            {"name": k, "value": v} for k, v in _pairs(env, "--env").items()]
        vm_env += [{"name": k, "fromHost": True} for k in host_env]
        targets = _drop_none({
            "selector": _pairs(selector, "--selector") or None,
            "targetRefs": _target_refs(target_ref), "services": service,
            "ingresses": ingress, "domains": domain, "gateways": gateway, "envoy": envoy,
        })
        match = [_drop_none({"mode": match_mode or "CLIENT_AND_SERVER", "ports": port})] \
            if match_mode or port else []
        fields = _drop_none({
            "name": name or "pending", "namespace": namespace, "platform": platform,
            "platformVersion": platform_version, "plugin": {"ref": ref}, "codeSource": source,
            "targets": targets, "phase": phase, "priority": priority, "config": _config(config),
            "vmEnv": vm_env, "failStrategy": fail_strategy, "pullPolicy": pull_policy,
            "pullSecret": pull_secret, "match": match, "pluginType": plugin_type,
            "rootId": root_id, "pluginName": plugin_name,
        })
        draft = parse_deployment(fields)
        explicit = {"name": name, "namespace": namespace, "config": config, "phase": phase,
                    "priority": priority, "rootId": root_id, "pluginType": plugin_type}
    if file is not None:
        # What the file sets is given; the rest takes the plugin's defaults, as the
        # operator does for the same document.
        import yaml

        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        spec = raw.get("spec", raw) if isinstance(raw, dict) else {}
        explicit = dict.fromkeys([*spec, "name", "namespace"], True)
    fleet = None
    if xds:
        if draft.platform.value != "envoy":
            raise typer.BadParameter("--xds is for platform envoy", param_hint="--xds")
        fleet = FleetOptions(xds_address, xds_mode, stage_percent, tuple(stage_node),
                             follow_tag)
    elif stage_percent is not None or stage_node or follow_tag or xds_address:
        raise typer.BadParameter("--stage-*, --follow-tag and --xds-address need --xds",
                                 param_hint="--xds")
    run_deploy(draft, explicit, output=output, apply=apply, dry_run=dry_run, force=force,
               hub=hub, kubeconfig=kubeconfig, context=context, as_json=as_json, fleet=fleet)


@dataclass(frozen=True)
class FleetOptions:
    xds_address: str | None
    mode: str
    stage_percent: int | None
    stage_nodes: tuple[str, ...]
    follow_tag: bool


def run_deploy(draft: Any, explicit: dict[str, Any], *, output: Path | None, apply: bool,
               dry_run: bool, force: bool, hub: str | None, kubeconfig: Path | None,
               context: str | None, as_json: bool, fleet: FleetOptions | None = None) -> None:
    from wasmhub.deploy import provider_for, render
    from wasmhub.deploy.checks import preflight, require, trust_gate
    from wasmhub.deploy.compose import complete
    from wasmhub.deploy.gitops import write_dir
    from wasmhub.deploy.resolve import ensure_unmoved, resolve

    resolved = resolve(draft.plugin.ref, hub_url=hub)
    given = {key for key, value in explicit.items() if value is not None}
    deployment = complete(draft, resolved, given)
    provider = provider_for(deployment.platform)
    if fleet is not None:
        _run_fleet(deployment, resolved, given, fleet, output=output, apply=apply,
                   force=force, hub=hub, as_json=as_json)
        return
    rendering = render(deployment)
    report = require(preflight(deployment, resolved, force=force))
    decision = trust_gate(deployment.plugin, force=force)  # before anything is written
    signed_by = decision.signed_by if decision else []
    if signed_by:
        err.print("verified: signed by " + ", ".join(signed_by))
    for warning in [*report.warnings, *rendering.warnings]:
        err.print(f"[yellow]warning:[/] {warning}", markup=True)
    written: list[str] = []
    if output is not None:
        written = [str(p) for p in write_dir(rendering, output, force=force)]
    applied: list[str] = []
    if apply:
        from wasmhub.deploy.kube import Cluster

        ensure_unmoved(deployment.plugin)
        cluster = Cluster.connect(kubeconfig, context)
        applied = provider.apply(rendering, cluster, dry_run=dry_run)
    if as_json:
        out.print_json(json.dumps({
            "deployment": deployment.model_dump(mode="json", by_alias=True, exclude_none=True),
            "resources": [r.document for r in rendering.resources],
            "warnings": [*report.warnings, *rendering.warnings],
            "notes": list(rendering.notes), "files": written, "applied": applied,
            "dry_run": dry_run if apply else None,
        }))
        return
    if output is None and not apply:
        out.print(rendering.yaml(), end="", markup=False)
    for path in written:
        err.print(f"wrote {path}")
    for label in applied:
        err.print(f"{'validated (dry run)' if dry_run else 'applied'} {label}")
    for note in rendering.notes:
        err.print(note)


def _run_fleet(deployment: Any, resolved: Any, given: set[str], fleet: FleetOptions, *,
               output: Path | None, apply: bool, force: bool, hub: str | None,
               as_json: bool) -> None:
    """``deploy envoy REF --xds``: the fleet bootstrap (default config: this revision);
    ``--apply`` sets the fleet deployment on the hub, which rolls it out over ECDS."""
    from wasmhub.cli.fleet import _client
    from wasmhub.deploy.checks import preflight, require, trust_gate
    from wasmhub.deploy.envoy import EnvoyProvider
    from wasmhub.deploy.gitops import write_dir
    from wasmhub.deploy.schemas import validate
    from wasmhub.deploy.spec import to_document

    if "namespace" not in given:  # a fleet deployment lives in its plugin's namespace
        deployment = deployment.model_copy(
            update={"namespace": deployment.plugin.repository.partition("/")[0]})
    report = require(preflight(deployment, resolved, force=force))
    decision = trust_gate(deployment.plugin, force=force)
    signed_by = decision.signed_by if decision else []
    if signed_by:
        err.print("verified: signed by " + ", ".join(signed_by))
    address = fleet.xds_address
    if address is None:
        with _client(hub or deployment.plugin.hub_url) as client:
            info = client.call("GET", "/fleet")["xds"]
        if not info["enabled"]:
            from wasmhub.errors import InputError

            raise InputError(f"{deployment.plugin.hub_url} serves no xDS (start it with "
                             "`wasmhub serve --xds-port PORT`), or give --xds-address")
        address = str(info["address"])
    rendering = EnvoyProvider().render_fleet_bootstrap(deployment, address, fleet.mode)
    for resource in rendering.resources:
        validate(resource)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {warning}", markup=True)
    written = [str(p) for p in write_dir(rendering, output, force=force)] if output else []
    registered = None
    if apply:
        stage = None
        if fleet.stage_percent is not None or fleet.stage_nodes:
            stage = {"percent": fleet.stage_percent, "nodes": list(fleet.stage_nodes)}
        with _client(hub or deployment.plugin.hub_url, anonymous_ok=False) as client:
            registered = client.call(
                "PUT", f"/fleet/deployments/{deployment.namespace}/{deployment.name}",
                {"spec": to_document(deployment), "stage": stage,
                 "follow_tag": fleet.follow_tag})
    if as_json:
        out.print_json(json.dumps({
            "deployment": deployment.model_dump(mode="json", by_alias=True, exclude_none=True),
            "resources": [r.document for r in rendering.resources],
            "warnings": report.warnings, "notes": list(rendering.notes), "files": written,
            "fleet": registered}))
        return
    if output is None:
        out.print(rendering.yaml(), end="", markup=False)
    for path in written:
        err.print(f"wrote {path}")
    if registered is not None:
        err.print(f"{registered['resource']}: {registered['state']} — {registered['message']}")
    for note in rendering.notes:
        err.print(note)


def undeploy(
    platform: Annotated[str, typer.Argument(help=f"One of: {PLATFORMS}.")],
    name: Annotated[str, typer.Argument(help="The deployment's name.")],
    namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Server-side dry run.")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Remove what `wasmhub deploy --apply` created for NAME (its labelled resources)."""
    from wasmhub.deploy import provider_for
    from wasmhub.deploy.kube import Cluster

    provider = provider_for(platform)
    ns = str(namespace or getattr(provider, "default_namespace", "default"))
    removed = provider.remove(name, ns, Cluster.connect(kubeconfig, context), dry_run=dry_run)
    if not removed:
        err.print(f"nothing to remove: no {provider.title} resources of deployment {name} "
                  f"in namespace {ns}")
        raise typer.Exit(1)
    for label in removed:
        out.print(f"{'would remove' if dry_run else 'removed'} {label}")


def status(
    envoy: Annotated[bool, typer.Option(
        "--envoy", help="Envoy fleets: what every proxy connected to the hub's ECDS server "
        "runs (from the hub, not a cluster).")] = False,
    hub: HubOpt = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every installed plugin resource: which plugin and digest, targets, matched pods."""
    if envoy:
        from wasmhub.cli.fleet import envoy_status

        envoy_status(hub, as_json)
        return
    from wasmhub.deploy import PROVIDERS
    from wasmhub.deploy.spec import Platform

    cluster_ns = None if all_namespaces else (namespace or "default")
    from wasmhub.deploy.kube import Cluster

    cluster = Cluster.connect(kubeconfig, context)
    found = [i for p in PROVIDERS.values() if p.platform is not Platform.ENVOY
             for i in p.status(cluster, cluster_ns)]
    if as_json:
        out.print_json(json.dumps([i.to_json() for i in found]))
        return
    if not found:
        err.print("no wasm plugin resources found"
                  + ("" if all_namespaces else f" in namespace {cluster_ns} (-A for all)"))
        return
    rows = [("PLATFORM", "NAMESPACE", "NAME", "PLUGIN", "DIGEST", "PHASE", "PRIORITY",
             "TARGETS", "PODS")]
    rows += [(i.platform, i.namespace, i.name, i.plugin, i.digest[:12], i.phase or "-",
              "-" if i.priority is None else str(i.priority), "; ".join(i.targets),
              ", ".join(i.workloads) or "-") for i in found]
    # kubectl-style columns, never truncated: references and digests must stay whole.
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.print(line.rstrip(), markup=False, overflow="ignore", crop=False)


def operator(
    namespace: Annotated[str | None, typer.Option(
        "--namespace", "-n", help="Watch one namespace (default: all).")] = None,
    resync: Annotated[int, typer.Option(
        help="Seconds between full resyncs (retries, follow-tag).")] = 60,
    hub: HubOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Reconcile PluginDeployment resources (wasmhub.io/v1alpha1) until interrupted."""
    import threading

    from wasmhub.deploy.kube import Cluster
    from wasmhub.deploy.operator import PLUGIN_DEPLOYMENT, Operator, Reconciler

    cluster = Cluster.connect(kubeconfig, context)
    if not cluster.served(PLUGIN_DEPLOYMENT):
        from wasmhub.deploy.errors import MissingResourceType

        raise MissingResourceType(PLUGIN_DEPLOYMENT.api_version, PLUGIN_DEPLOYMENT.kind)
    err.print(f"wasmhub operator: watching PluginDeployments in "
              f"{namespace or 'all namespaces'} of {cluster.server}")
    stop = threading.Event()
    try:
        Operator(Reconciler(cluster, hub_url=hub), namespace=namespace,
                 resync_seconds=resync).run(stop)
    except KeyboardInterrupt:
        stop.set()


def register(app: typer.Typer) -> None:
    app.command("operator")(operator)
    app.command("deploy")(deploy)
    app.command("undeploy")(undeploy)
    app.command("status")(status)
