"""The working-day calendar: counting, unknown years, administrators' entries, cache, admin and command."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import chinese_calendar
import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client

from tests.accounts.factories import make_citizen, make_staff
from yiwang.accounts.constants import Role
from yiwang.accounts.models import User
from yiwang.core import calendar, services
from yiwang.core.calendar import Deadline, DeadlineWarning, add_working_days, is_working_day, working_days_between
from yiwang.core.models import AuditEvent, CalendarDay, CalendarYear

pytestmark = pytest.mark.django_db

D = dt.date
# Weekend days the State Council made working days in 2026 (STACK-NOTES.md).
ADJUSTED_2026 = [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9), D(2026, 9, 20), D(2026, 10, 10)]
# An invented 2027 notice for the tests: the library knows nothing of 2027.
CSV_2027 = "date,is_working_day,name\n2027-01-01,0,元旦\n2027-02-06,1,春节调休上班\n2027-02-08,0,春节\n"


@pytest.fixture(autouse=True)
def _fresh_calendar_cache() -> Iterator[None]:
    # Test transactions roll back; a year cached in one test must not leak into the next.
    calendar.clear_cache()
    yield
    calendar.clear_cache()


@pytest.fixture
def platform_admin() -> User:
    # As in the demo data and the access matrix: platform administrators run the Django admin as superusers.
    user = make_staff(Role.PLATFORM_ADMIN)
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    user.refresh_from_db()
    return user


def _events(event: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=event).order_by("sequence"))


# --- the library's years --------------------------------------------------------------------------


def test_2026_adjusted_weekend_days_are_working_days() -> None:
    for day in ADJUSTED_2026:
        assert day.weekday() >= 5
        assert is_working_day(day), day
    assert not is_working_day(D(2026, 1, 3))  # a Saturday of the New Year holiday
    assert not is_working_day(D(2026, 1, 10))  # an ordinary Saturday
    assert is_working_day(D(2026, 1, 5))  # an ordinary Monday


def test_national_day_week_2026() -> None:
    assert all(not is_working_day(D(2026, 10, day)) for day in range(1, 8))
    # Accepted on Wednesday 30 September: the holiday week counts for nothing, Saturday 10 October counts.
    accepted = D(2026, 9, 30)
    assert add_working_days(accepted, 1) == Deadline(D(2026, 10, 8), provisional=False)
    assert add_working_days(accepted, 2).date == D(2026, 10, 9)
    assert add_working_days(accepted, 3).date == D(2026, 10, 10)
    assert add_working_days(accepted, 4).date == D(2026, 10, 12)
    assert working_days_between(accepted, D(2026, 10, 10)) == 3
    # The Sunday before Mid-Autumn is a working day: accepted on Friday 18 September, one day is Sunday 20.
    assert add_working_days(D(2026, 9, 18), 1).date == D(2026, 9, 20)


def test_spring_festival_2026() -> None:
    assert all(not is_working_day(D(2026, 2, day)) for day in range(15, 24))
    assert add_working_days(D(2026, 2, 13), 1).date == D(2026, 2, 14)  # Saturday before the festival works
    assert add_working_days(D(2026, 2, 14), 1).date == D(2026, 2, 24)  # the whole festival is skipped
    assert working_days_between(D(2026, 2, 13), D(2026, 2, 28)) == 6  # 14, 24, 25, 26, 27 and Saturday 28
    assert calendar.extend(D(2026, 2, 12), 3).date == D(2026, 2, 24)  # 13, Saturday 14, then 24


def test_every_library_date_agrees_with_the_library() -> None:
    day, last = D(calendar.LIBRARY_YEARS.start, 1, 1), D(calendar.LIBRARY_YEARS.stop - 1, 12, 31)
    while day <= last:
        assert is_working_day(day) == chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


def test_counting_agrees_with_a_day_by_day_count(platform_admin: User) -> None:
    services.set_calendar_day(actor=platform_admin, day=D(2026, 12, 31), is_working_day=False, name="测试")
    services.set_calendar_day(actor=platform_admin, day=D(2027, 1, 1), is_working_day=False, name="元旦")
    services.set_calendar_day(actor=platform_admin, day=D(2027, 1, 9), is_working_day=True, name="调休")
    # Inside the (never committed) test transaction these years are read afresh on every call; a commit
    # would let the cache take them again, which is what the thousands of reads below need.
    calendar.clear_cache()
    rng = random.Random(20261001)
    for _ in range(300):
        start = D(2025, 11, 1) + dt.timedelta(days=rng.randrange(500))
        days = rng.randrange(0, 80)
        day, counted, seen_unknown = start, 0, False
        if days == 0:
            seen_unknown = not calendar.is_known_year(day.year)
            while not is_working_day(day):
                day += dt.timedelta(days=1)
                seen_unknown = seen_unknown or not calendar.is_known_year(day.year)
        while counted < days:
            day += dt.timedelta(days=1)
            seen_unknown = seen_unknown or not calendar.is_known_year(day.year)
            counted += is_working_day(day)
        assert add_working_days(start, days) == Deadline(day, seen_unknown), (start, days)
        end = start + dt.timedelta(days=rng.randrange(-5, 400))
        brute = sum(is_working_day(start + dt.timedelta(days=i)) for i in range(1, (end - start).days + 1))
        assert working_days_between(start, end) == brute, (start, end)


def test_same_day_limits_and_counting_bounds() -> None:
    # days=0: the start itself when it is a working day, else the next working day.
    assert add_working_days(D(2026, 10, 9), 0) == Deadline(D(2026, 10, 9), provisional=False)
    assert add_working_days(D(2026, 10, 1), 0).date == D(2026, 10, 8)
    assert add_working_days(D(2026, 10, 10), 0).date == D(2026, 10, 10)
    assert working_days_between(D(2026, 10, 12), D(2026, 10, 12)) == 0
    assert working_days_between(D(2026, 10, 12), D(2026, 10, 1)) == 0
    assert working_days_between(D(2026, 10, 9), D(2026, 10, 12)) == 2


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="负数"):
        add_working_days(D(2026, 3, 2), -1)
    with pytest.raises(ValueError):
        add_working_days(D(2026, 3, 2), calendar.MAX_WORKING_DAYS + 1)
    with pytest.raises(TypeError):
        add_working_days(D(2026, 3, 2), 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        add_working_days(D(2026, 3, 2), True)
    with pytest.raises(TypeError):
        add_working_days(dt.datetime(2026, 3, 2, 9, 0, tzinfo=calendar.SHANGHAI), 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        is_working_day("2026-03-02")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        add_working_days(D(9999, 12, 30), 5)
    with pytest.raises(ValueError):
        add_working_days(dt.date.max, 1)
    with pytest.raises(ValueError):
        calendar.deadline_warning(D(2026, 3, 2), D(2026, 3, 2), warn_days=-1)


def test_today_is_beijing_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # 17:30 UTC on 31 December is already New Year's Day in Beijing.
    moment = dt.datetime(2026, 12, 31, 17, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(calendar.timezone, "now", lambda: moment)
    assert calendar.today_local() == D(2027, 1, 1)


# --- unknown years ---------------------------------------------------------------------------------


def test_deadline_into_an_unknown_year_is_provisional_and_counts_weekdays() -> None:
    assert calendar.is_known_year(2026) and not calendar.is_known_year(2027)
    # 12 weekdays left in December after Tuesday the 15th, then 1 January 2027 (a Friday) and on.
    deadline = add_working_days(D(2026, 12, 15), 20)
    assert deadline == Deadline(D(2027, 1, 12), provisional=True)
    assert add_working_days(D(2026, 12, 15), 12) == Deadline(D(2026, 12, 31), provisional=False)
    assert add_working_days(D(2027, 1, 2), 0) == Deadline(D(2027, 1, 4), provisional=True)


def test_entered_and_confirmed_year_is_no_longer_provisional(platform_admin: User) -> None:
    services.set_calendar_day(actor=platform_admin, day=D(2027, 1, 1), is_working_day=False, name="元旦")
    # Entered but not confirmed: the holiday counts, the deadline stays provisional.
    assert add_working_days(D(2026, 12, 15), 20) == Deadline(D(2027, 1, 13), provisional=True)
    services.confirm_calendar_year(actor=platform_admin, year=2027, source="国务院办公厅关于2027年部分节假日安排的通知")
    assert calendar.is_known_year(2027)
    assert add_working_days(D(2026, 12, 15), 20) == Deadline(D(2027, 1, 13), provisional=False)
    assert not is_working_day(D(2027, 1, 1))
    confirmed = _events(services.CALENDAR_YEAR_CONFIRMED)[-1]
    assert confirmed.actor == platform_admin
    assert confirmed.detail["year"] == 2027 and confirmed.detail["entered_days"] == 1


def test_confirmation_is_refused_for_library_years_and_empty_sources(platform_admin: User) -> None:
    with pytest.raises(services.CalendarError, match="已由日历库") as refused:
        services.confirm_calendar_year(actor=platform_admin, year=2026, source="某通知")
    assert refused.value.code == "bad_year"
    with pytest.raises(services.CalendarError, match="请填写依据"):
        services.confirm_calendar_year(actor=platform_admin, year=2027, source="   ")
    with pytest.raises(services.CalendarError):
        services.confirm_calendar_year(actor=platform_admin, year=20207, source="某通知")
    assert not CalendarYear.objects.exists()
    assert _events(services.CALENDAR_YEAR_CONFIRMED) == []


# --- administrators' entries -----------------------------------------------------------------------


def test_an_entry_on_a_library_date_wins(platform_admin: User) -> None:
    assert add_working_days(D(2026, 9, 30), 1).date == D(2026, 10, 8)
    services.set_calendar_day(actor=platform_admin, day=D(2026, 10, 8), is_working_day=False, name="测试：延长假期")
    assert not is_working_day(D(2026, 10, 8))
    assert add_working_days(D(2026, 9, 30), 1).date == D(2026, 10, 9)
    services.set_calendar_day(actor=platform_admin, day=D(2026, 10, 8), is_working_day=True, name="")
    changed = _events(services.CALENDAR_DAY_SET)[-1]
    assert changed.detail["previous"] == {"is_working_day": False, "name": "测试：延长假期"}
    assert services.clear_calendar_day(actor=platform_admin, day=D(2026, 10, 8))
    assert not services.clear_calendar_day(actor=platform_admin, day=D(2026, 10, 8))
    assert len(_events(services.CALENDAR_DAY_CLEARED)) == 1
    # Cleared: the library decides again.
    assert add_working_days(D(2026, 9, 30), 1).date == D(2026, 10, 8)


def test_only_administrators_change_the_calendar(platform_admin: User) -> None:
    outsiders = [make_citizen(), make_staff(Role.DEPARTMENT_ADMIN, "market"), make_staff(Role.SUPERVISOR)]
    for user in outsiders:
        with pytest.raises(services.CalendarError) as refused:
            services.set_calendar_day(actor=user, day=D(2027, 1, 1), is_working_day=False, name="元旦")
        assert refused.value.code == "forbidden"
        with pytest.raises(services.CalendarError):
            services.confirm_calendar_year(actor=user, year=2027, source="某通知")
    deactivated = platform_admin
    User.objects.filter(pk=deactivated.pk).update(is_active=False)
    deactivated.refresh_from_db()
    with pytest.raises(services.CalendarError):
        services.set_calendar_day(actor=deactivated, day=D(2027, 1, 1), is_working_day=False, name="元旦")
    assert not CalendarDay.objects.exists() and not CalendarYear.objects.exists()


def test_bad_entries_are_refused(platform_admin: User) -> None:
    with pytest.raises(services.CalendarError, match="64"):
        services.set_calendar_day(actor=platform_admin, day=D(2027, 1, 1), is_working_day=False, name="长" * 65)
    with pytest.raises(services.CalendarError):
        services.set_calendar_day(actor=platform_admin, day=D(1999, 1, 1), is_working_day=False, name="")
    with pytest.raises(services.CalendarError):
        services.set_calendar_day(
            actor=platform_admin,
            day=dt.datetime(2027, 1, 1, tzinfo=calendar.SHANGHAI),
            is_working_day=False,
            name="",
        )
    entries = [
        services.CalendarEntry(D(2027, 1, 1), False, "元旦"),
        services.CalendarEntry(D(2028, 1, 1), False, "明年"),
        services.CalendarEntry(D(2027, 1, 1), True, "重复"),
    ]
    with pytest.raises(services.CalendarError) as refused:
        services.import_calendar_year(actor=platform_admin, year=2027, entries=entries, source="通知")
    assert refused.value.code == "bad_import"
    assert refused.value.problems == ["日期 2028-01-01 不在 2027 年内", "日期 2027-01-01 重复出现"]
    assert not CalendarDay.objects.exists() and not CalendarYear.objects.exists()
    assert AuditEvent.objects.filter(event__startswith="calendar.").count() == 0


# --- cache -----------------------------------------------------------------------------------------


def test_no_query_per_day(django_assert_max_num_queries, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    # Cold: two queries per year (its entries and its confirmation), whatever the number of days.
    with django_assert_max_num_queries(4):
        add_working_days(D(2026, 12, 15), 20)
    with django_assert_num_queries(0):
        for _ in range(50):
            add_working_days(D(2026, 12, 15), 20)
            working_days_between(D(2026, 1, 1), D(2027, 12, 31))


def test_a_change_reaches_this_process_at_once_and_others_within_the_ttl(
    platform_admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert is_working_day(D(2026, 10, 8))  # cached now
    services.set_calendar_day(actor=platform_admin, day=D(2026, 10, 8), is_working_day=False, name="测试")
    assert not is_working_day(D(2026, 10, 8))
    # The test's transaction never commits; forget the uncommitted-change mark as a commit would.
    calendar.clear_cache()
    assert not is_working_day(D(2026, 10, 8))  # cached again
    # A change this process hears nothing about (another process's write, an UPDATE by hand) ...
    CalendarDay.objects.filter(date=D(2026, 10, 8)).update(is_working_day=True)
    assert not is_working_day(D(2026, 10, 8))
    # ... is seen once the cached year expires.
    later = calendar._clock() + calendar.CACHE_SECONDS + 1
    monkeypatch.setattr(calendar, "_clock", lambda: later)
    assert is_working_day(D(2026, 10, 8))


def test_a_rolled_back_change_leaves_no_trace_in_the_cache(platform_admin: User) -> None:
    assert is_working_day(D(2026, 10, 8))
    with pytest.raises(RuntimeError), transaction.atomic():
        services.set_calendar_day(actor=platform_admin, day=D(2026, 10, 8), is_working_day=False, name="回滚")
        assert not is_working_day(D(2026, 10, 8))  # the writer sees its own change
        raise RuntimeError("roll back")
    assert is_working_day(D(2026, 10, 8))


# --- warning colours -------------------------------------------------------------------------------


def test_deadline_warning_boundaries() -> None:
    warn = calendar.deadline_warning
    due = D(2026, 10, 12)  # a Monday; Saturday 10 October is a working day
    assert warn(due, D(2026, 10, 13)) == DeadlineWarning.RED
    assert warn(due, due) == DeadlineWarning.YELLOW  # due today: 0 working days left
    assert warn(due, D(2026, 10, 9)) == DeadlineWarning.YELLOW  # 10th and 12th left: 2
    assert warn(due, D(2026, 10, 8)) == DeadlineWarning.GREEN  # 3 left
    assert warn(due, D(2026, 10, 8), warn_days=3) == DeadlineWarning.YELLOW
    assert warn(due, D(2026, 9, 30)) == DeadlineWarning.GREEN  # the holiday week is not counted, but 4 remain
    assert warn(due, D(2026, 10, 13), paused=True) == DeadlineWarning.PAUSED
    assert warn(None, D(2026, 10, 13)) == DeadlineWarning.NONE
    assert warn(None, D(2026, 10, 13), paused=True) == DeadlineWarning.PAUSED
    assert warn(due, due) == "yellow" and DeadlineWarning.RED.label == "已超期"


# --- management command ----------------------------------------------------------------------------


def _csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "calendar.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_show_a_library_year(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("calendar", "show", "2026")
    out = capsys.readouterr().out
    assert "2026 年：已知" in out
    assert "2026-10-10 星期六 上班 国庆节调休上班（日历库）" in out
    assert "2026-10-07 星期三 休息 国庆节（日历库）" in out
    assert "2026-10-03" not in out  # a Saturday off is no departure from Monday–Friday


def test_import_a_year_then_show_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("calendar", "show", "2027")
    assert "2027 年：未知" in capsys.readouterr().out
    call_command("calendar", "import", "2027", "--csv", _csv(tmp_path, CSV_2027), "--source", "2027年节假日通知")
    assert "已导入 2027 年：3 个日期" in capsys.readouterr().out
    assert CalendarYear.objects.get(year=2027).source == "2027年节假日通知"
    assert not is_working_day(D(2027, 1, 1)) and is_working_day(D(2027, 2, 6))
    assert add_working_days(D(2026, 12, 31), 1) == Deadline(D(2027, 1, 4), provisional=False)
    events = _events(services.CALENDAR_DAY_SET)
    assert len(events) == 3 and events[0].actor_label.startswith("console:")
    call_command("calendar", "show", "2027")
    out = capsys.readouterr().out
    assert "已知（管理员录入，依据：2027年节假日通知）" in out
    assert "2027-02-06 星期六 上班 春节调休上班（管理员录入）" in out
    # Importing a corrected file replaces the year's entries.
    call_command("calendar", "import", "2027", "--csv", _csv(tmp_path, "2027-01-01,0,元旦\n"), "--source", "更正")
    assert list(CalendarDay.objects.values_list("date", flat=True)) == [D(2027, 1, 1)]
    assert is_working_day(D(2027, 2, 8))


def test_a_bad_file_writes_nothing(tmp_path: Path) -> None:
    bad = (
        "date,is_working_day,name\n"
        "2027-01-01,0,元旦\n"
        "2027-02-30,0,不存在的日期\n"
        "2028-01-01,0,明年\n"
        "2027-01-01,1,重复\n"
        "2027-03-01,maybe,\n"
        "2027-03-02\n"
    )
    with pytest.raises(CommandError) as failed:
        call_command("calendar", "import", "2027", "--csv", _csv(tmp_path, bad), "--source", "通知")
    message = str(failed.value)
    assert "未写入任何数据" in message
    for line in ("第 3 行", "第 4 行", "第 5 行", "第 6 行", "第 7 行"):
        assert line in message
    assert "第 2 行" not in message
    assert not CalendarDay.objects.exists() and not CalendarYear.objects.exists()
    assert AuditEvent.objects.filter(event__startswith="calendar.").count() == 0
    assert is_working_day(D(2027, 1, 1))


def test_import_refuses_library_years_missing_files_and_empty_sources(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="已由日历库"):
        call_command("calendar", "import", "2026", "--csv", _csv(tmp_path, "2026-10-09,0,x\n"), "--source", "通知")
    with pytest.raises(CommandError, match="请填写依据"):
        call_command("calendar", "import", "2027", "--csv", _csv(tmp_path, CSV_2027), "--source", " ")
    with pytest.raises(CommandError, match="无法读取"):
        call_command("calendar", "import", "2027", "--csv", str(tmp_path / "missing.csv"), "--source", "通知")
    with pytest.raises(CommandError, match="没有任何日期"):
        header_only = _csv(tmp_path, "date,is_working_day,name\n")
        call_command("calendar", "import", "2027", "--csv", header_only, "--source", "x")
    assert not CalendarDay.objects.exists() and not CalendarYear.objects.exists()


# --- admin -----------------------------------------------------------------------------------------


def test_platform_admin_enters_a_holiday_in_the_admin(platform_admin: User) -> None:
    client = Client()
    client.force_login(platform_admin)
    assert add_working_days(D(2026, 12, 31), 1).date == D(2027, 1, 1)
    assert client.get("/admin/core/calendarday/").status_code == 200
    response = client.post("/admin/core/calendarday/add/", {"date": "2027-01-01", "name": "元旦", "_save": "1"})
    assert response.status_code == 302
    assert CalendarDay.objects.get(date=D(2027, 1, 1)).is_working_day is False
    assert _events(services.CALENDAR_DAY_SET)[-1].actor == platform_admin
    # The cache of this process sees the change at once.
    assert add_working_days(D(2026, 12, 31), 1) == Deadline(D(2027, 1, 4), provisional=True)
    response = client.post("/admin/core/calendaryear/add/", {"year": "2027", "source": "通知", "_save": "1"})
    assert response.status_code == 302
    assert add_working_days(D(2026, 12, 31), 1) == Deadline(D(2027, 1, 4), provisional=False)
    assert _events(services.CALENDAR_YEAR_CONFIRMED)[-1].actor == platform_admin
    listing = client.get("/admin/core/calendaryear/")
    assert listing.status_code == 200 and "通知" in listing.content.decode()
    response = client.post("/admin/core/calendarday/2027-01-01/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not CalendarDay.objects.exists()
    assert _events(services.CALENDAR_DAY_CLEARED)[-1].actor == platform_admin


def test_admin_refuses_a_library_year_with_a_message(platform_admin: User) -> None:
    client = Client()
    client.force_login(platform_admin)
    response = client.post("/admin/core/calendaryear/add/", {"year": "2026", "source": "通知", "_save": "1"})
    assert response.status_code == 200
    assert "已由日历库" in response.content.decode()
    assert not CalendarYear.objects.exists()


def test_admin_is_refused_to_everyone_else() -> None:
    staff_without_permission = make_staff(Role.DEPARTMENT_ADMIN, "market")
    User.objects.filter(pk=staff_without_permission.pk).update(is_staff=True)
    staff_without_permission.refresh_from_db()
    for path in ("/admin/core/calendarday/", "/admin/core/calendarday/add/", "/admin/core/calendaryear/add/"):
        anonymous = Client().get(path)
        assert anonymous.status_code == 302
        citizen = Client()
        citizen.force_login(make_citizen())
        assert citizen.get(path).status_code == 302  # not staff: sent to log in
        staff = Client()
        staff.force_login(staff_without_permission)
        assert staff.get(path).status_code == 403
    staff = Client()
    staff.force_login(staff_without_permission)
    response = staff.post("/admin/core/calendarday/add/", {"date": "2027-01-01", "name": "元旦", "_save": "1"})
    assert response.status_code == 403
    assert not CalendarDay.objects.exists()
