"""Prometheus metrics at /metrics: who may read them, requests by URL pattern, the outbox's depth and lag,
handler failures, and several processes' counters adding up (multiprocess mode)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from yiwang.core import metrics, outbox
from yiwang.core.leasing import MAX_ATTEMPTS
from yiwang.core.models import OutboxEvent

TOKEN = "scrape-token-for-tests-0123456789abcdef"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
FAILING_TOPIC = "metricstest.failed"


@pytest.fixture(autouse=True)
def _scrape_token(settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN


def scrape(client: Client | None = None, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, keyed by sample name and labels."""
    response = (client or Client()).get("/metrics", **(headers or AUTH))
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- who may read them --------------------------------------------------------------------


@pytest.mark.django_db
def test_without_credentials_the_endpoint_answers_401_with_a_bearer_challenge() -> None:
    response = Client().get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="yiwang-metrics"'
    assert b"yiwang_" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer wrong-token", f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}"])
def test_a_wrong_token_is_refused(header: str) -> None:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401


@pytest.mark.django_db
def test_the_scrapers_token_is_accepted() -> None:
    response = Client().get("/metrics", **AUTH)
    assert response.status_code == 200
    assert b"# TYPE yiwang_http_requests_total counter" in response.content
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_with_no_token_configured_no_token_is_accepted(settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert Client().get("/metrics", **AUTH).status_code == 401


@pytest.mark.django_db
def test_a_scrape_with_the_token_is_answered_whatever_host_it_names() -> None:
    # Prometheus asks each node by its address, which is not among ALLOWED_HOSTS (like a load balancer's probe).
    node = Client(HTTP_HOST="10.0.0.7:8000")
    assert node.get("/metrics", **AUTH).status_code == 200
    assert node.get("/metrics").status_code == 400  # without a token it takes the usual way: host check first


@pytest.mark.django_db
def test_signed_in_staff_need_the_view_metrics_permission() -> None:
    user = get_user_model().objects.create_user(username="ops-viewer", password="not-used-here-1A")
    client = Client()
    client.force_login(user)
    assert client.get("/metrics").status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_metrics", content_type__app_label="core"))
    client.force_login(get_user_model().objects.get(pk=user.pk))  # a fresh user object: no cached permissions
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"yiwang_outbox_events" in response.content


@pytest.mark.django_db
def test_a_wrong_token_is_refused_even_from_a_permitted_browser() -> None:
    superuser = get_user_model().objects.create_superuser(username="ops-root", password="not-used-here-1A")
    client = Client()
    client.force_login(superuser)
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


# --- requests by URL pattern ------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_counted_under_their_url_pattern_never_their_path() -> None:
    route = "/messages/<int:message_id>/"
    before = scrape()
    client = Client()
    for message_id in (48151623, 42424242, 48151623):
        client.get(f"/messages/{message_id}/")  # anonymous: sent to the login page
    text = Client().get("/metrics", **AUTH).content.decode()
    after = scrape()
    counted = value(after, "yiwang_http_requests_total", method="GET", route=route, status="302")
    assert counted - value(before, "yiwang_http_requests_total", method="GET", route=route, status="302") == 3
    durations = value(after, "yiwang_http_request_duration_seconds_count", method="GET", route=route)
    assert durations - value(before, "yiwang_http_request_duration_seconds_count", method="GET", route=route) == 3
    assert "48151623" not in text and "42424242" not in text


@pytest.mark.django_db
def test_paths_that_match_no_pattern_share_one_label_and_odd_methods_share_another() -> None:
    before = scrape()
    Client().get("/no-such-page/123/")
    Client().get("/no-such-page/456/")
    Client().generic("BREW", "/messages/1/")
    after = scrape()
    key: dict[str, str] = {"method": "GET", "route": "-", "status": "404"}
    assert value(after, "yiwang_http_requests_total", **key) - value(before, "yiwang_http_requests_total", **key) == 2
    odd = [labels for (name, labels) in after if name == "yiwang_http_requests_total" and ("method", "BREW") in labels]
    assert odd == []
    other = {"method": "other", "route": "/messages/<int:message_id>/", "status": "302"}
    other_405 = {**other, "status": "405"}
    moved = sum(
        value(after, "yiwang_http_requests_total", **k) - value(before, "yiwang_http_requests_total", **k)
        for k in (other, other_405)
    )
    assert moved == 1


# --- the outbox -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_queue_depth_and_lag_reflect_the_pending_outbox_rows() -> None:
    OutboxEvent.objects.all().delete()  # the seed's events, if any: this test counts its own
    samples = scrape()
    assert value(samples, "yiwang_outbox_events", state="due") == 0
    assert value(samples, "yiwang_outbox_lag_seconds") == 0

    now = timezone.now()
    with transaction.atomic():
        oldest, newer, done, later, given_up = (outbox.publish("metricstest.pending", {"n": n}) for n in range(5))
    OutboxEvent.objects.filter(pk=oldest.pk).update(available_at=now - dt.timedelta(minutes=10))
    OutboxEvent.objects.filter(pk=newer.pk).update(available_at=now - dt.timedelta(minutes=1))
    OutboxEvent.objects.filter(pk=done.pk).update(available_at=now - dt.timedelta(hours=5), processed_at=now)
    OutboxEvent.objects.filter(pk=later.pk).update(available_at=now + dt.timedelta(days=7))
    OutboxEvent.objects.filter(pk=given_up.pk).update(available_at=now - dt.timedelta(hours=3), attempts=MAX_ATTEMPTS)

    samples = scrape()
    assert value(samples, "yiwang_outbox_events", state="due") == 2
    assert value(samples, "yiwang_outbox_events", state="scheduled") == 1
    assert value(samples, "yiwang_outbox_events", state="failed") == 1
    # The oldest due event became due ten minutes ago: neither the processed one nor the one given up counts.
    assert 600 <= value(samples, "yiwang_outbox_lag_seconds") < 3 * 3600

    state = metrics.outbox_state(now=now)
    assert (state.due, state.scheduled, state.failed, state.lag_seconds) == (2, 1, 1, 600.0)


@pytest.mark.django_db
def test_failed_handler_attempts_are_counted_by_topic() -> None:
    def explode(event: OutboxEvent) -> None:
        raise RuntimeError("handler exploded")

    outbox.handles(FAILING_TOPIC)(explode)
    try:
        before = value(scrape(), "yiwang_outbox_handler_failures_total", topic=FAILING_TOPIC)
        with transaction.atomic():
            outbox.publish(FAILING_TOPIC, {"n": 1})
        assert outbox.process_batch("metrics-test") == 1
        after = value(scrape(), "yiwang_outbox_handler_failures_total", topic=FAILING_TOPIC)
    finally:
        outbox.unregister(FAILING_TOPIC, explode)
    assert after - before == 1


# --- several processes --------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys
    from yiwang.core import metrics
    for _ in range(int(sys.argv[1])):
        metrics.observe_request("GET", "/guide/<slug:code>/", 200, 0.02)
    metrics.count_handler_failure("metricstest.child")
    """
)


def _child_env(directory: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (metrics.MULTIPROC_ENV, metrics.PREPARED_ENV)}
    env["DJANGO_SETTINGS_MODULE"] = "yiwang.settings"
    if directory is not None:
        env.update(metrics.multiprocess_environment(directory))
    return env


def test_in_multiprocess_mode_the_counters_of_several_processes_add_up(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    for count in (3, 4):
        subprocess.run([sys.executable, "-c", CHILD, str(count)], env=_child_env(tmp_path), check=True)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2  # one file per process

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    requests = {frozenset(s.labels.items()): s.value for s in families["yiwang_http_requests"].samples}
    assert requests[frozenset({"method": "GET", "route": "/guide/<slug:code>/", "status": "200"}.items())] == 7
    durations = [s for s in families["yiwang_http_request_duration_seconds"].samples if s.name.endswith("_count")]
    assert [s.value for s in durations] == [7]
    failures = [s.value for s in families["yiwang_outbox_handler_failures"].samples if s.name.endswith("_total")]
    assert failures == [2]


def test_the_server_empties_the_metrics_directory_of_an_earlier_run(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "counter_12345.db").write_bytes(b"an earlier server's counts")
    (tmp_path / "keep.txt").write_text("not ours")
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    assert metrics.empty_multiprocess_dir() == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_switching_to_multiprocess_mode_after_prometheus_client_was_imported_is_refused(tmp_path: Path) -> None:
    # A process that had already imported prometheus_client without the directory would count on its own,
    # unseen by the scrape: gunicorn's on_starting says so instead of serving wrong sums.
    code = textwrap.dedent(
        """
        import django; django.setup()
        import prometheus_client
        from yiwang.core import metrics
        try:
            metrics.prepare_multiprocess_dir()
        except metrics.MetricsDirectoryError as error:
            print("refused:", error)
        """
    )
    env = _child_env(None)
    env["YIWANG_VAR_DIR"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.startswith("refused: prometheus_client was imported before the metrics directory was set")


def test_gunicorn_started_directly_gets_the_directory_in_on_starting(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import os
        import django; django.setup()
        from yiwang.core import gunicorn_config
        gunicorn_config.on_starting(None)
        from yiwang.core import metrics
        metrics.observe_request("GET", "/healthz", 200, 0.001)
        print(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        """
    )
    env = _child_env(None)
    env["YIWANG_VAR_DIR"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    directory = Path(result.stdout.strip())
    assert directory == tmp_path / "metrics"
    assert list(directory.glob("counter_*.db"))


@pytest.mark.django_db
def test_serve_hands_the_emptied_directory_to_gunicorn_and_its_worker_not_to_itself(
    monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> None:
    from django.core.management import call_command
    from gunicorn.app.wsgiapp import WSGIApplication

    from yiwang.core.management.commands import serve

    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_4242.db").write_bytes(b"an earlier run")
    settings.METRICS_DIR = directory
    settings.EMBEDDED_WORKER = True
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    monkeypatch.delenv(metrics.PREPARED_ENV, raising=False)
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # serve hands its own argv to gunicorn
    seen: dict[str, Any] = {}
    monkeypatch.setattr(serve.Command, "start_worker", lambda self, env: seen.update(worker=env))
    monkeypatch.setattr(WSGIApplication, "run", lambda app: seen.update(gunicorn=app.cfg.env))

    call_command("serve", "--port", "8767")
    expected = {metrics.MULTIPROC_ENV: str(directory), metrics.PREPARED_ENV: "1"}
    assert seen == {"worker": expected, "gunicorn": expected}
    assert list(directory.iterdir()) == []
    assert metrics.MULTIPROC_ENV not in os.environ  # this process loaded prometheus_client long ago
