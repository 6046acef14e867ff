"""Public results of 好差评: periods, and satisfaction summed from the tallies.

Results are sums of :class:`~yiwang.feedback.models.Tally` rows over a
period, never counts of ratings, so they cost the same with ten thousand
ratings or ten million."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet, Sum
from django.http import Http404
from django.utils.translation import gettext as _

from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import calendar
from yiwang.core.problems import ServiceError
from yiwang.directory import selectors as directory_selectors
from yiwang.feedback.constants import RatingChannel
from yiwang.feedback.models import DepartmentDayTally, Tally

DEFAULT_PERIOD_DAYS = 30
# Long enough for a three-year comparison, short enough that nobody sums a decade by accident.
MAX_PERIOD_DAYS = 3 * 366

GROUPS = ("department", "item", "channel", "window")
_GROUP_FIELDS = {"department": "department_id", "item": "item_code", "channel": "channel", "window": "window_id"}
TALLY_SUMS = {
    **{f"level_{n}": Sum(f"level_{n}") for n in range(1, 6)},
    "rectification_due": Sum("rectification_due"),
    "rectified_on_time": Sum("rectified_on_time"),
}


class PeriodError(ServiceError):
    """A period the results cannot be asked for; ``message`` is for people."""


@dataclass(frozen=True)
class Period:
    """Days from ``start`` to ``end``, both included (local dates, as the tallies are kept)."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period_of(start: dt.date | None = None, end: dt.date | None = None, *, today: dt.date | None = None) -> Period:
    """The period asked for; by default the last 30 days up to today. :class:`PeriodError` when it makes no sense."""
    if end is None:
        end = today or calendar.today_local()
        if start is not None and start > end:
            end = start + dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start is None:
        start = end - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end:
        raise PeriodError("bad_period", _("开始日期不能晚于结束日期"))
    period = Period(start, end)
    if period.days > MAX_PERIOD_DAYS:
        raise PeriodError("bad_period", _("统计期间不能超过%(days)s天") % {"days": MAX_PERIOD_DAYS})
    return period


# --- satisfaction from the tallies ------------------------------------------------------------


@dataclass(frozen=True)
class Satisfaction:
    """Counted ratings of one group (a department, an item, a channel, a window, or everything) over a period."""

    key: str
    label: str
    # Counts of level 1 (非常不满意) to level 5 (非常满意).
    levels: tuple[int, int, int, int, int]
    rectification_due: int
    rectified_on_time: int

    @property
    def total(self) -> int:
        return sum(self.levels)

    @property
    def satisfied(self) -> int:
        """基本满意, 满意 and 非常满意."""
        return self.levels[2] + self.levels[3] + self.levels[4]

    @property
    def bad(self) -> int:
        """差评: 不满意 and 非常不满意."""
        return self.levels[0] + self.levels[1]

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.total if self.total else None

    @property
    def bad_share(self) -> float | None:
        return self.bad / self.total if self.total else None

    @property
    def average_score(self) -> float | None:
        if not self.total:
            return None
        return sum(level * count for level, count in enumerate(self.levels, start=1)) / self.total

    @property
    def rectified_on_time_share(self) -> float | None:
        """Bad ratings rectified on time among those whose rectification has come due (None when none has)."""
        return self.rectified_on_time / self.rectification_due if self.rectification_due else None


def department_ids(code: str) -> list[int]:
    """The department and every department below it (one query: the hierarchy is small)."""
    children: dict[int | None, list[int]] = {}
    root = None
    for pk, department_code, parent in directory_selectors.department_tree():
        children.setdefault(parent, []).append(pk)
        if department_code == code:
            root = pk
    if root is None:
        raise Http404(_("部门不存在"))
    found, stack = [root], [root]
    while stack:
        below = children.get(stack.pop(), [])
        found.extend(below)
        stack.extend(below)
    return found


def _tallies(period: Period, department_code: str | None, *, by_department: bool = False) -> QuerySet[Any]:
    # Sums by department read the per-department roll-up: one row per department and day.
    rows: QuerySet[Any] = DepartmentDayTally.objects.all() if by_department else Tally.objects.all()
    rows = rows.filter(day__gte=period.start, day__lte=period.end)
    if department_code:
        rows = rows.filter(department_id__in=department_ids(department_code))
    return rows


def _satisfaction(key: str, label: str, sums: dict[str, Any]) -> Satisfaction:
    levels = tuple(int(sums.get(f"level_{n}") or 0) for n in range(1, 6))
    return Satisfaction(
        key=key,
        label=label,
        levels=(levels[0], levels[1], levels[2], levels[3], levels[4]),
        rectification_due=int(sums.get("rectification_due") or 0),
        rectified_on_time=int(sums.get("rectified_on_time") or 0),
    )


def overall(period: Period, *, department_code: str | None = None) -> Satisfaction:
    """Every counted rating of the period (of one department and those below it, if given)."""
    sums = _tallies(period, department_code, by_department=True).aggregate(**TALLY_SUMS)
    return _satisfaction("", _("合计"), sums)


def total_of(rows: Iterable[Satisfaction], *, label: str | None = None) -> Satisfaction:
    """The total of the rows of one grouping: every counted rating is in exactly one group of any grouping,
    so this equals :func:`overall` over the same period without reading the tallies a second time."""
    levels = [0, 0, 0, 0, 0]
    due = on_time = 0
    for row in rows:
        levels = [a + b for a, b in zip(levels, row.levels, strict=True)]
        due += row.rectification_due
        on_time += row.rectified_on_time
    return Satisfaction(
        key="",
        label=label if label is not None else _("合计"),
        levels=(levels[0], levels[1], levels[2], levels[3], levels[4]),
        rectification_due=due,
        rectified_on_time=on_time,
    )


def _item_names(codes: Iterable[str]) -> dict[str, str]:
    return catalog_selectors.item_names(codes)


def _labels(group_by: str, keys: list[Any]) -> dict[Any, str]:
    if group_by == "item":
        names = _item_names(k for k in keys if k)
        return {k: names.get(k, k) if k else _("未指明事项") for k in keys}
    if group_by == "channel":
        return {k: str(RatingChannel(k).label) if k in RatingChannel.values else k for k in keys}
    windows = catalog_selectors.window_names(k for k in keys if k)
    return {k: windows.get(k, _("窗口%(id)s") % {"id": k}) if k else _("网上及其他渠道（非窗口）") for k in keys}


def results(period: Period, *, group_by: str = "department", department_code: str | None = None) -> list[Satisfaction]:
    """Satisfaction per department, item, channel or window over ``period``, summed from the tallies.

    Departments come in the catalogue's order (keyed by their code),
    channels in their fixed order, items and windows with the most ratings
    first. A department filter takes the departments below it too.
    """
    if group_by not in _GROUP_FIELDS:
        raise ValueError(f"unknown grouping {group_by!r}")
    field = _GROUP_FIELDS[group_by]
    tallies = _tallies(period, department_code, by_department=group_by == "department")
    grouped = list(tallies.values(field).annotate(**TALLY_SUMS).order_by(field))
    if group_by == "department":
        catalogue = directory_selectors.departments().values_list("pk", "code", "name")
        departments = {pk: (position, code, name) for position, (pk, code, name) in enumerate(catalogue)}
        placed = sorted(grouped, key=lambda sums: departments[sums[field]][0])
        return [_satisfaction(departments[s[field]][1], departments[s[field]][2], s) for s in placed]
    labels = _labels(group_by, [sums[field] for sums in grouped])
    rows = [_satisfaction(str(sums[field]), labels[sums[field]], sums) for sums in grouped]
    if group_by == "channel":
        position = {value: n for n, value in enumerate(RatingChannel.values)}
        return sorted(rows, key=lambda row: position.get(row.key, len(position)))
    return sorted(rows, key=lambda row: (-row.total, row.key))


@dataclass(frozen=True)
class DepartmentResults:
    """One department's drill-down: its total and its figures per item, channel and window."""

    code: str
    name: str
    period: Period
    total: Satisfaction
    items: list[Satisfaction]
    channels: list[Satisfaction]
    windows: list[Satisfaction]


def department_results(code: str, period: Period) -> DepartmentResults:
    """The drill-down of one department (with the departments below it); 404 when there is no such department."""
    department = directory_selectors.department_by_code(code)
    if department is None:
        raise Http404(_("部门不存在"))
    channels = results(period, group_by="channel", department_code=code)
    return DepartmentResults(
        code=department.code,
        name=department.name,
        period=period,
        total=total_of(channels),
        items=results(period, group_by="item", department_code=code),
        channels=channels,
        windows=results(period, group_by="window", department_code=code),
    )


def department_choices() -> list[tuple[str, str]]:
    """(code, name) of every department, in the catalogue's order, for the results page's filter."""
    return directory_selectors.department_names()
