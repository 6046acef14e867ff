"""The Celery entry point: ``celery -A yiwang.celery_app worker`` (and ``beat``), or ``yiwang celery-worker``.

Sets Django up, then hands Celery the application of
:mod:`yiwang.core.celery_engine`, whose tasks handle the outbox. Every
setting comes from the environment, as for ``yiwang serve``
(``YIWANG_WORKER_ENGINE=celery``, ``YIWANG_BROKER_URL``, ``DATABASE_URL``…;
docs/configuration.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")

import django

django.setup()

from yiwang.core.celery_engine import app  # noqa: E402

__all__ = ["app"]
