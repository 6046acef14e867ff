"""URLs for the observability tests: the real ones, plus views that log and publish an outbox event."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from yiwang.core import outbox
from yiwang.urls import urlpatterns as site_urlpatterns

TOPIC = "test.observed"
logger = logging.getLogger("yiwang.tests.observability")


def say(request: HttpRequest, person_id: int) -> HttpResponse:
    logger.info("handling person %s", person_id)
    return HttpResponse("ok")


def publish(request: HttpRequest) -> HttpResponse:
    with transaction.atomic():
        event = outbox.publish(TOPIC, {"n": 1})
    return JsonResponse({"event": event.pk})


urlpatterns = [
    path("observed/<int:person_id>/", say, name="observed"),
    path("observed/publish/", publish, name="observed_publish"),
    path("", include(site_urlpatterns)),
]
