"""Probes for a load balancer or orchestrator: ``/healthz`` (process up) and ``/readyz`` (dependencies answer).

Both are anonymous, GET/HEAD only, never cached. :class:`ProbeMiddleware`
answers them ahead of Django's host check and HTTPS redirect: a load
balancer probes a backend by its address over plain HTTP, and a probe that
got a 400 (unknown host) or a 301 (to https) would take every backend out
of rotation. They read no request data and build no links, so the host
they were asked under does not matter.

A failing readiness check names the check (``database``, ``broker``) and
nothing more: no connection strings, host names or error texts, which could
carry credentials. The error type goes to the log.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from functools import cached_property
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import NoReverseMatch, resolve, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger("yiwang.health")

OK = "ok"
FAILED = "failed"

# Well-known ports of the brokers a worker may use, for URLs that leave the port out.
DEFAULT_BROKER_PORTS = {"redis": 6379, "rediss": 6380, "amqp": 5672, "amqps": 5671, "pyamqp": 5672}


def check_database() -> bool:
    """True when the default database answers ``SELECT 1``."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        logger.warning("readiness: database check failed (%s)", type(error).__name__)
        return False
    return True


def broker_address(url: str) -> tuple[str, int] | None:
    """The host and port of a broker URL such as ``redis://:secret@broker:6379/0``; None if it has neither."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_BROKER_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname, port


def check_broker(url: str, *, timeout: float) -> bool:
    """True when a TCP connection to the broker's host and port succeeds within ``timeout`` seconds."""
    address = broker_address(url)
    if address is None:
        logger.warning("readiness: YIWANG_BROKER_URL has no host and port")
        return False
    try:
        socket.create_connection(address, timeout=timeout).close()
    except OSError as error:
        logger.warning("readiness: broker check failed (%s)", type(error).__name__)
        return False
    return True


def readiness() -> dict[str, str]:
    """Each configured check and its outcome, ``ok`` or ``failed``."""
    checks = {"database": OK if check_database() else FAILED}
    if settings.YIWANG_BROKER_URL:
        ok = check_broker(settings.YIWANG_BROKER_URL, timeout=settings.YIWANG_READYZ_TIMEOUT)
        checks["broker"] = OK if ok else FAILED
    return checks


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving; touches nothing else (no database)."""
    return JsonResponse({"status": OK})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when every dependency answers, 503 naming the checks that failed."""
    checks = readiness()
    ready = all(outcome == OK for outcome in checks.values())
    return JsonResponse({"status": OK if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


PROBE_URL_NAMES = ("core:healthz", "core:readyz")
# Answered early only when the request carries a bearer token (a Prometheus scraper, which asks each node
# by its address, like a load balancer): a browser's request goes the usual way, through sessions.
SCRAPE_URL_NAMES = ("core:metrics",)


class ProbeMiddleware:
    """Answer the probes (and token-bearing metric scrapes) before the host check and the HTTPS redirect run.

    See the module's docstring; a scrape is judged by its token alone (yiwang.core.metrics).

    Sits right after :class:`~yiwang.core.observability.RequestIdMiddleware`,
    so probes still get a request id, but leave the access log alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @cached_property
    def probe_paths(self) -> frozenset[str]:
        return _paths_of(PROBE_URL_NAMES)

    @cached_property
    def scrape_paths(self) -> frozenset[str]:
        return _paths_of(SCRAPE_URL_NAMES)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in self.probe_paths or (
            request.path in self.scrape_paths and request.headers.get("Authorization", "")[:7].lower() == "bearer "
        ):
            return self.answer_early(request)
        return self.get_response(request)

    def answer_early(self, request: HttpRequest) -> HttpResponse:
        request.skip_access_log = True  # type: ignore[attr-defined]
        match = resolve(request.path_info)
        request.resolver_match = match
        response: HttpResponse = match.func(request)
        return response


def _paths_of(url_names: tuple[str, ...]) -> frozenset[str]:
    # From the URL patterns, so the routes stay declared (and checked) in one place; a URLconf
    # without them (a test's) simply has nothing to answer early.
    paths = set()
    for name in url_names:
        try:
            paths.add(reverse(name))
        except NoReverseMatch:
            continue
    return frozenset(paths)
