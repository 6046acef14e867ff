from django.urls import path

from . import views

app_name = "exchange_nodes"

urlpatterns = [
    path("messages", views.messages, name="messages"),
]
