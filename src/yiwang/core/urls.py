from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("messages/", views.message_list, name="messages"),
    path("messages/read-all/", views.message_read_all, name="messages_read_all"),
    path("messages/<int:message_id>/", views.message_open, name="message"),
]
