from django.urls import path

from . import health, views

app_name = "core"

urlpatterns = [
    # Load balancer probes, anonymous by design (yiwang.core.health): process up; database and broker answer.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Prometheus metrics for operators: a bearer token (the scraper) or staff with core.view_metrics.
    path("metrics", views.metrics, name="metrics"),
    path("messages/", views.message_list, name="messages"),
    path("messages/read-all/", views.message_read_all, name="messages_read_all"),
    path("messages/<int:message_id>/", views.message_open, name="message"),
]
