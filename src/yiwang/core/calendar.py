"""The working-day calendar: which dates count towards a time limit (法定/承诺时限).

A date's status is decided, first match wins, by

1. an administrator's :class:`~yiwang.core.models.CalendarDay` row;
2. the maintained ``chinesecalendar`` library, for the years it knows;
3. the Monday–Friday rule.

A year is *known* when the library covers it or an administrator has
confirmed it (:class:`~yiwang.core.models.CalendarYear`). Deadlines that
count a day of an unknown year are computed on weekdays alone and flagged
``provisional``: the State Council publishes next year's holidays only late
in the year, and a case accepted in December may end after New Year.

Counting follows Chinese administrative practice (期限自受理次日起算): the
day of acceptance does not count, so ``add_working_days(start, 1)`` is the
first working day after ``start``.

Caching: each process keeps one table per year (library days merged with the
year's ``CalendarDay`` rows and its ``CalendarYear``, two queries), holding
running totals of working days, so a deadline is a bisection rather than a
walk. A save or delete of a ``CalendarDay``/``CalendarYear`` drops that year
in the process that made it, at once and again on commit (signals connected
in ``CoreConfig.ready``); until that transaction ends its own thread reads the
year afresh instead of caching rows that may yet be rolled back. Other processes (gunicorn workers, the background
worker) learn of the change when their copy expires, at most
:data:`CACHE_SECONDS` later: a TTL rather than a version check, because a
version check would cost a query on every call, and holiday entries are made
weeks before they matter.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from .models import CalendarDay, CalendarYear

SHANGHAI = ZoneInfo("Asia/Shanghai")
ONE_DAY = dt.timedelta(days=1)
# How long a process trusts its copy of a year before reading it again.
CACHE_SECONDS = 60.0
# Time limits run to a few hundred working days at most; the bound turns a
# mistyped figure (or a hostile one through an API) into an error, not a date decades away.
MAX_WORKING_DAYS = 3000


@dataclass(frozen=True)
class Deadline:
    """A computed due date; ``provisional`` when a counted day lies in a year nobody has confirmed yet."""

    date: dt.date
    provisional: bool


class DeadlineWarning(models.TextChoices):
    """The colour of a time limit on workbenches and lists (红黄绿灯)."""

    NONE = "none", _("无时限")
    GREEN = "green", pgettext_lazy("deadline", "正常")
    YELLOW = "yellow", _("即将到期")
    RED = "red", _("已超期")
    PAUSED = "paused", _("计时暂停")


@dataclass(frozen=True)
class DayEntry:
    """One date set explicitly by the library or an administrator (for listings such as ``yiwang calendar show``)."""

    date: dt.date
    is_working_day: bool
    name: str
    # "library" or "admin"
    source: str


# --- the library's data, read once ----------------------------------------------------------------


def _library_tables() -> tuple[range, dict[int, dict[dt.date, bool]], dict[dt.date, str]]:
    chinese_names = {holiday.value: holiday.chinese for holiday in chinese_calendar.Holiday}
    status: dict[int, dict[dt.date, bool]] = {}
    # The holiday's name; for an adjusted working day, the holiday it makes up for (named when listed).
    names: dict[dt.date, str] = {}
    for day, name in chinese_calendar.holidays.items():
        status.setdefault(day.year, {})[day] = False
        names[day] = chinese_names.get(name, name)
    # Adjusted working days after holidays: the library treats a date in both as working.
    for day, name in chinese_calendar.workdays.items():
        status.setdefault(day.year, {})[day] = True
        names[day] = chinese_names.get(name, name)
    years = range(min(status), max(status) + 1)
    return years, status, names


LIBRARY_YEARS, _LIBRARY_STATUS, _LIBRARY_NAMES = _library_tables()


# --- per-process cache ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Year:
    """One year's working days as running totals, so that counting is a subtraction or a bisection."""

    year: int
    known: bool
    # Proleptic ordinal of 1 January.
    first: int
    # counts[i]: working days among the year's first i days (len = days in year + 1).
    counts: list[int]
    expires: float

    @property
    def total(self) -> int:
        return self.counts[-1]

    def index(self, day: dt.date) -> int:
        return day.toordinal() - self.first

    def is_working(self, day: dt.date) -> bool:
        i = day.toordinal() - self.first
        return self.counts[i + 1] > self.counts[i]


_cache: dict[int, _Year] = {}
_lock = threading.Lock()
# Bumped by every invalidation, so that a table read before it is never stored after it.
_generation = 0


class _PendingChange:
    """The on-commit callback for one change; while Django still holds it, the transaction is open."""

    def __init__(self, year: int) -> None:
        self.year = year

    def __call__(self) -> None:
        # Other threads may have cached the old rows while the transaction was open.
        invalidate(self.year)


class _ThreadState(threading.local):
    def __init__(self) -> None:
        # Changes this thread made inside a transaction that is still open: its
        # own reads see the uncommitted rows, which must not reach the shared
        # cache in case the transaction rolls back (Django has no rollback hook).
        self.pending: list[_PendingChange] = []


_local = _ThreadState()


def _open_changes() -> list[_PendingChange]:
    """This thread's changes whose transaction has neither committed nor rolled back."""
    pending = _local.pending
    if not pending:
        return pending
    connection = transaction.get_connection()
    queued = getattr(connection, "run_on_commit", None)
    if queued is None:  # a Django without the queue: trust the atomic block alone
        still_open = pending if connection.in_atomic_block else []
    else:
        # Commit runs and empties the queue; a rollback (of the transaction or
        # of the savepoint around the change) drops the callback from it.
        still_open = [change for change in pending if any(change in entry for entry in queued)]
    _local.pending = still_open
    return still_open


def _clock() -> float:
    return time.monotonic()


def _load(year: int, now: float) -> _Year:
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise ValueError(gettext("期限超出可计算的日期范围"))
    explicit = dict(_LIBRARY_STATUS.get(year, {}))
    first_day, last_day = dt.date(year, 1, 1), dt.date(year, 12, 31)
    rows = CalendarDay.objects.filter(date__gte=first_day, date__lte=last_day)
    explicit.update(rows.values_list("date", "is_working_day"))
    known = year in LIBRARY_YEARS or CalendarYear.objects.filter(year=year).exists()
    counts = [0]
    for ordinal in range(first_day.toordinal(), last_day.toordinal() + 1):
        day = dt.date.fromordinal(ordinal)
        working = explicit.get(day)
        counts.append(counts[-1] + (day.weekday() < 5 if working is None else working))
    return _Year(year=year, known=known, first=first_day.toordinal(), counts=counts, expires=now + CACHE_SECONDS)


def _table(year: int) -> _Year:
    now = _clock()
    if _local.pending and any(change.year == year for change in _open_changes()):
        return _load(year, now)
    entry = _cache.get(year)
    if entry is not None and entry.expires > now:
        return entry
    generation = _generation
    entry = _load(year, now)
    with _lock:
        if generation == _generation:
            _cache[year] = entry
    return entry


def invalidate(year: int | None = None) -> None:
    """Forget this process's copy of ``year`` (of every year when None); the next call reads the database."""
    global _generation
    with _lock:
        _generation += 1
        if year is None:
            _cache.clear()
        else:
            _cache.pop(year, None)


def clear_cache() -> None:
    """Forget every cached year and this thread's record of uncommitted changes (tests, after bulk edits)."""
    invalidate()
    _local.pending = []


def calendar_changed(sender: Any, instance: CalendarDay | CalendarYear, **kwargs: Any) -> None:
    """Signal receiver for saves and deletes of calendar rows (connected in ``CoreConfig.ready``)."""
    year = instance.date.year if isinstance(instance, CalendarDay) else int(instance.year)
    invalidate(year)
    if transaction.get_connection().in_atomic_block:
        change = _PendingChange(year)
        _local.pending = [*_open_changes(), change]
        transaction.on_commit(change)


# --- queries --------------------------------------------------------------------------------------


def _check_date(value: Any, name: str) -> None:
    # A datetime is a date to isinstance, but never equals one as a dictionary key.
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise TypeError(gettext("%(name)s 必须是日期，不能是 %(type)s") % {"name": name, "type": type(value).__name__})


def is_working_day(day: dt.date) -> bool:
    """Whether ``day`` is a working day: an administrator's entry, else the library, else Monday–Friday."""
    _check_date(day, "day")
    return _table(day.year).is_working(day)


def is_known_year(year: int) -> bool:
    """Whether ``year``'s holidays are known: the library covers it, or an administrator confirmed it."""
    return _table(year).known


def today_local() -> dt.date:
    """Today's date in Beijing time, whatever time zone is active for the request."""
    return timezone.now().astimezone(SHANGHAI).date()


def add_working_days(start: dt.date, days: int) -> Deadline:
    """Return the ``days``-th working day after ``start`` (the day of acceptance does not count).

    ``days == 0`` means "the same day": ``start`` itself when it is a working
    day, otherwise the next working day (an application accepted online on a
    Sunday is due on Monday). ``days`` must lie in 0..MAX_WORKING_DAYS
    (ValueError otherwise). ``provisional`` is set when any day counted, or
    ``start`` itself for ``days == 0``, lies in an unknown year.
    """
    _check_date(start, "start")
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(gettext("工作日天数必须是整数"))
    if days < 0:
        raise ValueError(gettext("工作日天数不能为负数"))
    if days > MAX_WORKING_DAYS:
        raise ValueError(gettext("工作日天数不能超过 %(max)s") % {"max": MAX_WORKING_DAYS})
    table = _table(start.year)
    if days == 0:
        if table.is_working(start):
            return Deadline(start, not table.known)
        first_counted, days = start, 1
    elif start < dt.date.max:
        first_counted = start + ONE_DAY
    else:
        raise ValueError(gettext("期限超出可计算的日期范围"))
    # Working days of start's year up to and including start, plus the ones wanted.
    target = table.counts[table.index(start) + 1] + days
    provisional = table.year >= first_counted.year and not table.known
    while target > table.total:
        target -= table.total
        table = _table(table.year + 1)
        provisional = provisional or not table.known
    # The first day of the year at which the running total reaches the target.
    due = dt.date.fromordinal(table.first + bisect.bisect_left(table.counts, target) - 1)
    return Deadline(due, provisional)


def extend(deadline: dt.date, days: int) -> Deadline:
    """Move a deadline ``days`` working days later (延期), counted from the old deadline."""
    return add_working_days(deadline, days)


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Count the working days in (``start``, ``end``]: 0 when ``end`` is not after ``start``."""
    _check_date(start, "start")
    _check_date(end, "end")
    if end <= start:
        return 0
    table = _table(start.year)
    # Working days in (start, end] = running total at end minus running total at start.
    count = -table.counts[table.index(start) + 1]
    while table.year < end.year:
        count += table.total
        table = _table(table.year + 1)
    return count + table.counts[table.index(end) + 1]


def deadline_warning(due: dt.date | None, today: dt.date, *, paused: bool = False, warn_days: int = 2) -> str:
    """Colour a time limit: paused first, then none without a due date, red once ``today`` is past it,
    yellow while at most ``warn_days`` working days remain (due today counts as 0), green otherwise.
    """
    if warn_days < 0:
        raise ValueError(gettext("预警天数不能为负数"))
    if paused:
        return DeadlineWarning.PAUSED
    if due is None:
        return DeadlineWarning.NONE
    if today > due:
        return DeadlineWarning.RED
    if working_days_between(today, due) <= warn_days:
        return DeadlineWarning.YELLOW
    return DeadlineWarning.GREEN


# --- listings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearStatus:
    """Where a year's holidays come from: ``"library"``, ``"confirmed"`` (with ``source``) or ``"unknown"``."""

    year: int
    state: str
    source: str = ""


def year_status(year: int) -> YearStatus:
    """Say whether ``year`` is known and on what authority (reads the database, uncached)."""
    if year in LIBRARY_YEARS:
        return YearStatus(year, "library", f"chinesecalendar {chinese_calendar.__version__}")
    confirmed = CalendarYear.objects.filter(year=year).first()
    if confirmed is not None:
        return YearStatus(year, "confirmed", confirmed.source)
    return YearStatus(year, "unknown")


def year_entries(year: int) -> list[DayEntry]:
    """Every date of ``year`` that departs from Monday–Friday, plus every administrator's entry, in date order."""
    entries: dict[dt.date, DayEntry] = {}
    for day, working in _LIBRARY_STATUS.get(year, {}).items():
        if working != (day.weekday() < 5):
            name = _LIBRARY_NAMES.get(day, "")
            if working and name:
                name = gettext("%(holiday)s调休上班") % {"holiday": name}
            entries[day] = DayEntry(day, working, name, "library")
    rows = CalendarDay.objects.filter(date__gte=dt.date(year, 1, 1), date__lte=dt.date(year, 12, 31))
    for row in rows:
        entries[row.date] = DayEntry(row.date, row.is_working_day, row.name, "admin")
    return [entries[day] for day in sorted(entries)]
