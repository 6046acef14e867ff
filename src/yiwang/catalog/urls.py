from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("items/<str:code>/", views.item_guide, name="item"),
    path("departments/", views.department_list, name="departments"),
    path("departments/<slug:code>/", views.department_detail, name="department"),
    path("themes/<slug:code>/", views.theme_detail, name="theme"),
    path("bundles/", views.bundle_list, name="bundles"),
    path("bundles/<slug:code>/", views.bundle_detail, name="bundle"),
    path("preferences/elderly/", views.set_elderly_mode, name="elderly"),
]
