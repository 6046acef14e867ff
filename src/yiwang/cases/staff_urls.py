"""Staff pages of case handling: the workbench, a case for staff, counter intake (included from yiwang.urls)."""

from django.urls import path

from . import staff_views

app_name = "workbench"

urlpatterns = [
    path("workbench/", staff_views.workbench, name="home"),
    path("workbench/cases/<str:number>/", staff_views.case_page, name="case"),
    path("workbench/cases/<str:number>/actions/<slug:action>/", staff_views.act, name="act"),
    path("workbench/cases/<str:number>/reveal/", staff_views.reveal_applicant, name="reveal"),
    path("workbench/cases/<str:number>/files/<int:file_id>/", staff_views.case_file, name="file"),
    path("counter/", staff_views.counter, name="counter"),
    path("counter/register/", staff_views.counter_register, name="counter_register"),
    path("counter/start/", staff_views.counter_start, name="counter_start"),
    path("counter/finish/", staff_views.counter_finish, name="counter_finish"),
]
