"""Pages of 跨省通办 (included from yiwang.urls, namespace ``crossregion``)."""

from django.urls import path

from . import views

app_name = "crossregion"

urlpatterns = [
    path("cross-region/", views.items, name="items"),
    path("cross-region/items/<int:item_id>/", views.apply, name="apply"),
    path("cross-region/applications/", views.my_applications, name="my_applications"),
    path("cross-region/applications/<str:number>/", views.application, name="application"),
    path("cross-region/applications/<str:number>/receipt/", views.receipt, name="receipt"),
]
