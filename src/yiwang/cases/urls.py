"""Applicant pages of case handling (included from yiwang.urls)."""

from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("apply/item/<str:code>/", views.apply_item, name="apply_item"),
    path("apply/bundle/<slug:code>/", views.apply_bundle, name="apply_bundle"),
    path("applications/<int:application_id>/", views.application_page, name="application"),
    path("applications/<int:application_id>/files/", views.application_upload, name="application_upload"),
    path(
        "applications/<int:application_id>/files/<int:file_id>/remove/",
        views.application_remove_file,
        name="application_remove_file",
    ),
    path("applications/<int:application_id>/submit/", views.application_submit, name="application_submit"),
    path("applications/<int:application_id>/submitted/", views.application_submitted, name="application_submitted"),
    path("applications/<int:application_id>/abandon/", views.application_abandon, name="application_abandon"),
    path("cases/", views.my_cases, name="my_cases"),
    # Before cases/<number>/, which would otherwise take "lookup" for a case number.
    path("cases/lookup/", views.lookup, name="lookup"),
    path("cases/bundles/<str:number>/", views.bundle_page, name="bundle"),
    path("cases/<str:number>/", views.case_page, name="case"),
    path("cases/<str:number>/resubmit/", views.case_resubmit, name="case_resubmit"),
    path("cases/<str:number>/withdraw/", views.case_withdraw, name="case_withdraw"),
    path("cases/<str:number>/print/<slug:kind>/", views.case_print, name="case_print"),
]
