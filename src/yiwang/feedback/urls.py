"""Pages of 好差评 (included from yiwang.urls): rating, public results, the staff desks."""

from django.urls import path

from . import staff_views, views

app_name = "feedback"

urlpatterns = [
    # Applicants and the public.
    path("ratings/case/<str:number>/", views.rate_case, name="rate_case"),
    path("ratings/case/<str:number>/resolution/", views.confirm_resolution, name="confirm_resolution"),
    path("ratings/v/<str:token>/", views.rate_visit, name="visit"),
    path("ratings/i/<str:token>/", views.invitation, name="invitation"),
    path("ratings/results/", views.results, name="results"),
    path("ratings/results/<slug:code>/", views.department_results, name="department_results"),
    path("ratings/comments/", views.comments, name="comments"),
    # Staff desks.
    path("ratings/counter/", staff_views.counter, name="counter"),
    path("ratings/counter/<str:token>/", staff_views.counter_visit, name="counter_visit"),
    path("ratings/phone/", staff_views.phone, name="phone"),
    path("ratings/supervision/", staff_views.supervision, name="supervision"),
    path("ratings/supervision/ratings/<int:rating_id>/", staff_views.review, name="review"),
    path("ratings/supervision/appeals/<int:appeal_id>/", staff_views.decide_appeal, name="decide_appeal"),
    path("ratings/department/", staff_views.department, name="department"),
    path("ratings/department/ratings/<int:rating_id>/appeal/", staff_views.file_appeal, name="file_appeal"),
]
