"""Reads of 好差评: results summed from the tallies agree with counting the ratings, periods, published comments
(scrubbed, counted ones only, capped), and what a case's applicant side sees of its rating."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from tests.accounts.factories import make_citizen, make_staff
from tests.feedback.test_services import _materials_in_tmp, closed_case  # noqa: F401  (autouse fixture)
from tests.feedback.test_views import handle_rectification
from yiwang.accounts.constants import Role
from yiwang.catalog.models import Window
from yiwang.core import outbox
from yiwang.directory.models import Department
from yiwang.feedback import selectors, services
from yiwang.feedback.constants import RatingChannel, RatingStatus
from yiwang.feedback.models import DepartmentDayTally, Rating, Tally
from yiwang.feedback.selectors import comments as comment_selectors
from yiwang.feedback.selectors.results import GROUPS, MAX_PERIOD_DAYS

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 15)


def windows(department: str) -> list[Window]:
    return list(Window.objects.filter(department__code=department).order_by("pk"))


def rate_visit(clerk: Any, window: Window, level: int, *, channel: str = RatingChannel.QR, device: str = "") -> Rating:
    visit = services.open_visit(clerk=clerk, window_id=window.pk, item_code="ITEM-" + window.department.code)
    origin = services.Origin(channel, device=device or f"device-{visit.pk}")
    return services.rate_visit(token=visit.token, user=None, level=level, scores={}, comment="", origin=origin)


@pytest.fixture
def ratings() -> list[Rating]:
    """A small, varied set through the services: online, phone and counter ratings in two departments, one excluded."""
    made = []
    applicant = make_citizen("统计评价人")
    for level, channel in [(5, RatingChannel.WEB), (1, RatingChannel.MOBILE), (3, RatingChannel.KIOSK)]:
        case = closed_case(applicant)
        made.append(
            services.rate_case(
                user=applicant, number=case.number, level=level, scores={}, comment="", origin=services.Origin(channel)
            )
        )
    phoned = closed_case(applicant)
    made.append(
        services.rate_for_caller(
            operator=make_staff(Role.HOTLINE_OPERATOR),
            number=phoned.number,
            code=phoned.verification_code,
            level=2,
            scores={},
            comment="",
        )
    )
    market_clerk = make_staff(Role.COUNTER_CLERK, "market")
    police_clerk = make_staff(Role.COUNTER_CLERK, "police")
    traffic_clerk = make_staff(Role.COUNTER_CLERK, "traffic_police")
    for n, level in enumerate([5, 5, 4, 2, 1]):
        made.append(rate_visit(market_clerk, windows("market")[n % 2], level, channel=RatingChannel.PAD))
    for level in [4, 4, 3]:
        made.append(rate_visit(police_clerk, windows("police")[0], level))
    made.append(rate_visit(traffic_clerk, windows("traffic_police")[0], 1, channel=RatingChannel.KIOSK))
    # The market's appeal against one bad rating is upheld: the rating leaves the tallies.
    excluded = made[7]
    appeal = services.file_appeal(
        staff=make_staff(Role.DEPARTMENT_ADMIN, "market"), rating_id=excluded.pk, reason="恶意"
    )
    services.decide_appeal(supervisor=make_staff(Role.SUPERVISOR), appeal_id=appeal.pk, uphold=True, reason="查实")
    # One rectification closes on time; the worker counts it.
    handle_rectification(made[1])
    while outbox.process_batch("test"):
        pass
    return made


def counted_by(key: Any) -> dict[Any, tuple[int, ...]]:
    """Counting the ratings themselves (the slow way the results must agree with)."""
    counts: dict[Any, Counter[int]] = defaultdict(Counter)
    for rating in Rating.objects.exclude(status=RatingStatus.EXCLUDED).select_related("department"):
        counts[key(rating)][rating.level] += 1
    return {k: tuple(c[level] for level in range(1, 6)) for k, c in counts.items()}


def test_results_from_the_tallies_equal_counting_the_ratings(ratings: list[Rating]) -> None:
    period = selectors.period_of()
    keys = {
        "department": lambda r: r.department.code,
        "item": lambda r: r.item_code,
        "channel": lambda r: r.channel,
        "window": lambda r: str(r.window_id or 0),
    }
    total = selectors.overall(period)
    for group_by, key in keys.items():
        rows = selectors.results(period, group_by=group_by)
        assert {row.key: row.levels for row in rows} == counted_by(key), group_by
        # Every counted rating is in one group of each grouping: the rows add up to the total.
        assert selectors.total_of(rows) == total, group_by
    assert total.total == Rating.objects.exclude(status=RatingStatus.EXCLUDED).count() == len(ratings) - 1
    # Two rectifications are open, one has closed: only that one has come due so far.
    assert Rating.objects.filter(rectification_order__isnull=False).count() == 2
    assert total.rectification_due == Rating.objects.filter(rectified_on_time__isnull=False).count() == 1
    assert total.rectified_on_time == Rating.objects.filter(rectified_on_time=True).count() == 1
    market = selectors.overall(period, department_code="market")
    assert market.levels == counted_by(keys["department"])["market"]
    # A department takes the departments below it: 市公安局 includes 交警支队.
    police = selectors.overall(period, department_code="police")
    assert police.levels == (1, 0, 1, 2, 0)
    assert selectors.overall(period, department_code="traffic_police").levels == (1, 0, 0, 0, 0)


def test_labels_and_order_of_the_groups(ratings: list[Rating]) -> None:
    period = selectors.period_of()
    departments = selectors.results(period)
    assert [row.key for row in departments] == ["police", "traffic_police", "market"]  # the catalogue's order
    assert departments[0].label == "示范市公安局"
    channels = [row.key for row in selectors.results(period, group_by="channel")]
    assert channels == [c for c in RatingChannel.values if c in channels]
    items = selectors.results(period, group_by="item", department_code="market")
    assert [row.total for row in items] == sorted((row.total for row in items), reverse=True)
    assert {row.label for row in items} >= {"食品经营许可", "ITEM-market"}  # unknown codes keep their code
    window_rows = {row.key: row.label for row in selectors.results(period, group_by="window")}
    assert window_rows["0"] == "网上及其他渠道（非窗口）"
    assert window_rows[str(windows("police")[0].pk)] == windows("police")[0].name
    with pytest.raises(ValueError):
        selectors.results(period, group_by="rater")
    with pytest.raises(Http404):
        selectors.results(period, department_code="nowhere")


def test_results_read_the_tallies_never_the_ratings(ratings: list[Rating]) -> None:
    period = selectors.period_of()
    sent = []
    for group_by in GROUPS:
        with CaptureQueriesContext(connection) as queries:
            selectors.results(period, group_by=group_by, department_code="market")
        # The department hierarchy, the sums, the labels: the same few queries however many rows there are.
        assert len(queries.captured_queries) <= 3, group_by
        sent += [q["sql"] for q in queries.captured_queries]
    with CaptureQueriesContext(connection) as queries:
        selectors.department_results("market", period)
    sent += [q["sql"] for q in queries.captured_queries]
    assert any("feedback_tally" in sql for sql in sent)
    assert not [sql for sql in sent if "feedback_rating" in sql]


def test_the_period_selects_tally_days_and_the_figures_follow_the_definitions() -> None:
    market = Department.objects.get(code="market")
    rows = [
        (TODAY - dt.timedelta(days=40), (9, 0, 0, 0, 0), 0, 0),  # before the default period
        (TODAY - dt.timedelta(days=29), (1, 1, 2, 3, 3), 2, 1),  # its first day
        (TODAY, (0, 0, 0, 0, 10), 0, 0),  # its last day
        (TODAY + dt.timedelta(days=1), (0, 0, 0, 0, 7), 0, 0),  # after it
    ]
    # Written as the services keep them: each detailed row and its department's day.
    for model, extra in ((Tally, {"item_code": "X", "channel": "web", "mode": "online"}), (DepartmentDayTally, {})):
        model.objects.bulk_create(
            model(
                day=day,
                department=market,
                **extra,
                level_1=levels[0],
                level_2=levels[1],
                level_3=levels[2],
                level_4=levels[3],
                level_5=levels[4],
                rectification_due=due,
                rectified_on_time=on_time,
            )
            for day, levels, due, on_time in rows
        )
    period = selectors.period_of(today=TODAY)
    assert (period.start, period.end, period.days) == (TODAY - dt.timedelta(days=29), TODAY, 30)
    total = selectors.overall(period)
    assert total.levels == (1, 1, 2, 3, 13) and total.total == 20
    assert total.satisfaction_rate == 18 / 20 and total.bad_share == 2 / 20
    assert total.average_score == (1 + 2 + 6 + 12 + 65) / 20
    assert total.rectified_on_time_share == 0.5
    empty = selectors.overall(selectors.period_of(dt.date(2020, 1, 1), dt.date(2020, 1, 31)))
    assert empty.total == 0 and empty.satisfaction_rate is None and empty.average_score is None
    assert empty.rectified_on_time_share is None


def test_periods_default_and_refuse_what_makes_no_sense() -> None:
    assert selectors.period_of(dt.date(2026, 1, 1), today=TODAY) == selectors.Period(dt.date(2026, 1, 1), TODAY)
    assert selectors.period_of(None, dt.date(2026, 3, 31)).start == dt.date(2026, 3, 2)
    # A start after today without an end: the 30 days from the start.
    assert selectors.period_of(dt.date(2026, 7, 1), today=TODAY).end == dt.date(2026, 7, 30)
    with pytest.raises(selectors.PeriodError, match="开始日期不能晚于结束日期"):
        selectors.period_of(dt.date(2026, 2, 1), dt.date(2026, 1, 1))
    with pytest.raises(selectors.PeriodError, match="不能超过"):
        selectors.period_of(dt.date(2020, 1, 1), dt.date(2026, 1, 1))
    longest = selectors.period_of(TODAY - dt.timedelta(days=MAX_PERIOD_DAYS - 1), TODAY)
    assert longest.days == MAX_PERIOD_DAYS


def test_published_comments_are_counted_ratings_scrubbed_newest_first(monkeypatch: Any) -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    comments = [
        "第一条 电话13800138000",
        "第二条 证件110101199003071234",
        "第三条 邮箱me@example.cn",
        "第四条 被剔除",
        "第五条 待核查",
    ]
    made = []
    for text in comments:
        visit = services.open_visit(clerk=clerk, window_id=windows("market")[0].pk)
        made.append(
            services.rate_visit(
                token=visit.token,
                # One person each: five from one account in minutes would be a burst, all of it flagged.
                user=make_citizen("评论人"),
                level=4,
                scores={},
                comment=text,
                origin=services.Origin(RatingChannel.QR, device=text),
            )
        )
    Rating.objects.filter(pk__in=[made[3].pk, made[4].pk]).update(status=RatingStatus.SUSPECT)
    services.review_suspect(supervisor=make_staff(Role.SUPERVISOR), rating_id=made[3].pk, exclude=True, note="x")
    listed = selectors.published_comments()
    assert listed.count() == len(listed) == 3
    shown = listed[0:10]
    assert [c.comment.split()[0] for c in shown] == ["第三条", "第二条", "第一条"]
    joined = " ".join(c.comment for c in shown)
    for secret in ["13800138000", "110101199003071234", "me@example.cn"]:
        assert secret not in joined
    assert shown[0].level_label == "满意" and shown[0].channel_label == "窗口二维码"
    assert shown[0].department == "示范市市场监督管理局"
    assert set(vars(shown[0])) == {
        "day",
        "level",
        "level_label",
        "department",
        "item_name",
        "channel",
        "channel_label",
        "comment",
    }
    assert listed[1].comment.startswith("第二条") and [c.comment for c in listed] == [c.comment for c in shown]
    with pytest.raises(IndexError):
        listed[selectors.COMMENTS_LIMIT]
    assert selectors.published_comments(department_code="police").count() == 0

    monkeypatch.setattr(comment_selectors, "COMMENTS_LIMIT", 2)
    capped = selectors.published_comments()
    assert capped.count() == 2 and len(capped[0:50]) == 2 and capped[2:4] == []


def test_what_the_applicant_side_sees_of_a_cases_rating() -> None:
    applicant, stranger = make_citizen("看评价的人"), make_citizen("无关的人")
    case = closed_case(applicant)
    assert selectors.case_rating(stranger, case) is None
    assert selectors.case_rating(make_staff(Role.SUPERVISOR), case) is None
    state = selectors.case_rating(applicant, case)
    assert state is not None and state.rateable and state.rating is None
    services.rate_case(
        user=applicant,
        number=case.number,
        level=1,
        scores={"efficiency": 1},
        comment="慢",
        origin=services.Origin(RatingChannel.WEB),
    )
    state = selectors.case_rating(applicant, case)
    assert state is not None and not state.rateable and state.rating is not None
    assert state.rating.scores == [("办事效率", "非常不满意")] and state.rating.real_name
    assert state.rectification is not None and not state.rectification.awaiting_confirmation and not state.may_confirm
    handle_rectification(Rating.objects.get(case=case))
    state = selectors.case_rating(applicant, case)
    assert state is not None and state.rectification is not None
    assert state.rectification.awaiting_confirmation and state.may_confirm
    assert state.rectification.reply == "已增设引导员"
