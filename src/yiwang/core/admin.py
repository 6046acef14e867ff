"""The audit log in the admin: readable by those given ``core.view_auditevent``, writable by nobody."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import services
from .models import AuditEvent, CalendarDay, CalendarYear


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("sequence", "occurred_at", "event", "actor_label", "on_behalf_of_label", "target", "ip")
    list_filter = ("event", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("target", "actor_label")
    date_hierarchy = "occurred_at"
    ordering = ("-sequence",)
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    # Counting a multi-million-row log for every page is slow and tells nobody anything.
    show_full_result_count = False
    actions = None

    # Superusers included: the append-only rule is not a permission to grant.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- working-day calendar ---
# Platform administrators enter the holidays of years the chinesecalendar
# library does not know yet. Every change goes through core.services, so it is
# checked and audited; core cannot consult the accounts policy, so access
# rests on superuser status or the model permission (what platform
# administrators have, see accounts.demo).


def _calendar_permission(request: HttpRequest, action: str, model: type[Model]) -> bool:
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    return bool(user.is_superuser or user.has_perm(f"core.{action}_{model._meta.model_name}"))


WEEKDAYS = (_("星期一"), _("星期二"), _("星期三"), _("星期四"), _("星期五"), _("星期六"), _("星期日"))


class _CalendarAdmin(admin.ModelAdmin):
    """Deny by default: each action needs superuser status or its own model permission."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _calendar_permission(request, "view", self.model) or self.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _calendar_permission(request, "add", self.model)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _calendar_permission(request, "change", self.model)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _calendar_permission(request, "delete", self.model)


class CalendarDayForm(forms.ModelForm):
    class Meta:
        model = CalendarDay
        fields = ("date", "is_working_day", "name")

    def clean_date(self) -> Any:
        day = self.cleaned_data.get("date")
        problem = services.calendar_day_problem(day)
        if problem:
            raise forms.ValidationError(problem)
        return day


@admin.register(CalendarDay)
class CalendarDayAdmin(_CalendarAdmin):
    form = CalendarDayForm
    list_display = ("date", "weekday", "is_working_day", "name", "updated_by", "updated_at")
    list_filter = ("is_working_day",)
    search_fields = ("name",)
    date_hierarchy = "date"

    @admin.display(description=_("星期"))
    def weekday(self, obj: CalendarDay) -> str:
        return str(WEEKDAYS[obj.date.weekday()])

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The date is the key: changing it would create a second entry, not move this one.
        return ("date",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: CalendarDay, form: Any, change: bool) -> None:
        saved = services.set_calendar_day(
            actor=request.user, day=obj.date, is_working_day=obj.is_working_day, name=obj.name
        )
        obj.updated_by, obj.updated_at = saved.updated_by, saved.updated_at

    def delete_model(self, request: HttpRequest, obj: CalendarDay) -> None:
        services.clear_calendar_day(actor=request.user, day=obj.date)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CalendarDay]) -> None:
        for day in queryset.values_list("date", flat=True):
            services.clear_calendar_day(actor=request.user, day=day)


class CalendarYearForm(forms.ModelForm):
    class Meta:
        model = CalendarYear
        fields = ("year", "source")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        year = cleaned.get("year", self.instance.year if self.instance.pk else None)
        source = cleaned.get("source")
        if year is not None and source is not None:
            problem = services.calendar_year_problem(int(year), source)
            if problem:
                raise forms.ValidationError(problem)
        return cleaned


@admin.register(CalendarYear)
class CalendarYearAdmin(_CalendarAdmin):
    form = CalendarYearForm
    list_display = ("year", "source", "entered_days", "confirmed_by", "confirmed_at")

    @admin.display(description=_("已录入日期数"))
    def entered_days(self, obj: CalendarYear) -> int:
        return CalendarDay.objects.filter(date__year=obj.year).count()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("year", "confirmed_by", "confirmed_at") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: CalendarYear, form: Any, change: bool) -> None:
        saved = services.confirm_calendar_year(actor=request.user, year=int(obj.year), source=obj.source)
        obj.confirmed_by, obj.confirmed_at = saved.confirmed_by, saved.confirmed_at

    def delete_model(self, request: HttpRequest, obj: CalendarYear) -> None:
        services.withdraw_calendar_year(actor=request.user, year=int(obj.year))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CalendarYear]) -> None:
        for year in queryset.values_list("year", flat=True):
            services.withdraw_calendar_year(actor=request.user, year=year)


# --- end of working-day calendar ---

# --- event outbox and notifications ---
from . import outbox_admin  # noqa: E402, F401  (registers the outbox and notification admins)

# --- end of event outbox and notifications ---
