"""Operations metrics for Prometheus at ``/metrics`` (docs/adr/0035-metrics-and-backup.md, docs/configuration.md).

What is measured:

- ``yiwang_http_requests_total{method, route, status}`` and
  ``yiwang_http_request_duration_seconds{method, route}``: every request,
  labelled with the URL *pattern* that answered (``/cases/<int:case_id>/``,
  ``-`` when none matched), never the path as requested, so that the number
  of series stays bounded by the URLconf whatever clients send, and no id
  or phone number ends up in a label;
- ``yiwang_outbox_handler_failures_total{topic}``: failed attempts at an
  outbox event, counted by the process that made them;
- ``yiwang_outbox_events{state}`` (queue depth: ``due``, ``scheduled``,
  ``failed``) and ``yiwang_outbox_lag_seconds`` (how long the oldest due
  event has waited), read from the database at each scrape, so they are the
  same whichever node is asked and whatever runs the workers.

Several processes, one node: gunicorn's workers (and the embedded outbox
worker) each count their own requests. prometheus_client's multiprocess mode
has each process write its values to files in ``PROMETHEUS_MULTIPROC_DIR``
and a scrape adds them up. The directory must be in the environment *before*
prometheus_client is first imported, and emptied when the server starts
(``yiwang serve`` passes it to gunicorn and its outbox worker; gunicorn
started directly with our config gets it in ``on_starting``). That is why this module imports
prometheus_client only inside functions, on the first request: ``yiwang
serve`` loads the apps before it knows it will fork. Without the variable
(tests, ``runserver``) the counters live in the process.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hmac
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Count, Min, Q
from django.http import HttpRequest
from django.utils import timezone

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Set once the directory has been emptied for this server, so that the gunicorn hook does not empty it again
# after ``yiwang serve`` has started its worker (whose files would be lost).
PREPARED_ENV = "YIWANG_METRICS_DIR_PREPARED"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PERMISSION = "core.view_metrics"

WWW_AUTHENTICATE = 'Bearer realm="yiwang-metrics"'
# Methods outside this set (anything a client may invent) share one label value.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
# Request durations from 5 ms (a cached page) to 10 s (beyond any page's budget).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class MetricsDirectoryError(RuntimeError):
    """Multiprocess mode was asked for after prometheus_client had already chosen single-process values."""


def multiprocess_dir() -> str | None:
    """The shared directory when this process counts in multiprocess mode, else None."""
    return os.environ.get(MULTIPROC_ENV) or None


def empty_multiprocess_dir() -> Path:
    """The server's metrics directory, created and emptied of an earlier run's files.

    ``$PROMETHEUS_MULTIPROC_DIR`` when set, else ``settings.METRICS_DIR``
    (``var/metrics``). The files of an earlier run belong to processes of a
    server that has stopped; Prometheus reads the restart as a counter reset.
    """
    directory = Path(os.environ.get(MULTIPROC_ENV) or settings.METRICS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    return directory


def multiprocess_environment(directory: Path) -> dict[str, str]:
    """The variables that put a process (a gunicorn master, a worker) into multiprocess mode in ``directory``."""
    return {MULTIPROC_ENV: str(directory), PREPARED_ENV: "1"}


def prepare_multiprocess_dir() -> Path:
    """gunicorn's ``on_starting``: multiprocess mode for the master and the workers it will fork.

    ``yiwang serve`` has already emptied the directory and passed it in the
    environment (before its outbox worker started, whose files must stay);
    gunicorn started directly with our config gets it here.
    """
    if "prometheus_client.values" in sys.modules and not _values_are_multiprocess():
        raise MetricsDirectoryError(
            "prometheus_client was imported before the metrics directory was set: the workers' counters"
            " would not add up (import it only inside functions; see yiwang.core.metrics)"
        )
    if os.environ.get(PREPARED_ENV) == "1" and multiprocess_dir():
        return Path(os.environ[MULTIPROC_ENV])
    directory = empty_multiprocess_dir()
    os.environ.update(multiprocess_environment(directory))
    return directory


def _values_are_multiprocess() -> bool:
    from prometheus_client import values

    return bool(getattr(values.ValueClass, "_multiprocess", False))


def mark_process_dead(pid: int) -> None:
    """gunicorn's ``child_exit``: drop a finished worker's live gauges (its counters stay in the sum)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# --- instruments ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Instruments:
    registry: CollectorRegistry
    requests: Counter
    duration: Histogram
    handler_failures: Counter


@functools.cache
def _instruments() -> _Instruments:
    from prometheus_client import CollectorRegistry, Counter, Histogram

    # A registry of our own rather than prometheus_client's global one: nothing another library registers
    # (or a test) leaks into the endpoint, and the outbox collector is added exactly once.
    registry = CollectorRegistry(auto_describe=True)
    registry.register(OutboxCollector())
    return _Instruments(
        registry=registry,
        requests=Counter(
            "yiwang_http_requests",
            "HTTP requests answered, by method, URL pattern and status",
            ["method", "route", "status"],
            registry=registry,
        ),
        duration=Histogram(
            "yiwang_http_request_duration_seconds",
            "Time to answer an HTTP request (to the response headers), by method and URL pattern",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
        handler_failures=Counter(
            "yiwang_outbox_handler_failures",
            "Failed attempts at handling an outbox event, by topic",
            ["topic"],
            registry=registry,
        ),
    )


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request; ``route`` is the URL pattern (observability.route_of), never the path."""
    label = method if method in KNOWN_METHODS else OTHER_METHOD
    instruments = _instruments()
    instruments.requests.labels(label, route, str(status)).inc()
    instruments.duration.labels(label, route).observe(seconds)


def count_handler_failure(topic: str) -> None:
    """Count one failed attempt at an event of ``topic`` (topics are code-defined: a bounded label)."""
    _instruments().handler_failures.labels(topic).inc()


# --- the outbox, read at scrape time --------------------------------------------------------


@dataclass(frozen=True)
class OutboxState:
    due: int
    scheduled: int
    failed: int
    lag_seconds: float


def outbox_state(now: dt.datetime | None = None) -> OutboxState:
    """Queue depth and lag of the outbox, in one query.

    ``due``: unprocessed events a worker may take now; ``scheduled``: those
    delayed to a later time (a reminder); ``failed``: those that used up
    their attempts and wait for an administrator. The lag is counted from
    when the oldest due event became due (``available_at``), so a reminder
    set a week ahead is not a week of lag; 0 when nothing is due.
    """
    from .leasing import MAX_ATTEMPTS
    from .models import OutboxEvent

    now = now or timezone.now()
    retrying = Q(attempts__lt=MAX_ATTEMPTS)
    due = Q(available_at__lte=now) & retrying
    row = OutboxEvent.objects.filter(processed_at__isnull=True).aggregate(
        due=Count("id", filter=due),
        scheduled=Count("id", filter=Q(available_at__gt=now) & retrying),
        failed=Count("id", filter=Q(attempts__gte=MAX_ATTEMPTS)),
        oldest_due=Min("available_at", filter=due),
    )
    oldest = row["oldest_due"]
    lag = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return OutboxState(due=row["due"], scheduled=row["scheduled"], failed=row["failed"], lag_seconds=lag)


class OutboxCollector:
    """Gauges of the outbox's depth and lag, read from the database at each scrape."""

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        state = outbox_state()
        depth = GaugeMetricFamily(
            "yiwang_outbox_events",
            "Unprocessed outbox events: due now, scheduled for later, failed (attempts used up)",
            labels=["state"],
        )
        depth.add_metric(["due"], state.due)
        depth.add_metric(["scheduled"], state.scheduled)
        depth.add_metric(["failed"], state.failed)
        yield depth
        yield GaugeMetricFamily(
            "yiwang_outbox_lag_seconds",
            "How long the oldest due outbox event has waited since it became due (0 when none is due)",
            value=state.lag_seconds,
        )

    def describe(self) -> list[Any]:
        # Nothing is described up front, so that registering the collector never reads the database.
        return []


def exposition() -> bytes:
    """The text a scrape gets: this node's processes added up (multiprocess mode) or this process's."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    instruments = _instruments()
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(instruments.registry)
    registry = CollectorRegistry(auto_describe=True)
    MultiProcessCollector(registry, path=directory)
    registry.register(OutboxCollector())
    return generate_latest(registry)


# --- who may read them ------------------------------------------------------------------


class Access(enum.Enum):
    GRANTED = "granted"
    UNAUTHENTICATED = "unauthenticated"  # no credential, or a wrong token: 401
    FORBIDDEN = "forbidden"  # a signed-in user without the permission: 403


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, None when the request has none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def token_is_valid(presented: str) -> bool:
    """True when ``presented`` is the configured scrape token; always False when none is configured."""
    expected = settings.METRICS_TOKEN
    if not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def access_of(request: HttpRequest) -> Access:
    """Deny by default: a valid bearer token, or an active signed-in user holding ``core.view_metrics``.

    A request that presents a bearer token is judged by the token alone, so
    a wrong token is refused even from a signed-in browser.
    """
    token = bearer_token(request)
    if token is not None:
        return Access.GRANTED if token_is_valid(token) else Access.UNAUTHENTICATED
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return Access.UNAUTHENTICATED
    return Access.GRANTED if user.is_active and user.has_perm(PERMISSION) else Access.FORBIDDEN
