"""Pages of the 12345 hotline and grid reports (included from yiwang.urls under /hotline/)."""

from django.urls import path

from . import desk_views, views

app_name = "hotline"

urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.file_order, name="file"),
    path("mine/", views.mine, name="mine"),
    path("mine/<str:number>/", views.mine_order, name="mine_order"),
    path("mine/<str:number>/confirm/", views.confirm, name="confirm"),
    path("orders/<str:number>/attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    path("track/", views.track, name="track"),
    path("grid/", views.grid_map, name="grid_map"),
    path("grid/report/", views.grid_report, name="grid_report"),
    path("desk/", desk_views.desk, name="desk"),
    # Before desk/<number>/, which would otherwise take "intake" for an order number.
    path("desk/intake/", desk_views.intake, name="intake"),
    path("desk/<str:number>/", desk_views.order_page, name="desk_order"),
    path("desk/<str:number>/actions/<slug:action>/", desk_views.act, name="act"),
    path("desk/<str:number>/caller/", desk_views.reveal_caller, name="reveal_caller"),
    path("supervision/", desk_views.supervision, name="supervision"),
    path("hot/", desk_views.hot_issues, name="hot_issues"),
]
