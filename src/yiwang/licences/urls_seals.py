"""Seals pages: the public trust list and verification page, the department administrators' seals page."""

from django.urls import path

from yiwang.licences import views_seals

app_name = "seals"

urlpatterns = [
    path("trust-list.json", views_seals.trust_list_json, name="trust_list"),
    path("trust-list.sig", views_seals.trust_list_signature, name="trust_list_signature"),
    path("verify/", views_seals.verify, name="verify"),
    path("seals/", views_seals.seal_desk, name="desk"),
    path("seals/<int:seal_id>/rotate/", views_seals.rotate, name="rotate"),
]
