"""Reads of 好差评 for pages, the API and other apps.

Public results are sums of :class:`~yiwang.feedback.models.Tally` rows over a
period, never counts of ratings, so they cost the same with ten thousand
ratings or ten million. Published comments show only the scrubbed
``public_comment`` of counted ratings, never the raw comment or who rated.
Objects a user may not reach are fetched so that missing and forbidden look
the same (404).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.catalog.models import Department, ServiceItem, Window
from yiwang.core import calendar
from yiwang.core.problems import ServiceError
from yiwang.feedback import policy, suspicion
from yiwang.feedback.constants import (
    BAD_LEVELS,
    AppealStatus,
    Dimension,
    Level,
    RatingChannel,
    RatingStatus,
)
from yiwang.feedback.models import Appeal, DepartmentDayTally, Invitation, Rating, Tally, Visit
from yiwang.feedback.services import RATEABLE_CASE_STATES
from yiwang.hotline.constants import WorkOrderState

DEFAULT_PERIOD_DAYS = 30
# Long enough for a three-year comparison, short enough that nobody sums a decade by accident.
MAX_PERIOD_DAYS = 3 * 366
# Published comments are listed back to the latest this many: a public page, not an archive to crawl.
COMMENTS_LIMIT = 1000
TOKEN_MAX = 64
GROUPS = ("department", "item", "channel", "window")
_GROUP_FIELDS = {"department": "department_id", "item": "item_code", "channel": "channel", "window": "window_id"}
TALLY_SUMS = {
    **{f"level_{n}": Sum(f"level_{n}") for n in range(1, 6)},
    "rectification_due": Sum("rectification_due"),
    "rectified_on_time": Sum("rectified_on_time"),
}


# --- periods --------------------------------------------------------------------------------


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


def _department_ids(code: str) -> list[int]:
    """The department and every department below it (one query: the hierarchy is small)."""
    children: dict[int | None, list[int]] = {}
    root = None
    for pk, department_code, parent in Department.objects.values_list("pk", "code", "parent_id"):
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
        rows = rows.filter(department_id__in=_department_ids(department_code))
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
    names: dict[str, str] = {}
    # Versions in order, so the latest version's name wins.
    for code, name in (
        ServiceItem.objects.filter(code__in=list(codes)).order_by("code", "version").values_list("code", "name")
    ):
        names[code] = name
    return names


def _labels(group_by: str, keys: list[Any]) -> dict[Any, str]:
    if group_by == "item":
        names = _item_names(k for k in keys if k)
        return {k: names.get(k, k) if k else _("未指明事项") for k in keys}
    if group_by == "channel":
        return {k: str(RatingChannel(k).label) if k in RatingChannel.values else k for k in keys}
    windows = dict(Window.objects.filter(pk__in=[k for k in keys if k]).values_list("pk", "name"))
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
        catalogue = Department.objects.order_by("sort_order", "code").values_list("pk", "code", "name")
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
    department = Department.objects.filter(code=code).first()
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
    return list(Department.objects.order_by("sort_order", "code").values_list("code", "name"))


# --- published comments -----------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedComment:
    """A rating's comment as the public sees it: scrubbed text, no rater, no raw comment."""

    day: dt.date
    level: int
    level_label: str
    department: str
    item_name: str
    channel: str
    channel_label: str
    comment: str


_PUBLIC_FIELDS = ("day", "level", "department__name", "item_name", "channel", "public_comment")


class PublishedComments(Sequence[PublishedComment]):
    """The latest published comments, newest first, at most :data:`COMMENTS_LIMIT` of them.

    Reads only the public columns (``values()``), so the raw comment and the
    rater never leave the database. Read it a page (a slice) at a time, as
    Django's ``Paginator`` does.
    """

    def __init__(self, rows: QuerySet[Rating]) -> None:
        self._rows = rows.order_by("-created_at", "-id").values(*_PUBLIC_FIELDS)

    def count(self) -> int:  # type: ignore[override]  # Paginator asks count() first, as of a QuerySet
        # Capped: counting every comment of ten million ratings would read them all.
        return self._rows[:COMMENTS_LIMIT].count()

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[PublishedComment]:
        return iter(self[0:COMMENTS_LIMIT])

    @overload
    def __getitem__(self, index: int) -> PublishedComment: ...

    @overload
    def __getitem__(self, index: slice) -> list[PublishedComment]: ...

    def __getitem__(self, index: int | slice) -> PublishedComment | list[PublishedComment]:
        if isinstance(index, int):
            if not 0 <= index < COMMENTS_LIMIT:
                raise IndexError(index)
            found = self[index : index + 1]
            if not found:
                raise IndexError(index)
            return found[0]
        if index.step not in (None, 1):
            raise ValueError("published comments are read in order")
        start = max(0, min(index.start or 0, COMMENTS_LIMIT))
        stop = max(start, min(COMMENTS_LIMIT if index.stop is None else index.stop, COMMENTS_LIMIT))
        return [_published(row) for row in self._rows[start:stop]]


def _published(row: dict[str, Any]) -> PublishedComment:
    channel = row["channel"]
    return PublishedComment(
        day=row["day"],
        level=row["level"],
        level_label=str(Level(row["level"]).label),
        department=row["department__name"],
        item_name=row["item_name"],
        channel=channel,
        channel_label=str(RatingChannel(channel).label) if channel in RatingChannel.values else channel,
        comment=row["public_comment"],
    )


def published_comments(*, department_code: str | None = None, period: Period | None = None) -> PublishedComments:
    """Counted ratings with a comment, newest first: suspect and excluded ones are never published."""
    rows = Rating.objects.filter(status=RatingStatus.COUNTED).exclude(public_comment="")
    if department_code:
        rows = rows.filter(department_id__in=_department_ids(department_code))
    if period is not None:
        rows = rows.filter(day__gte=period.start, day__lte=period.end)
    return PublishedComments(rows)


# --- a case's rating and its rectification ------------------------------------------------------


@dataclass(frozen=True)
class Rectification:
    """The rectification order (差评整改) of a bad real-name rating, as the rater follows it."""

    number: str
    state: str
    state_label: str
    reply: str
    due: dt.date | None
    # Closed and waiting for the rater to say whether the problem was resolved.
    awaiting_confirmation: bool


@dataclass(frozen=True)
class RatingSummary:
    """A rating as its rater sees it (their own comment included)."""

    id: int
    level: int
    level_label: str
    scores: list[tuple[str, str]]  # (dimension label, level label)
    comment: str
    channel_label: str
    created_at: dt.datetime
    real_name: bool
    excluded: bool
    resolved: bool | None


@dataclass(frozen=True)
class CaseRating:
    """What the case page and the rating page show about rating one case."""

    case_number: str
    # Handling has ended and nobody has rated the case yet.
    rateable: bool
    rating: RatingSummary | None
    rectification: Rectification | None
    # The viewer gave the rating and the rectification waits for their word.
    may_confirm: bool


def rating_of_case(case: Any) -> Rating | None:
    """The online rating (一事一评) of a case, with its rectification order."""
    return (
        Rating.objects.filter(case=case, visit__isnull=True)
        .select_related("rectification_order", "rectification_order__department")
        .first()
    )


def _summary(rating: Rating) -> RatingSummary:
    labels = dict(Dimension.choices)
    return RatingSummary(
        id=rating.pk,
        level=rating.level,
        level_label=str(Level(rating.level).label),
        scores=[
            (str(labels.get(name, name)), str(Level(value).label))
            for name, value in rating.scores.items()
            if value in Level.values
        ],
        comment=rating.comment,
        channel_label=rating.get_channel_display(),
        created_at=rating.created_at,
        real_name=rating.real_name,
        excluded=rating.status == RatingStatus.EXCLUDED,
        resolved=rating.resolved,
    )


def case_rating(user: Any, case: Any) -> CaseRating | None:
    """Rating state of ``case`` for its applicant side; None for anyone else (they see nothing of it)."""
    if not policy.may_rate_case(user, case):
        return None
    rating = rating_of_case(case)
    if rating is None:
        return CaseRating(case.number, case.state in RATEABLE_CASE_STATES, None, None, False)
    rectification = None
    order = rating.rectification_order
    if order is not None:
        awaiting = order.state == WorkOrderState.CLOSED
        rectification = Rectification(
            number=order.number,
            state=order.state,
            state_label=order.get_state_display(),
            reply=order.reply,
            due=order.due,
            awaiting_confirmation=awaiting,
        )
    may_confirm = rectification is not None and rectification.awaiting_confirmation and policy.is_rater(user, rating)
    return CaseRating(case.number, False, _summary(rating), rectification, may_confirm)


# --- counter visits and invitations ---------------------------------------------------------


def visit_to_rate(token: str) -> Visit | None:
    """The visit of a rating code that is still valid (rated or not); None for a wrong or expired code."""
    if not token or len(token) > TOKEN_MAX:
        return None
    return (
        Visit.objects.select_related("department", "window").filter(token=token, expires_at__gte=timezone.now()).first()
    )


def is_rated(visit: Visit) -> bool:
    """Whether the visit has its rating (一次一评), whatever its status."""
    return Rating.objects.filter(visit=visit).exists()


def clerk_visit(user: Any, token: str) -> Visit:
    """A visit the clerk opened, for showing its code again; 404 for anyone else's."""
    visit = None
    if token and len(token) <= TOKEN_MAX:
        visit = Visit.objects.select_related("department", "window").filter(token=token).first()
    if visit is None or not policy.may_see_visit(user, visit):
        raise Http404(_("评价码不存在"))
    return visit


def counter_windows(user: Any) -> QuerySet[Window]:
    """The windows of the clerk's departments (none for anyone else)."""
    scope = policy.clerk_departments(user)
    windows = Window.objects.select_related("department").order_by("department__sort_order", "department__code", "name")
    if scope is None:
        return windows
    return windows.filter(department__code__in=scope) if scope else windows.none()


@dataclass(frozen=True)
class VisitRow:
    """One of a clerk's recent visits, for the counter page."""

    token: str
    created_at: dt.datetime
    window: str
    item_name: str
    rated: bool
    expired: bool


def recent_visits(user: Any, *, limit: int = 10) -> list[VisitRow]:
    """The clerk's latest visits and whether each was rated (not how: the clerk never sees the rating)."""
    if not policy.is_counter_clerk(user):
        return []
    now = timezone.now()
    visits = (
        Visit.objects.filter(clerk=user)
        .select_related("window")
        .annotate(rated=Exists(Rating.objects.filter(visit=OuterRef("pk"))))
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        VisitRow(
            token=v.token,
            created_at=v.created_at,
            window=v.window.name if v.window is not None else "",
            item_name=v.item_name or v.item_code,
            rated=bool(getattr(v, "rated", False)),
            expired=v.expires_at < now,
        )
        for v in visits
    ]


def live_invitation(token: str) -> Invitation | None:
    """An unexpired invitation to rate a case; None otherwise (never saying which).

    A used one still opens: it leads its applicant to the rating they gave.
    """
    if not token or len(token) > TOKEN_MAX:
        return None
    return (
        Invitation.objects.select_related("case", "case__department", "case__application")
        .filter(token=token, case__isnull=False, expires_at__gte=timezone.now())
        .first()
    )


# --- supervisors and departments -------------------------------------------------------------


def _scoped(rows: QuerySet[Any], scope: set[str] | None, field: str) -> QuerySet[Any]:
    if scope is None:
        return rows
    return rows.filter(**{f"{field}__in": scope}) if scope else rows.none()


@dataclass(frozen=True)
class SuspectRow:
    """A suspect rating with the rules it tripped, in words."""

    rating: Rating
    reasons: list[str]


def suspect_ratings(user: Any) -> QuerySet[Rating]:
    """Ratings flagged by the rules and waiting for a supervisor, oldest first, within the supervisor's scope."""
    rows = Rating.objects.filter(status=RatingStatus.SUSPECT).select_related("department", "window")
    return _scoped(rows, policy.supervised_departments(user), "department__code").order_by("created_at", "id")


def suspect_rows(ratings: Iterable[Rating]) -> list[SuspectRow]:
    """The supervisor's rows: each rating with the descriptions of its flags."""
    return [SuspectRow(r, suspicion.describe(list(r.flags or []))) for r in ratings]


def pending_appeals(user: Any) -> QuerySet[Appeal]:
    """Appeals waiting for a supervisor's decision, oldest first, within the supervisor's scope."""
    rows = Appeal.objects.filter(status=AppealStatus.PENDING).select_related(
        "rating", "rating__department", "department", "filed_by"
    )
    return _scoped(rows, policy.supervised_departments(user), "rating__department__code").order_by("created_at", "id")


@dataclass(frozen=True)
class BadRatingRow:
    """A bad rating on the department's desk: its rectification order and its latest appeal."""

    rating: Rating
    order_number: str
    order_state_label: str
    order_due: dt.date | None
    latest_appeal: Appeal | None
    # No appeal pending and the rating still counts.
    may_appeal: bool


def department_bad_ratings(user: Any) -> QuerySet[Rating]:
    """Bad ratings of the departments ``user`` answers for (administrators and approvers), newest first."""
    rows = (
        Rating.objects.filter(level__in=sorted(BAD_LEVELS))
        .select_related("department", "rectification_order", "window")
        .prefetch_related(Prefetch("appeals", queryset=Appeal.objects.order_by("-created_at", "-id")))
    )
    return _scoped(rows, policy.appeal_departments(user), "department__code").order_by("-created_at", "-id")


def bad_rating_rows(ratings: Iterable[Rating]) -> list[BadRatingRow]:
    """The department's rows (appeals prefetched by :func:`department_bad_ratings`)."""
    rows = []
    for rating in ratings:
        appeals = list(rating.appeals.all())
        latest = appeals[0] if appeals else None
        order = rating.rectification_order
        pending = any(a.status == AppealStatus.PENDING for a in appeals)
        rows.append(
            BadRatingRow(
                rating=rating,
                order_number=order.number if order is not None else "",
                order_state_label=order.get_state_display() if order is not None else "",
                order_due=order.due if order is not None else None,
                latest_appeal=latest,
                may_appeal=not pending and rating.status != RatingStatus.EXCLUDED,
            )
        )
    return rows


def get_department_rating(user: Any, rating_id: int) -> Rating:
    """A bad rating of the user's departments; 404 otherwise."""
    rating = department_bad_ratings(user).filter(pk=rating_id).first()
    if rating is None:
        raise Http404(_("评价不存在"))
    return rating


def get_suspect(user: Any, rating_id: int) -> Rating:
    """A rating the supervisor oversees; 404 otherwise (its status is the service's business)."""
    rating = Rating.objects.select_related("department").filter(pk=rating_id).first()
    if rating is None or not policy.supervises(user, rating):
        raise Http404(_("评价不存在"))
    return rating


def get_appeal(user: Any, appeal_id: int) -> Appeal:
    """An appeal against a rating the supervisor oversees; 404 otherwise."""
    appeal = Appeal.objects.select_related("rating__department").filter(pk=appeal_id).first()
    if appeal is None or not policy.supervises(user, appeal.rating):
        raise Http404(_("申诉不存在"))
    return appeal
