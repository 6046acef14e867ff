"""Pages of the knowledge base (included from yiwang.urls under /knowledge/)."""

from django.urls import path

from . import staff_views, views

app_name = "knowledge"

urlpatterns = [
    path("<int:entry_id>/", views.entry, name="entry"),
    path("desk/", staff_views.desk, name="desk"),
    path("desk/new/", staff_views.new_entry, name="new"),
    path("desk/review/", staff_views.review, name="review"),
    path("desk/unanswered/", staff_views.unanswered, name="unanswered"),
    path("desk/unanswered/<int:question_id>/dismiss/", staff_views.dismiss, name="dismiss"),
    path("desk/<int:entry_id>/", staff_views.entry_detail, name="detail"),
    path("desk/<int:entry_id>/edit/", staff_views.edit_entry, name="edit"),
    path("desk/<int:entry_id>/actions/<slug:action>/", staff_views.act, name="act"),
]
