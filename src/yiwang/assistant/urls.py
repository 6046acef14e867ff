"""Pages of the assistant (included from yiwang.urls under /assistant/)."""

from django.urls import path

from . import views

app_name = "assistant"

urlpatterns = [
    path("", views.chat, name="chat"),
    path("ask/", views.ask, name="ask"),
    path("mine/", views.mine, name="mine"),
    path("c/<str:reference>/", views.conversation, name="conversation"),
    path("c/<str:reference>/handoff/", views.hand_off, name="hand_off"),
    path("c/<str:reference>/work-order/", views.work_order, name="work_order"),
    path("c/<str:reference>/consent/", views.consent, name="consent"),
    path("c/<str:reference>/delete/", views.delete, name="delete"),
    # The live-chat desk: 12345 operators.
    path("desk/", views.desk, name="desk"),
    path("desk/<str:reference>/", views.desk_conversation, name="desk_conversation"),
    path("desk/<str:reference>/claim/", views.claim, name="claim"),
    path("desk/<str:reference>/reply/", views.reply, name="reply"),
    path("desk/<str:reference>/close/", views.desk_close, name="desk_close"),
]
