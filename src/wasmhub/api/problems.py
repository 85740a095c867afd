"""The one place REST v1 turns exceptions into ``application/problem+json`` (RFC 9457).

- ``wasmhub.errors.WasmhubError`` subclasses → their ``http_status`` (400, 401, 403,
  404, 409, 502, 503 with ``Retry-After``, …), ``title`` from the class, ``detail`` the
  error's message.
- Request validation (FastAPI/pydantic) → 422 with ``errors`` listing each bad field.
- Starlette HTTP errors (unknown route 404, 405, …) → that status.
- Anything else is a bug: logged with its traceback, answered with a generic 500.

Body: ``{type, title, status, detail}`` (+ ``errors`` for 422); ``type`` is
``urn:wasmhub:problem:<slug>``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from wasmhub.errors import WasmhubError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict",
    413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "error"


def problem(
    status: int, detail: str, *, title: str | None = None, slug: str | None = None,
    headers: dict[str, str] | None = None, **extra: Any,
) -> JSONResponse:
    title = title or TITLES.get(status, "Error")
    body = {
        "type": f"urn:wasmhub:problem:{slug or _slug(title)}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _error_name(exc: WasmhubError) -> str:
    name = type(exc).__name__.removesuffix("Error") or "Error"
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name)


async def _wasmhub_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WasmhubError)
    status = int(getattr(exc, "http_status", 500) or 500)
    # 502/504: the remote side failed; 503: a concurrency limit, retried by the client.
    if status >= 500 and status not in (502, 503, 504):
        log.error("server-side failure: %s", exc.message, exc_info=exc)
    headers: dict[str, str] = {"Retry-After": "5"} if status == 503 else {}
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):
        headers["Retry-After"] = str(retry_after)
    return problem(status, exc.message, title=TITLES.get(status), slug=_slug(_error_name(exc)),
                   headers=headers or None)


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": _jsonable(list(e.get("loc", ()))), "msg": str(e.get("msg", "")),
         "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    summary = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5]
    )
    return problem(422, summary or "the request is not valid", errors=errors)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 304:
        return Response(status_code=304, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
    return problem(exc.status_code, detail, headers=dict(exc.headers or {}))


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled error in the REST API", exc_info=exc)
    return problem(500, "the server failed to handle this request; it has been logged")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WasmhubError, _wasmhub_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
