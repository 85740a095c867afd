"""``wasmhub operator``: reconcile ``PluginDeployment`` resources (group ``wasmhub.io``).

For each PluginDeployment the :class:`Reconciler` does what ``wasmhub deploy --apply``
does — resolve, complete, render (schema-checked), pre-apply checks, all-or-none apply —
and writes the outcome to the status subresource: ``resolvedDigest``, ``moduleSha256``,
``resources`` and the conditions ``ConfigValid``, ``Compatible``, ``Trusted``, ``Applied``
and ``Ready`` (each with a reason and a message a user can act on).

- **Trust**: the namespace's signature policy is checked with the same gate as
  ``wasmhub deploy`` (:func:`~wasmhub.deploy.checks.trust_gate`, docs/trust.md). A refused
  plugin — unsigned, signed by an untrusted/revoked/expired key, or signed over another
  digest — gets ``Trusted=False`` (reason ``Untrusted``) and nothing is written: the
  resources stay as last applied and ``resolvedDigest`` keeps the last applied digest.

- **Pinning**: the first successful resolve is kept in ``status.resolvedDigest`` and later
  reconciles deploy that digest; ``updatePolicy: follow-tag`` re-resolves the tag every time
  (the resync period bounds how soon a moved tag is followed).
- **Ownership**: resources in the PluginDeployment's namespace get an owner reference to
  it; the finalizer ``wasmhub.io/cleanup`` removes what was created (found by the
  ``wasmhub.io/deployment`` label) before the PluginDeployment goes away, also for
  resources in other namespaces.
- **Loop**: :meth:`Operator.run` lists and reconciles everything every resync period and,
  in between, each event of lightkube's ``watch`` (read in a thread into a bounded queue:
  lightkube's watch reopens itself forever and would otherwise starve the resync).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lightkube import ApiError
from lightkube.types import PatchType

from wasmhub.deploy import provider_for, render
from wasmhub.deploy.checks import preflight, trust_gate
from wasmhub.deploy.compose import complete
from wasmhub.deploy.errors import ClusterError
from wasmhub.deploy.kube import Cluster, ResourceType
from wasmhub.deploy.resolve import resolve
from wasmhub.deploy.spec import Deployment, parse_deployment
from wasmhub.errors import WasmhubError
from wasmhub.oci.reference import Reference
from wasmhub.signing.errors import UntrustedPlugin

PLUGIN_DEPLOYMENT = ResourceType("wasmhub.io/v1alpha1", "PluginDeployment",
                                 "plugindeployments")
FINALIZER = "wasmhub.io/cleanup"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Outcome:
    conditions: dict[str, tuple[bool, str, str]]  # type → (ok, reason, message)
    digest: str = ""
    module: str = ""
    resources: tuple[str, ...] = ()

    def status(self, generation: int | None) -> dict[str, Any]:
        ready = all(ok for ok, _, _ in self.conditions.values()) and \
            {"ConfigValid", "Compatible", "Applied"} <= set(self.conditions)
        conditions = dict(self.conditions)
        # Not ready: the reason and message of the first failure, a trust refusal first.
        failed = sorted(((kind, reason, message) for kind, (ok, reason, message)
                         in self.conditions.items() if not ok),
                        key=lambda item: item[0] != "Trusted")
        conditions["Ready"] = (True, "Reconciled", "applied and pinned") if ready else \
            (False, failed[0][1], failed[0][2]) if failed else (False, "NotReady", "")
        out: dict[str, Any] = {
            "conditions": [
                {"type": kind, "status": "True" if ok else "False", "reason": reason,
                 "message": message[:1000], "lastTransitionTime": _now(),
                 **({"observedGeneration": generation} if generation is not None else {})}
                for kind, (ok, reason, message) in conditions.items()],
            "resources": list(self.resources),
        }
        if generation is not None:
            out["observedGeneration"] = generation
        if self.digest:
            out["resolvedDigest"] = self.digest
        if self.module:
            out["moduleSha256"] = self.module
        return out


class Reconciler:
    def __init__(self, cluster: Cluster, *, hub_url: str | None = None) -> None:
        self.cluster = cluster
        self.hub_url = hub_url

    def _patch(self, name: str, namespace: str, body: dict[str, Any], *, status: bool
               ) -> None:
        resource = PLUGIN_DEPLOYMENT.resource()
        with self.cluster.calls(f"updating PluginDeployment/{name}"):
            self.cluster.client.patch(resource.Status if status else resource, name, body,
                                      namespace=namespace, patch_type=PatchType.MERGE)

    def reconcile(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """One pass for one PluginDeployment; returns the status written (None: deleted)."""
        meta = obj.get("metadata") or {}
        name, namespace = meta["name"], meta.get("namespace", "default")
        finalizers = list(meta.get("finalizers") or [])
        platform = (obj.get("spec") or {}).get("platform")
        if meta.get("deletionTimestamp"):
            if platform:
                provider = provider_for(platform)
                targets = {namespace, getattr(provider, "default_namespace", namespace)}
                for ns in targets:
                    provider.remove(name, ns, self.cluster)
            if FINALIZER in finalizers:
                self._patch(name, namespace, {"metadata": {"finalizers": [
                    f for f in finalizers if f != FINALIZER]}}, status=False)
            return None
        if FINALIZER not in finalizers:
            self._patch(name, namespace, {"metadata": {"finalizers": [*finalizers, FINALIZER]}},
                        status=False)
        outcome = self._outcome(obj)
        status = outcome.status(meta.get("generation"))
        self._patch(name, namespace, {"status": status}, status=True)
        return status

    def _outcome(self, obj: dict[str, Any]) -> Outcome:
        conditions: dict[str, tuple[bool, str, str]] = {}
        try:
            draft = parse_deployment(obj)
        except WasmhubError as exc:
            return Outcome({"ConfigValid": (False, "InvalidSpec", exc.message)})
        spec = obj.get("spec") or {}
        ref = draft.plugin.ref
        pinned = (obj.get("status") or {}).get("resolvedDigest")
        if pinned and draft.update_policy == "pinned":
            parsed = Reference.parse(ref)
            ref = f"{parsed.registry}/{parsed.repository}@{pinned}"
        try:
            resolved = resolve(ref, hub_url=self.hub_url)
            deployment = complete(draft, resolved, given=set(spec) | {"name", "namespace"})
            rendering = render(deployment)
        except WasmhubError as exc:
            return Outcome({"ConfigValid": (False, "RenderFailed", exc.message)})
        digest, module = resolved.ref.digest or "", resolved.ref.module_sha256 or ""
        report = preflight(deployment, resolved)
        config_errors = [e for e in report.errors if e.startswith("config")]
        other = [e for e in report.errors if not e.startswith("config")]
        conditions["ConfigValid"] = (not config_errors, "SchemaViolation" if config_errors
                                     else "Valid", "; ".join(config_errors) or "config valid")
        verdict = report.verdict
        compatible = verdict is not None and verdict.status != "incompatible"
        conditions["Compatible"] = (
            compatible and not other, verdict.status if verdict else "Unknown",
            "; ".join(other) or (f"{verdict.platform_name} {verdict.version}: "
                                 f"{verdict.status}" if verdict else ""))
        conditions["Trusted"] = _trusted(deployment)
        if not conditions["Trusted"][0]:
            # Nothing is written: what runs stays what was last applied (a follow-tag
            # whose tag moved to an untrusted digest keeps the previous one deployed).
            previous = obj.get("status") or {}
            conditions["Applied"] = (False, conditions["Trusted"][1],
                                     f"not applied: {conditions['Trusted'][2]}")
            return Outcome(conditions, str(previous.get("resolvedDigest") or ""),
                           str(previous.get("moduleSha256") or ""),
                           tuple(previous.get("resources") or ()))
        if report.errors:
            conditions["Applied"] = (False, "ChecksFailed", "; ".join(report.errors))
            return Outcome(conditions, digest, module)
        uid = (obj.get("metadata") or {}).get("uid")
        for resource in rendering.resources:
            doc_meta = resource.document.get("metadata") or {}
            if uid and resource.is_kubernetes and doc_meta.get("namespace") == \
                    obj["metadata"].get("namespace"):
                doc_meta["ownerReferences"] = [{
                    "apiVersion": PLUGIN_DEPLOYMENT.api_version, "kind": "PluginDeployment",
                    "name": obj["metadata"]["name"], "uid": uid, "controller": True,
                    "blockOwnerDeletion": True}]
        try:
            applied = provider_for(deployment.platform).apply(rendering, self.cluster)
        except WasmhubError as exc:
            conditions["Applied"] = (False, "ApplyFailed", exc.message)
            return Outcome(conditions, digest, module)
        conditions["Applied"] = (True, "Applied", ", ".join(applied))
        return Outcome(conditions, digest, module, tuple(applied))


def _trusted(deployment: Deployment) -> tuple[bool, str, str]:
    """The ``Trusted`` condition: the deploy gate ``wasmhub deploy`` runs (one function,
    :func:`~wasmhub.deploy.checks.trust_gate`); fails closed when the hub cannot say."""
    plugin = deployment.plugin
    what = f"{plugin.registry}/{plugin.repository}@{plugin.digest}"
    try:
        decision = trust_gate(plugin)
    except UntrustedPlugin as exc:
        return False, "Untrusted", exc.message
    except WasmhubError as exc:
        return False, "TrustUnknown", f"the trust policy for {what} could not be checked: " \
            f"{exc.message}"
    if decision is None:
        return True, "NoPolicy", f"{plugin.registry} has no trust policy (not a wasmhub)"
    if not decision.required:
        return True, "NotRequired", f"the {decision.policy.mode.value} trust policy of " \
            f"namespace {decision.policy.namespace!r} does not require a signature"
    return True, "Verified", f"{what} signed by " + ", ".join(decision.signed_by)


def _settled(obj: dict[str, Any]) -> bool:
    """True when a watch event shows a generation already reconciled (our own status or
    finalizer write): skipping it keeps the operator from reconciling in a loop. The
    periodic resync still revisits it (retries, follow-tag)."""
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    seen = (obj.get("status") or {}).get("observedGeneration")
    return seen is not None and seen == meta.get("generation")


class Operator:
    def __init__(self, reconciler: Reconciler, *, namespace: str | None = None,
                 resync_seconds: int = 60) -> None:
        self.reconciler = reconciler
        self.namespace = namespace
        self.resync_seconds = resync_seconds

    def _safe(self, obj: dict[str, Any]) -> None:
        # The next event or resync retries; a cluster error has no status to go to.
        with contextlib.suppress(ClusterError, ApiError):
            self.reconciler.reconcile(obj)

    def run(self, stop: threading.Event) -> None:
        """Reconcile everything every ``resync_seconds``, and each watch event in between.

        lightkube's ``watch`` never returns on its own (it reopens the stream whenever the
        server closes it), so it runs in a thread that feeds a bounded queue; this loop
        waits on the queue with the resync deadline. Without that, a quiet cluster would
        never be resynced and ``follow-tag`` would never see a moved tag."""
        cluster = self.reconciler.cluster
        events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue(maxsize=1000)
        watcher = threading.Thread(target=self._watch, args=(events, stop), daemon=True,
                                   name="wasmhub-operator-watch")
        watcher.start()
        while not stop.is_set():
            try:
                for obj in cluster.objects(PLUGIN_DEPLOYMENT, self.namespace):
                    if stop.is_set():
                        return
                    self._safe(obj)
            except ClusterError:
                pass  # unreachable for now: the next resync tries again
            deadline = time.monotonic() + self.resync_seconds
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                try:
                    kind, obj = events.get(timeout=min(left, 1.0))
                except queue.Empty:
                    continue
                if kind != "DELETED" and not _settled(obj):
                    self._safe(obj)

    def _watch(self, events: queue.Queue[tuple[str, dict[str, Any]]],
               stop: threading.Event) -> None:
        resource = PLUGIN_DEPLOYMENT.resource()
        while not stop.is_set():
            try:
                for kind, item in self.reconciler.cluster.client.watch(
                        resource, namespace=self.namespace or "*",
                        server_timeout=self.resync_seconds):
                    if stop.is_set():
                        return
                    events.put((kind, item.to_dict()))
            except Exception:  # the watch broke (cluster restart, network): open it again
                stop.wait(1.0)
