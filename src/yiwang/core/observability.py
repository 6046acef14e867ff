"""Request ids, structured log lines and the access log (docs/configuration.md, "Logs").

Every request gets an id: the caller's ``X-Request-ID`` when it is a short
token of ``[A-Za-z0-9._-]``, a fresh uuid4 hex otherwise. The id lives in a
context variable for the length of the request, is returned in the
``X-Request-ID`` response header and is stamped on every log line written
meanwhile. The outbox stores it with each event it publishes and the worker
puts it back while it handles that event, so a request and the background
work it caused share one id in the logs.

Log lines are JSON objects, one per line, with ``time`` (ISO 8601, UTC),
``level``, ``logger``, ``request_id`` and ``message`` and any ``extra``
fields. The access log (logger ``yiwang.access``) writes one line per
request with the URL *pattern*, never the path as requested or its query
string, so that ids, phone numbers and search terms stay out of the logs.
The same middleware counts each request for the Prometheus metrics
(:mod:`yiwang.core.metrics`), labelled with that pattern too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from . import metrics

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_MAX_LENGTH = 64
# Short and plain: an id a client sends is written into log lines and a response header,
# so nothing that could break a line, a header or a log parser is taken over.
REQUEST_ID_RE = re.compile(rf"[A-Za-z0-9._-]{{1,{REQUEST_ID_MAX_LENGTH}}}")
NO_REQUEST_ID = "-"

access_logger = logging.getLogger("yiwang.access")

_request_id: ContextVar[str | None] = ContextVar("yiwang_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request (or background job) this code runs for, if any."""
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str | None:
    """``value`` when it is a well-formed request id, else None."""
    if value and REQUEST_ID_RE.fullmatch(value):
        return value
    return None


@contextlib.contextmanager
def request_id_context(request_id: str | None) -> Iterator[None]:
    """Run the block with ``request_id`` as the current id (a worker handling an event, a test)."""
    token = _request_id.set(request_id or None)
    try:
        yield
    finally:
        _request_id.reset(token)


def bind_request_id(request_id: str | None) -> None:
    """Make ``request_id`` current until the enclosing :func:`request_id_context` ends."""
    _request_id.set(request_id or None)


class RequestIdMiddleware:
    """Give each request an id and write its access log line; outermost, so every response carries both."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accepted_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.perf_counter()
        with request_id_context(request_id):
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            seconds = time.perf_counter() - started
            # Probes stay out of the access log but are counted: a load balancer's view is part of the traffic.
            metrics.observe_request(request.method or "", route_of(request), response.status_code, seconds)
            if not getattr(request, "skip_access_log", False):
                log_access(request, response, duration_ms=seconds * 1000)
        return response


def log_access(request: HttpRequest, response: HttpResponse, *, duration_ms: float) -> None:
    """Write the request's access log line: route, method, status, duration, user id; no path, no query."""
    route = route_of(request)
    access_logger.info(
        "%s %s %s",
        request.method,
        route,
        response.status_code,
        extra={
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(duration_ms, 1),
            "user_id": user_id_of(request),
        },
    )


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered (``/cases/<int:case_id>/``), or ``-`` when none matched."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return NO_REQUEST_ID
    return "/" + match.route


def user_id_of(request: HttpRequest) -> str:
    """The signed-in user's id, without a database query of its own; ``-`` for anonymous requests."""
    user = getattr(request, "user", None)
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is not empty and wrapped is not None:
        pk = getattr(wrapped, "pk", None)
        return str(pk) if pk is not None else NO_REQUEST_ID
    # The view never looked at the user: take the id from the session if it was loaded anyway,
    # rather than loading the session (a query) just for a log line.
    session = getattr(request, "session", None)
    if session is not None and hasattr(session, "_session_cache"):
        value = session.get(SESSION_KEY)
        return str(value) if value is not None else NO_REQUEST_ID
    return NO_REQUEST_ID


# --- logging ------------------------------------------------------------------------

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is written out.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
}


class RequestIdFilter(logging.Filter):
    """Stamp the current request id on every record passing through the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # Django logs a 4xx/5xx response after the middleware has returned (and the context
            # variable is reset), passing the request along: its id is on it.
            request_id = current_request_id() or getattr(getattr(record, "request", None), "request_id", None)
            record.request_id = request_id or NO_REQUEST_ID
        return True


def utc_timestamp(seconds: float) -> str:
    """ISO 8601 in UTC to the millisecond, ``2026-12-06T14:05:09.123Z``."""
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, request_id, message, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None) or current_request_id() or NO_REQUEST_ID,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            # Django's request loggers pass the request itself, whose text holds the query string.
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and not isinstance(value, HttpRequest):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)
