"""State changes of the shared kernel. Each function is transactional and audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import calendar
from .audit import audit_target, record_event
from .models import CalendarDay, CalendarYear

# --- working-day calendar ---
# Administrators enter the holidays of years the chinesecalendar library does
# not know yet (and, rarely, correct a date it does). Reads are in
# yiwang.core.calendar. core cannot ask accounts who is a platform
# administrator, so these functions accept the Django permissions on the
# calendar models (superusers hold them all; nobody else has them unless granted).

CALENDAR_DAY_SET = "calendar.day_set"
CALENDAR_DAY_CLEARED = "calendar.day_cleared"
CALENDAR_YEAR_CONFIRMED = "calendar.year_confirmed"
CALENDAR_YEAR_WITHDRAWN = "calendar.year_withdrawn"
# Years an administrator may enter: wide enough for any real deadline, narrow enough to catch typos (20207).
CALENDAR_YEARS = range(2000, 2100)
_NAME_MAX = CalendarDay._meta.get_field("name").max_length or 64
_SOURCE_MAX = CalendarYear._meta.get_field("source").max_length or 200


class CalendarError(Exception):
    """A calendar rule was broken; ``code`` is stable, ``detail`` is for people (Chinese).

    ``problems`` lists every problem found when several entries were checked at once.
    """

    def __init__(self, code: str, detail: str, *, problems: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.problems = list(problems)


@dataclass(frozen=True)
class CalendarEntry:
    """One date of an administrator's entry or import: a holiday or an adjusted working day."""

    day: dt.date
    is_working_day: bool
    name: str = ""


def _require(actor: Any, *permissions: str) -> None:
    """Refuse unless ``actor`` holds one of ``permissions``."""
    # None is the console (yiwang calendar import): whoever runs it already controls the server.
    if actor is None:
        return
    allowed = getattr(actor, "is_active", False) and (
        getattr(actor, "is_superuser", False) or any(actor.has_perm(p) for p in permissions)
    )
    if not allowed:
        raise CalendarError("forbidden", _("只有平台管理员可以维护节假日与调休安排"))


def _label(actor: Any, actor_label: str | None) -> str | None:
    return actor_label or (None if actor is not None else "system:calendar")


def _year_bounds() -> dict[str, int]:
    return {"first": CALENDAR_YEARS.start, "last": CALENDAR_YEARS.stop - 1}


def _weekday_name(day: dt.date) -> str:
    return "一二三四五六日"[day.weekday()]


def calendar_day_problem(day: Any) -> str | None:
    """Say why ``day`` cannot be entered, or None when it can."""
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        return _("请填写日期（年-月-日）")
    if day.year not in CALENDAR_YEARS:
        return _("日期应在 %(first)s 至 %(last)s 年之间") % _year_bounds()
    return None


def _check_name(name: str) -> str:
    name = name.strip()
    if len(name) > _NAME_MAX:
        raise CalendarError("name_too_long", _("名称不能超过 %(max)s 个字") % {"max": _NAME_MAX})
    return name


def calendar_year_problem(year: int, source: str) -> str | None:
    """Say why ``year`` cannot be confirmed with ``source`` as its authority, or None when it can."""
    if year not in CALENDAR_YEARS:
        return _("年份应在 %(first)s 至 %(last)s 之间") % _year_bounds()
    if year in calendar.LIBRARY_YEARS:
        return _(
            "%(year)s 年的节假日安排已由日历库（chinesecalendar）提供，无需录入确认；"
            "如个别日期与国务院通知不符，请单独录入该日期"
        ) % {"year": year}
    if not source.strip():
        return _("请填写依据，例如国务院办公厅关于该年度部分节假日安排的通知")
    if len(source.strip()) > _SOURCE_MAX:
        return _("依据不能超过 %(max)s 个字") % {"max": _SOURCE_MAX}
    return None


def entry_problems(year: int, entries: Sequence[CalendarEntry]) -> list[tuple[int, str]]:
    """Check entries meant for ``year``; returns (index into ``entries``, Chinese message) for each problem."""
    problems: list[tuple[int, str]] = []
    seen: set[dt.date] = set()
    for index, entry in enumerate(entries):
        date = entry.day.isoformat()
        if entry.day.year != year:
            problems.append((index, _("日期 %(date)s 不在 %(year)s 年内") % {"date": date, "year": year}))
        if entry.day in seen:
            problems.append((index, _("日期 %(date)s 重复出现") % {"date": date}))
        seen.add(entry.day)
        if len(entry.name.strip()) > _NAME_MAX:
            problems.append((index, _("名称不能超过 %(max)s 个字") % {"max": _NAME_MAX}))
    return problems


@transaction.atomic
def set_calendar_day(
    *, actor: Any, day: dt.date, is_working_day: bool, name: str, actor_label: str | None = None
) -> CalendarDay:
    """Enter (or change) one date: a holiday (``is_working_day=False``) or an adjusted working day.

    The entry wins over the library and the Monday–Friday rule. ``actor``
    needs ``core.add_calendarday`` or ``core.change_calendarday`` (superusers
    have both); None is the console. Audited as ``calendar.day_set`` with the previous value.
    """
    _require(actor, "core.add_calendarday", "core.change_calendarday")
    problem = calendar_day_problem(day)
    if problem:
        raise CalendarError("bad_date", problem)
    name = _check_name(name)
    previous = CalendarDay.objects.select_for_update().filter(date=day).first()
    row = previous or CalendarDay(date=day)
    before = {"is_working_day": previous.is_working_day, "name": previous.name} if previous else None
    row.is_working_day = bool(is_working_day)
    row.name = name
    row.updated_by = actor if actor is not None and actor.is_authenticated else None
    row.save()
    record_event(
        CALENDAR_DAY_SET,
        actor=actor,
        actor_label=_label(actor, actor_label),
        target=audit_target(row),
        detail={
            "date": day.isoformat(),
            "weekday": _weekday_name(day),
            "is_working_day": row.is_working_day,
            "name": row.name,
            "previous": before,
        },
    )
    return row


@transaction.atomic
def clear_calendar_day(*, actor: Any, day: dt.date, actor_label: str | None = None) -> bool:
    """Remove the entry for ``day`` so the library (or Monday–Friday) decides again.

    Returns False, and records nothing, when there was no entry. ``actor``
    needs ``core.delete_calendarday``; audited as ``calendar.day_cleared``.
    """
    _require(actor, "core.delete_calendarday")
    row = CalendarDay.objects.select_for_update().filter(date=day).first()
    if row is None:
        return False
    target = audit_target(row)
    before = {"is_working_day": row.is_working_day, "name": row.name}
    row.delete()
    record_event(
        CALENDAR_DAY_CLEARED,
        actor=actor,
        actor_label=_label(actor, actor_label),
        target=target,
        detail={"date": day.isoformat(), "previous": before},
    )
    return True


@transaction.atomic
def confirm_calendar_year(*, actor: Any, year: int, source: str, actor_label: str | None = None) -> CalendarYear:
    """Declare ``year``'s holidays entered in full, on the authority of ``source`` (the State Council notice).

    From then on deadlines in ``year`` are no longer provisional. Refused for
    a year the library already knows and for an empty source. Confirming a
    confirmed year again replaces its source. ``actor`` needs
    ``core.add_calendaryear``; audited as ``calendar.year_confirmed``.
    """
    _require(actor, "core.add_calendaryear")
    problem = calendar_year_problem(year, source)
    if problem:
        raise CalendarError("bad_year", problem)
    source = source.strip()
    row = CalendarYear.objects.select_for_update().filter(year=year).first()
    previous_source = row.source if row else None
    row = row or CalendarYear(year=year)
    row.source = source
    row.confirmed_by = actor if actor is not None and actor.is_authenticated else None
    # auto_now_add fills it only on insert; a re-confirmation is a new confirmation.
    row.confirmed_at = timezone.now()
    row.save()
    entered = CalendarDay.objects.filter(date__gte=dt.date(year, 1, 1), date__lte=dt.date(year, 12, 31)).count()
    record_event(
        CALENDAR_YEAR_CONFIRMED,
        actor=actor,
        actor_label=_label(actor, actor_label),
        target=audit_target(row),
        detail={"year": year, "source": source, "entered_days": entered, "previous_source": previous_source},
    )
    return row


@transaction.atomic
def withdraw_calendar_year(*, actor: Any, year: int, actor_label: str | None = None) -> bool:
    """Withdraw a confirmation made by mistake: deadlines in ``year`` become provisional again.

    The year's entered dates stay. Returns False when the year was not
    confirmed. ``actor`` needs ``core.delete_calendaryear``; audited as
    ``calendar.year_withdrawn``.
    """
    _require(actor, "core.delete_calendaryear")
    row = CalendarYear.objects.select_for_update().filter(year=year).first()
    if row is None:
        return False
    target, source = audit_target(row), row.source
    row.delete()
    record_event(
        CALENDAR_YEAR_WITHDRAWN,
        actor=actor,
        actor_label=_label(actor, actor_label),
        target=target,
        detail={"year": year, "source": source},
    )
    return True


@transaction.atomic
def import_calendar_year(
    *, actor: Any, year: int, entries: Sequence[CalendarEntry], source: str, actor_label: str | None = None
) -> CalendarYear:
    """Replace ``year``'s entries with ``entries`` and confirm the year, all or nothing.

    Every entry is checked first (dates inside ``year``, no duplicates, name
    length) together with the year and source; on any problem a
    CalendarError lists them all and nothing is written. Entries of ``year``
    not in ``entries`` are cleared, so importing a corrected file fixes the
    year. Each date written or cleared is audited, then the confirmation.
    """
    _require(actor, "core.add_calendaryear")
    problems = [message for _index, message in entry_problems(year, entries)]
    year_problem = calendar_year_problem(year, source)
    if year_problem:
        problems.insert(0, year_problem)
    if problems:
        raise CalendarError("bad_import", _("导入内容有误，未写入任何数据"), problems=problems)
    wanted = {entry.day for entry in entries}
    existing = CalendarDay.objects.filter(date__gte=dt.date(year, 1, 1), date__lte=dt.date(year, 12, 31))
    for stale in existing.exclude(date__in=wanted).values_list("date", flat=True):
        clear_calendar_day(actor=actor, day=stale, actor_label=actor_label)
    for entry in entries:
        set_calendar_day(
            actor=actor, day=entry.day, is_working_day=entry.is_working_day, name=entry.name, actor_label=actor_label
        )
    return confirm_calendar_year(actor=actor, year=year, source=source, actor_label=actor_label)


# --- end of working-day calendar ---
