"""Pages of the knowledge base (included from yiwang.urls under /knowledge/)."""

from django.urls import path

from . import views

app_name = "knowledge"

urlpatterns = [
    path("<int:entry_id>/", views.entry, name="entry"),
]
