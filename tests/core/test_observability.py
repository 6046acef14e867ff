"""Request ids, JSON log lines, the access log, the request id in outbox jobs, and the probes."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client

from yiwang.core import observability, outbox
from yiwang.core.models import OutboxEvent
from yiwang.core.observability import REQUEST_ID_HEADER, JsonFormatter, RequestIdFilter

from .observability_urls import TOPIC

pytestmark = pytest.mark.urls("tests.core.observability_urls")


class LogLines:
    """The JSON lines written through the project's own filter and formatter while the test runs."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.addFilter(RequestIdFilter())
        self.handler.setFormatter(JsonFormatter())

    def lines(self, logger: str | None = None) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.stream.getvalue().splitlines()]
        return [line for line in parsed if logger is None or line["logger"] == logger]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    lines = LogLines()
    # Django's loggers do not propagate to the root (settings.LOGGING): listen on both.
    loggers = [logging.getLogger(), logging.getLogger("django")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(lines.handler)
        logger.setLevel(logging.INFO)
    yield lines
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(lines.handler)
        logger.setLevel(level)


# --- request ids ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_request_id_is_generated_and_returned(client: Client) -> None:
    first = client.get("/observed/7/")
    second = client.get("/observed/7/")
    assert first.status_code == 200
    assert len(first[REQUEST_ID_HEADER]) == 32
    int(first[REQUEST_ID_HEADER], 16)  # uuid4 hex
    assert first[REQUEST_ID_HEADER] != second[REQUEST_ID_HEADER]


@pytest.mark.django_db
def test_pages_and_api_errors_carry_the_header_too(client: Client) -> None:
    assert client.get("/no-such-page/")[REQUEST_ID_HEADER]
    assert client.get("/api/v1/no-such-operation")[REQUEST_ID_HEADER]


@pytest.mark.django_db
def test_a_well_formed_incoming_request_id_is_kept(client: Client) -> None:
    response = client.get("/observed/7/", headers={REQUEST_ID_HEADER: "lb-2026.12.06_abc"})
    assert response[REQUEST_ID_HEADER] == "lb-2026.12.06_abc"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming",
    ["a" * 65, "has space", "new\\nline", 'quote"d', "semi;colon", "中文", "x=y"],
)
def test_a_malformed_incoming_request_id_is_replaced(client: Client, incoming: str) -> None:
    response = client.get("/observed/7/", headers={REQUEST_ID_HEADER: incoming})
    assert response[REQUEST_ID_HEADER] != incoming
    assert len(response[REQUEST_ID_HEADER]) == 32


def test_no_request_id_outside_a_request() -> None:
    assert observability.current_request_id() is None
    with observability.request_id_context("job-1"):
        assert observability.current_request_id() == "job-1"
    assert observability.current_request_id() is None


# --- log lines ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_log_line_written_during_a_request_carries_its_id(client: Client, log_lines: LogLines) -> None:
    response = client.get("/observed/7/", headers={REQUEST_ID_HEADER: "req-42"})
    [line] = log_lines.lines("yiwang.tests.observability")
    assert line["request_id"] == "req-42" == response[REQUEST_ID_HEADER]
    assert line["message"] == "handling person 7"
    assert line["level"] == "INFO"
    assert line["time"].endswith("Z") and "T" in line["time"]


def test_a_log_line_outside_a_request_has_a_dash(log_lines: LogLines) -> None:
    logging.getLogger("yiwang.tests.observability").warning("多行\n消息", extra={"case_id": 5})
    [line] = log_lines.lines("yiwang.tests.observability")
    assert line["request_id"] == "-"
    assert line["message"] == "多行\n消息"
    assert line["case_id"] == 5
    assert log_lines.stream.getvalue().count("\n") == 1  # one line per record, newlines escaped


@pytest.mark.django_db
def test_the_access_line_has_the_route_not_the_path_or_query(client: Client, log_lines: LogLines) -> None:
    client.get("/observed/13800138000/?phone=13800138000&q=secret", headers={REQUEST_ID_HEADER: "req-7"})
    [line] = log_lines.lines("yiwang.access")
    assert line["request_id"] == "req-7"
    assert line["method"] == "GET"
    assert line["route"] == "/observed/<int:person_id>/"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] == "-"
    assert "13800138000" not in log_lines.stream.getvalue().split('"logger": "yiwang.access"')[1]
    assert "secret" not in json.dumps(line)


@pytest.mark.django_db
def test_the_access_line_names_the_signed_in_user(client: Client, log_lines: LogLines) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="observer", password="Unused-pass-123")
    client.force_login(user)
    client.get("/messages/")
    [line] = log_lines.lines("yiwang.access")
    assert line["user_id"] == str(user.pk)
    assert line["route"] == "/messages/"


@pytest.mark.django_db
def test_an_unknown_path_is_logged_without_it(client: Client, log_lines: LogLines) -> None:
    client.get("/no-such-page/13800138000/")
    [line] = log_lines.lines("yiwang.access")
    assert line["status"] == 404
    assert line["route"] == "-"
    assert "13800138000" not in json.dumps(line)


@pytest.mark.django_db
def test_django_request_warnings_leave_the_request_and_its_query_out(client: Client, log_lines: LogLines) -> None:
    response = client.get("/no-such-page/?phone=13800138000")
    [line] = log_lines.lines("django.request")
    assert line["status_code"] == 404
    assert line["request_id"] == response[REQUEST_ID_HEADER]
    assert "request" not in line
    assert "13800138000" not in log_lines.stream.getvalue()


@pytest.mark.django_db
def test_the_site_root_is_logged_as_slash(client: Client, log_lines: LogLines) -> None:
    client.get("/")
    [line] = log_lines.lines("yiwang.access")
    assert line["route"] == "/"


def test_settings_wire_the_filter_and_the_formatter() -> None:
    handler = settings.LOGGING["handlers"]["console"]
    assert settings.LOGGING["formatters"][handler["formatter"]]["()"] == "yiwang.core.observability.JsonFormatter"
    assert settings.LOGGING["filters"][handler["filters"][0]]["()"] == "yiwang.core.observability.RequestIdFilter"
    assert settings.MIDDLEWARE[0] == "yiwang.core.observability.RequestIdMiddleware"


# --- the outbox and the worker ----------------------------------------------------------


class LoggingHandler:
    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def __call__(self, event: OutboxEvent) -> None:
        self.seen.append(observability.current_request_id())
        logging.getLogger("yiwang.tests.handler").info("handled %s", event.pk)


@pytest.fixture
def logging_handler() -> Iterator[LoggingHandler]:
    handler = LoggingHandler()
    outbox.handles(TOPIC)(handler)
    yield handler
    outbox.unregister(TOPIC, handler)


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_an_event_under_the_request_id_that_wrote_it(
    client: Client, log_lines: LogLines, logging_handler: LoggingHandler
) -> None:
    response = client.post("/observed/publish/", headers={REQUEST_ID_HEADER: "req-outbox"})
    event = OutboxEvent.objects.get(pk=response.json()["event"])
    assert event.request_id == "req-outbox"

    assert outbox.process_batch("worker-1") == 1
    assert logging_handler.seen == ["req-outbox"]
    [line] = log_lines.lines("yiwang.tests.handler")
    assert line["request_id"] == "req-outbox"
    assert observability.current_request_id() is None  # not left behind for the next event


@pytest.mark.django_db(transaction=True)
def test_an_event_published_outside_a_request_has_no_request_id(logging_handler: LoggingHandler) -> None:
    from django.db import transaction

    with observability.request_id_context("outer"), transaction.atomic():
        tagged = outbox.publish(TOPIC, {"n": 1})
    with transaction.atomic():
        plain = outbox.publish(TOPIC, {"n": 2})
    assert plain.request_id == ""
    with observability.request_id_context("worker-loop"):
        outbox.process_batch("worker-1")
        # Each event under its own id (or none), and the worker's own id restored afterwards.
        assert observability.current_request_id() == "worker-loop"
    assert logging_handler.seen == [tagged.request_id, None]


# --- probes ---------------------------------------------------------------------------


def test_healthz_answers_without_the_database(client: Client) -> None:
    # No django_db mark: any database access would fail the test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response[REQUEST_ID_HEADER]
    assert "no-store" in response["Cache-Control"]
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_readyz_is_ready_when_the_database_answers(client: Client, settings: Any) -> None:
    settings.YIWANG_BROKER_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


@pytest.mark.django_db
def test_readyz_is_unavailable_when_the_database_is_down(client: Client, settings: Any) -> None:
    settings.YIWANG_BROKER_URL = ""
    with mock.patch.object(BaseDatabaseWrapper, "cursor", side_effect=OperationalError("password=hunter2 failed")):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "failed"}}
    assert b"hunter2" not in response.content


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nothing listens


@pytest.mark.django_db
def test_readyz_is_unavailable_when_the_broker_is_unreachable(client: Client, settings: Any) -> None:
    settings.YIWANG_BROKER_URL = f"redis://:s3cret-pass@127.0.0.1:{_closed_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "broker": "failed"}}
    assert b"s3cret" not in response.content and b"127.0.0.1" not in response.content


@pytest.mark.django_db
def test_readyz_checks_a_listening_broker(client: Client, settings: Any) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings.YIWANG_BROKER_URL = f"amqp://user:pass@127.0.0.1:{listener.getsockname()[1]}/"
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_a_broker_url_without_host_is_not_ready() -> None:
    from yiwang.core import health

    assert health.broker_address("redis://broker") == ("broker", 6379)
    assert health.broker_address("memory://") is None
    assert health.check_broker("memory://", timeout=0.1) is False


def test_probes_pass_the_host_check_and_the_https_redirect(client: Client, settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["zwfw.example.gov.cn"]
    # A load balancer probing a backend by its address, over plain HTTP.
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    # Everything else is still refused or redirected.
    assert client.get("/observed/7/", HTTP_HOST="10.0.0.7:8000").status_code == 400
    assert client.get("/observed/7/", HTTP_HOST="zwfw.example.gov.cn").status_code == 301


@pytest.mark.django_db
def test_a_notification_is_sent_under_the_request_id_of_its_event() -> None:
    from django.db import transaction

    from yiwang.core import notifications

    seen: list[str | None] = []
    notifications.register_channel("observed", lambda notification: seen.append(observability.current_request_id()))
    try:
        with observability.request_id_context("req-notify"), transaction.atomic():
            event = outbox.publish(TOPIC, {"n": 1})
        for key, source in (("with-event", event), ("without-event", None)):
            notifications.queue(
                dedupe_key=key,
                channel="observed",
                template="test",
                subject="办件已受理",
                body="您的申请已受理。",
                recipient_user_id=1,
                event=source,
            )
        assert notifications.deliver_batch("worker-1") == 2
    finally:
        notifications.unregister_channel("observed")
    assert seen == ["req-notify", None]  # oldest first
