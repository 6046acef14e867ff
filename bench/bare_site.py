"""Bench-only Django settings and URLconf: Yiwang's settings, with a URLconf of one bare endpoint.

``bench_cases_http.py`` serves it with the same gunicorn command line as
``yiwang serve`` (DJANGO_SETTINGS_MODULE=bare_site, with bench/ on
PYTHONPATH), so the endpoint runs behind the same middleware, database
settings and worker set-up as the real API. ``POST /bench/bare-insert``
inserts one row and answers with a little JSON: the floor that a Django
endpoint which writes can reach here.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from yiwang.settings import *  # noqa: F403  (everything as in production but the URLconf)

ROOT_URLCONF = "bare_site"


@csrf_exempt
@require_POST
def bare_insert(request: HttpRequest) -> JsonResponse:
    from django.utils import timezone

    from yiwang.core.models import OutboxEvent

    now = timezone.now()
    # Marked processed: no outbox worker ever picks these rows up, so the insert is all the work there is.
    event = OutboxEvent.objects.create(topic="bench.bare", payload={"n": 1}, available_at=now, processed_at=now)
    return JsonResponse({"id": event.pk}, status=201)


urlpatterns = [path("bench/bare-insert", bare_insert)]
