"""Pages of data sharing (included from yiwang.urls, namespace ``exchange``)."""

from django.urls import path

from . import batch_views, views

app_name = "exchange"

urlpatterns = [
    path("exchange/resources/", views.catalogue, name="catalogue"),
    path("exchange/desk/", views.desk, name="desk"),
    path("exchange/desk/batches/", batch_views.batches, name="batches"),
    path("exchange/consents/", views.consents, name="consents"),
    path("exchange/consents/<int:consent_id>/revoke/", views.consent_revoke, name="consent_revoke"),
    path(
        "exchange/applications/<int:application_id>/materials/<slug:material_key>/",
        views.material,
        name="material",
    ),
]
