"""``yiwang serve``: the gunicorn configuration it starts with."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.core.management import call_command
from gunicorn.app.wsgiapp import WSGIApplication

from yiwang.core import gunicorn_config


def test_serve_gives_gunicorn_the_worker_warm_up_hook(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    settings.EMBEDDED_WORKER = False
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # serve hands its own argv to gunicorn
    seen: dict[str, Any] = {}

    def run(app: WSGIApplication) -> None:
        seen["post_worker_init"] = app.cfg.post_worker_init
        seen["bind"] = app.cfg.bind

    monkeypatch.setattr(WSGIApplication, "run", run)
    call_command("serve", "--port", "8765")
    assert seen["post_worker_init"] is gunicorn_config.post_worker_init
    assert seen["bind"] == ["127.0.0.1:8765"]
