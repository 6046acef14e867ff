"""``yiwang serve``: the gunicorn configuration it starts with and what it checks first."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection, connections
from gunicorn.app.wsgiapp import WSGIApplication

from yiwang.core import gunicorn_config
from yiwang.core.checks import collected_static_files


# Serving reads the database before it starts (the e-archive log's start-up check), hence ``db``.
def test_serve_gives_gunicorn_the_worker_warm_up_hook(monkeypatch: pytest.MonkeyPatch, settings: Any, db: None) -> None:
    settings.EMBEDDED_WORKER = False
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # serve hands its own argv to gunicorn
    seen: dict[str, Any] = {}

    def run(app: WSGIApplication) -> None:
        seen["post_worker_init"] = app.cfg.post_worker_init
        seen["post_fork"] = app.cfg.post_fork
        seen["bind"] = app.cfg.bind

    monkeypatch.setattr(WSGIApplication, "run", run)
    call_command("serve", "--port", "8765")
    assert seen["post_worker_init"] is gunicorn_config.post_worker_init
    assert seen["post_fork"] is gunicorn_config.post_fork
    assert seen["bind"] == ["127.0.0.1:8765"]


def test_serve_with_threads_runs_the_gthread_worker_that_keeps_connections_alive(
    monkeypatch: pytest.MonkeyPatch, settings: Any, db: None
) -> None:
    settings.EMBEDDED_WORKER = False
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    seen: dict[str, Any] = {}

    def run(app: WSGIApplication) -> None:
        seen["threads"], seen["worker"] = app.cfg.threads, app.cfg.worker_class_str

    monkeypatch.setattr(WSGIApplication, "run", run)
    call_command("serve", "--port", "8765")
    assert seen == {"threads": 1, "worker": "sync"}  # the default: one request per connection
    call_command("serve", "--port", "8765", "--threads", "4")
    assert seen == {"threads": 4, "worker": "gthread"}


def test_serve_forks_its_workers_with_no_database_connection_open(
    monkeypatch: pytest.MonkeyPatch, settings: Any, transactional_db: None
) -> None:
    # Two workers sharing the connection the start-up checks opened would read each other's answers.
    settings.EMBEDDED_WORKER = False
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    connection.ensure_connection()
    events: list[str] = []
    open_at_fork: list[bool] = []
    close_all = connections.close_all
    monkeypatch.setattr(connections, "close_all", lambda: (events.append("close"), close_all()))

    def run(app: WSGIApplication) -> None:
        events.append("fork")
        open_at_fork.extend(c.connection is not None for c in connections.all(initialized_only=True))

    monkeypatch.setattr(WSGIApplication, "run", run)
    call_command("serve", "--port", "8766")
    assert events[-2:] == ["close", "fork"]
    # SQLite never closes an in-memory test database; every other database is really closed.
    if not getattr(connection, "is_in_memory_db", lambda: False)():
        assert open_at_fork and not any(open_at_fork)


# --- collected static files (issue 12 item 5) ---------------------------------------------------


@pytest.fixture
def manifest_static_storage(settings: Any, tmp_path: Path) -> Path:
    """Production's kind of static storage (hashed names from a manifest), without compressing every file."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    return settings.STATIC_ROOT


def test_serving_needs_the_collected_static_files_and_an_up_to_date_manifest(manifest_static_storage: Path) -> None:
    assert [e.id for e in collected_static_files()] == ["yiwang.E001"]
    call_command("collectstatic", "--no-input", verbosity=0)
    assert collected_static_files() == []
    manifest_path = manifest_static_storage / "staticfiles.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["paths"]["yiwang/portal.css"]
    manifest_path.write_text(json.dumps(manifest))
    errors = collected_static_files()
    assert [e.id for e in errors] == ["yiwang.E002"] and "yiwang/portal.css" in errors[0].msg
    manifest_path.write_text("{not json")
    assert [e.id for e in collected_static_files()] == ["yiwang.E001"]


def test_development_serves_static_files_from_their_folders_without_collecting() -> None:
    assert collected_static_files() == []


def test_serve_refuses_to_start_without_collected_static_files(
    manifest_static_storage: Path, monkeypatch: pytest.MonkeyPatch, settings: Any, db: None
) -> None:
    settings.EMBEDDED_WORKER = False
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    started: list[bool] = []
    monkeypatch.setattr(WSGIApplication, "run", lambda app: started.append(True))
    with pytest.raises(SystemCheckError, match=r"yiwang\.E001"):
        call_command("serve", "--port", "8765")
    assert started == []


def test_a_server_worker_embeds_and_multiplies_on_one_thread_by_default(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    from yiwang.core import embeddings

    assert settings.WORKER_COMPUTE_THREADS == 1  # the default (YIWANG_WORKER_COMPUTE_THREADS unset)
    monkeypatch.setattr(embeddings, "_threads", None)
    with threadpool_limits(limits=None):  # restores this process's BLAS threads afterwards
        gunicorn_config.post_fork(server=None, worker=None)
        assert embeddings._threads == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    settings.WORKER_COMPUTE_THREADS = 2
    with threadpool_limits(limits=None):
        gunicorn_config.post_fork(server=None, worker=None)
        assert embeddings._threads == 2


def test_engine_threads_must_be_at_least_one() -> None:
    from yiwang.core import embeddings

    with pytest.raises(ValueError):
        embeddings.use_threads(0)


def test_malloc_arenas_can_be_capped_on_glibc() -> None:
    from yiwang.core import embeddings

    # Linux with glibc is what the project runs on; elsewhere the cap is reported as not applied.
    assert embeddings.cap_malloc_arenas(8) is True
