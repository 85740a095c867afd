"""Logging set-up for servers: plain text or one JSON object a line, with request ids.

The request id of the request being handled (taken from the ``request_id_header`` or
made up, and echoed in the response) is kept in a context variable and added to every
record logged while handling it, by any module, including uvicorn's own loggers.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from typing import Any

from wasmhub.settings import LogFormat, Settings

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "wasmhub_request_id", default=None
)
ACCESS_LOGGER = "wasmhub.access"

# LogRecord attributes every record has; anything else was passed with ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (or None) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", ...extra}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key != "color_message":
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def log_config(settings: Settings) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server (uvicorn's loggers included)."""
    text = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if settings.log_format is LogFormat.JSON
        else {"format": text}
    )
    level = settings.log_level.upper()
    handler = ["default"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "default",
                                 "filters": ["request_id"], "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": handler, "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # Our access log (wasmhub.access) replaces uvicorn's, which has no request id.
            "uvicorn.access": {"handlers": handler, "level": "WARNING", "propagate": False},
            "wasmhub": {"handlers": handler, "level": level, "propagate": False},
        },
        "root": {"handlers": handler, "level": "WARNING"},
    }
