"""The "Signing keys" page of a namespace (``/orgs/{org}/keys``): its owners list the
trusted public keys (name, fingerprint, status), register one (PEM + name, optional
expiry), revoke one (with a reason) and choose the signature policy.

Each POST names one ``action``; :class:`TrustService` checks ``namespace:trust`` with
identity's one permission function, changes and audits (so the page can never allow what
the API refuses). Forms carry the CSRF token (``page.checked_form``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from wasmhub.authz.permissions import Permission
from wasmhub.errors import InputError, NotFoundError, WasmhubError
from wasmhub.signing.policy import TrustMode
from wasmhub.signing.trust import TrustService
from wasmhub.web.account import _field, sign_in_redirect
from wasmhub.web.context import Page

MAX_PEM = 20_000


def _expiry(page: Page, text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(page.gettext("The expiry must be a date (YYYY-MM-DD).")) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _keys_action(page: Page, trust: TrustService, namespace: str, form: Any) -> str:
    action = _field(form, "action", 20)
    if action == "add":
        name = _field(form, "name", 64)
        trust.add_key(namespace, name, _field(form, "public_key", MAX_PEM).encode(),
                      page.principal, _expiry(page, _field(form, "expires", 32)))
        return page.gettext("Key %(k)s added.", k=name)
    if action == "revoke":
        view = trust.revoke_key(namespace, _field(form, "key", 80), _field(form, "reason", 1000),
                                page.principal)
        return page.gettext("Key %(k)s revoked.", k=view.name)
    if action == "policy":
        try:
            mode = TrustMode(_field(form, "mode", 32))
        except ValueError:
            raise InputError(page.gettext("Unknown signature policy.")) from None
        trust.set_policy(namespace, mode, page.principal)
        return page.gettext("Signature policy updated.")
    raise NotFoundError(page.gettext("Unknown action."))


async def keys_page(request: Request) -> Response:
    page = Page.of(request)
    if (redirect := sign_in_redirect(page)) is not None:
        return redirect
    namespace = request.path_params["org"]
    trust = TrustService(request.app.state.hub)
    # Only those who may manage trust see the page (404 for non-readers, 403 for readers).
    await run_in_threadpool(page.identity.access.require, page.principal,
                            Permission.NAMESPACE_TRUST, namespace=namespace,
                            what=f"namespace {namespace}")
    message: str | None = None
    error: str | None = None
    status = 200
    if request.method == "POST":
        form = await page.checked_form(max_fields=10)
        try:
            message = await run_in_threadpool(_keys_action, page, trust, namespace, form)
        except WasmhubError as exc:
            error, status = exc.message, exc.http_status

    def load() -> dict[str, Any]:
        return {"keys": trust.keys(namespace), "policy": trust.policy(namespace)}

    context = await run_in_threadpool(load)
    context.update({"namespace": namespace, "modes": [m.value for m in TrustMode],
                    "message": message, "error": error, "nav": "account"})
    return page.render("account/org_keys.html", context, status=status)
