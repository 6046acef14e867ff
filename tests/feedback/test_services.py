"""好差评 through the service layer: rating once per case or visit, rectification of bad ratings,
suspect ratings, appeals, and tallies that stay in step with the ratings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Sum
from django.utils import timezone

from tests.accounts.factories import make_citizen, make_staff
from tests.cases.builders import apply
from tests.cases.conftest import FOOD_LICENCE, item_code, staff_of
from yiwang.accounts.constants import Role
from yiwang.cases import services as cases_services
from yiwang.cases.models import Case
from yiwang.catalog.models import Window
from yiwang.core import crypto, outbox
from yiwang.core.models import OutboxEvent
from yiwang.feedback import selectors, services, suspicion
from yiwang.feedback.constants import AppealStatus, RatingChannel, RatingStatus
from yiwang.feedback.models import DepartmentDayTally, Rating, Tally
from yiwang.hotline import services as hotline_services
from yiwang.hotline.constants import Satisfaction, WorkOrderKind, WorkOrderState
from yiwang.hotline.models import WorkOrder

pytestmark = pytest.mark.django_db

WEB = services.Origin(RatingChannel.WEB, device="device-1", address="10.0.0.1")


@pytest.fixture(autouse=True)
def _materials_in_tmp(settings: Any, tmp_path: Path) -> None:
    storages = dict(settings.STORAGES)
    storages["materials"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "materials")},
    }
    settings.STORAGES = storages
    settings.VAR_DIR = tmp_path  # no classifier model: hotline suggestions stay empty


def closed_case(citizen: Any) -> Case:
    staff = staff_of("market")
    (case,) = apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    for action, actor, params in [
        ("accept", staff.clerk, {}),
        ("complete_task", staff.reviewer, {"reason": "材料齐全"}),
        ("approve", staff.approver, {"reason": "准予许可"}),
        ("issue_certificate", staff.clerk, {}),
        ("close", staff.clerk, {}),
    ]:
        case = cases_services.perform(case, action, actor=actor, **params)
    return case


def tally_total(column: str) -> int:
    """A column summed over the detailed tallies, checked against the per-department roll-up kept beside them."""
    detailed = int(Tally.objects.aggregate(total=Sum(column))["total"] or 0)
    assert int(DepartmentDayTally.objects.aggregate(total=Sum(column))["total"] or 0) == detailed
    return detailed


def test_good_rating_is_counted_once_per_case() -> None:
    citizen = make_citizen("评价人甲")
    case = closed_case(citizen)
    rating = services.rate_case(
        user=citizen,
        number=case.number,
        level=5,
        scores={"efficiency": 5, "guide_accuracy": 4},
        comment="办事很快，联系我 13800138000",
        origin=WEB,
    )
    assert rating.real_name and rating.status == RatingStatus.COUNTED and rating.rectification_order is None
    assert "13800138000" not in rating.public_comment and "13800138000" in rating.comment
    assert rating.device_hash and rating.device_hash != "device-1"
    assert tally_total("level_5") == 1
    with pytest.raises(services.AlreadyRated):
        services.rate_case(user=citizen, number=case.number, level=1, scores={}, comment="", origin=WEB)
    assert Rating.objects.count() == 1 and tally_total("level_1") == 0


def test_refusals_someone_elses_case_unfinished_bad_levels_markup() -> None:
    citizen, stranger = make_citizen("评价人乙"), make_citizen("路人丙")
    case = closed_case(citizen)
    with pytest.raises(services.RatingNotAllowed):
        services.rate_case(user=stranger, number=case.number, level=5, scores={}, comment="", origin=WEB)
    (running,) = apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    with pytest.raises(services.RatingError) as unfinished:
        services.rate_case(user=citizen, number=running.number, level=5, scores={}, comment="", origin=WEB)
    assert unfinished.value.code == "not_finished"
    for level, scores in [(6, {}), ("x", {}), (5, {"attitude": 5}), (5, {"efficiency": 0})]:
        with pytest.raises(services.RatingError):
            services.rate_case(user=citizen, number=case.number, level=level, scores=scores, comment="", origin=WEB)
    with pytest.raises(services.RatingError) as markup:
        services.rate_case(
            user=citizen, number=case.number, level=1, scores={}, comment="<script>alert(1)</script>", origin=WEB
        )
    assert markup.value.code == "markup_in_comment"
    with pytest.raises(services.RatingError) as long:
        services.rate_case(user=citizen, number=case.number, level=1, scores={}, comment="差" * 501, origin=WEB)
    assert long.value.code == "field_too_long"
    assert not Rating.objects.exists() and not Tally.objects.exists()


def test_real_name_bad_rating_opens_rectification_handled_and_confirmed() -> None:
    citizen = make_citizen("评价人丁")
    case = closed_case(citizen)
    rating = services.rate_case(
        user=citizen, number=case.number, level=1, scores={"efficiency": 1}, comment="等了很久没人理", origin=WEB
    )
    order = rating.rectification_order
    assert order is not None and order.kind == WorkOrderKind.RECTIFICATION
    assert order.state == WorkOrderState.DISPATCHED and order.department_id == case.department_id
    assert order.caller_user_id == citizen.pk
    # The department calls the rater back: their name and mobile are on the order, encrypted like a caller's.
    assert citizen.person is not None and order.caller_name == citizen.person.name
    assert crypto.decrypt(order.caller_phone_encrypted) == crypto.decrypt(citizen.person.mobile_encrypted)
    assert order.caller_phone_masked and "*" in order.caller_phone_masked
    # Not yet due: an open rectification is neither on time nor late in the public share.
    assert tally_total("level_1") == 1 and tally_total("rectification_due") == 0

    staff = make_staff(Role.REVIEWER, "market")
    order = hotline_services.perform(order, "acknowledge", actor=staff)
    with pytest.raises(hotline_services.ActionRefused) as first:
        hotline_services.perform(order, "reply", actor=staff, reply="已整改")
    assert first.value.code == "callback_first"
    order = hotline_services.perform(
        order, "record_callback", actor=staff, satisfaction=Satisfaction.BASICALLY, note="已电话致歉并说明原因"
    )
    order = hotline_services.perform(order, "reply", actor=staff, reply="增设引导员，缩短等候时间")
    assert order.state == WorkOrderState.CLOSED
    # The worker counts the on-time rectification once, however often the event is handled.
    while outbox.process_batch("test"):
        pass
    rating.refresh_from_db()
    assert rating.rectified_on_time is True and tally_total("rectified_on_time") == 1
    assert tally_total("rectification_due") == 1
    from yiwang.feedback.tasks import count_rectified

    for event in OutboxEvent.objects.filter(topic="hotline.event"):
        count_rectified(event)
    assert tally_total("rectified_on_time") == 1 and tally_total("rectification_due") == 1

    stranger = make_citizen("路人戊")
    with pytest.raises(services.RatingError):
        services.confirm_resolution(user=stranger, rating_id=rating.pk, resolved=True)
    rating = services.confirm_resolution(user=citizen, rating_id=rating.pk, resolved=True, note="满意")
    order.refresh_from_db()
    assert rating.resolved is True and order.state == WorkOrderState.CALLED_BACK


def test_rectification_past_its_deadline_escalates_and_counts_late_once() -> None:
    citizen = make_citizen("评价人庚")
    rating = services.rate_case(
        user=citizen, number=closed_case(citizen).number, level=1, scores={}, comment="", origin=WEB
    )
    order = rating.rectification_order
    assert order is not None and order.due is not None
    # The deadline schedules its own check, the morning after the deadline.
    checks = OutboxEvent.objects.filter(topic="hotline.deadline", payload__work_order_id=order.pk)
    assert sorted(event.payload["deadline"] for event in checks) == sorted(
        [order.acknowledge_due.isoformat(), order.due.isoformat()]
    )
    assert all(timezone.localdate(event.available_at) > order.acknowledge_due for event in checks)
    while outbox.process_batch("test"):  # nothing is due yet
        pass
    order.refresh_from_db()
    assert order.escalated_at is None

    # The deadline passes with the order still open; the morning-after checks come due.
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    WorkOrder.objects.filter(pk=order.pk).update(due=yesterday, acknowledge_due=yesterday)
    checks.update(available_at=timezone.now())
    while outbox.process_batch("test"):
        pass
    order.refresh_from_db()
    assert order.escalated_at is not None
    assert order.events.filter(action="escalate").count() == 1  # two checks, one escalation
    assert hotline_services.escalate_if_late(order.pk) is False
    rating.refresh_from_db()
    assert rating.rectified_on_time is False
    assert tally_total("rectification_due") == 1 and tally_total("rectified_on_time") == 0

    # Closed late afterwards: still one late rectification, not a second count.
    staff = make_staff(Role.REVIEWER, "market")
    order = hotline_services.perform(order, "acknowledge", actor=staff)
    order = hotline_services.perform(
        order, "record_callback", actor=staff, satisfaction=Satisfaction.BASICALLY, note="回访"
    )
    hotline_services.perform(order, "reply", actor=staff, reply="已整改")
    while outbox.process_batch("test"):
        pass
    assert tally_total("rectification_due") == 1 and tally_total("rectified_on_time") == 0

    # An appeal upheld later takes the rating out of the share as well as out of the levels.
    head = make_staff(Role.DEPARTMENT_ADMIN, "market")
    appeal = services.file_appeal(staff=head, rating_id=rating.pk, reason="评价人并未在本部门办理业务")
    services.decide_appeal(supervisor=make_staff(Role.SUPERVISOR), appeal_id=appeal.pk, uphold=True, reason="核实属实")
    assert tally_total("rectification_due") == 0 and tally_total("level_1") == 0


def test_not_resolved_reopens_the_rectification() -> None:
    citizen = make_citizen("评价人己")
    rating = services.rate_case(
        user=citizen, number=closed_case(citizen).number, level=2, scores={}, comment="", origin=WEB
    )
    staff = make_staff(Role.REVIEWER, "market")
    order = hotline_services.perform(rating.rectification_order, "acknowledge", actor=staff)
    hotline_services.perform(order, "record_callback", actor=staff, satisfaction=Satisfaction.UNSATISFIED, note="回访")
    hotline_services.perform(order, "reply", actor=staff, reply="已解释")
    services.confirm_resolution(user=citizen, rating_id=rating.pk, resolved=False, note="没有解决")
    order.refresh_from_db()
    assert order.state == WorkOrderState.DISPATCHED and order.reopen_count == 1


def test_a_clerk_cannot_rate_the_visit_they_served() -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    visit = services.open_visit(clerk=clerk, window_id=Window.objects.filter(department__code="market").first().pk)
    with pytest.raises(services.RatingNotAllowed) as own:
        services.rate_visit(
            token=visit.token, user=clerk, level=5, scores={}, comment="", origin=services.Origin(RatingChannel.PAD)
        )
    assert own.value.code == "own_service" and not Rating.objects.exists()


def test_counter_visit_rated_once_by_qr_and_attributed_to_window_and_clerk() -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    window = Window.objects.filter(department__code="market").first()
    assert window is not None
    visit = services.open_visit(clerk=clerk, window_id=window.pk, item_code="x")
    anonymous_origin = services.Origin(RatingChannel.QR, device="phone-9")
    rating = services.rate_visit(
        token=visit.token, user=None, level=2, scores={"attitude": 2}, comment="态度一般", origin=anonymous_origin
    )
    assert rating.window_id == window.pk and rating.clerk_id == clerk.pk and not rating.real_name
    assert rating.rectification_order is None  # anonymous bad ratings are counted, not rectified
    with pytest.raises(services.AlreadyRated):
        services.rate_visit(token=visit.token, user=None, level=5, scores={}, comment="", origin=anonymous_origin)
    with pytest.raises(services.RatingError):
        services.rate_visit(token="nope", user=None, level=5, scores={}, comment="", origin=anonymous_origin)
    with pytest.raises(services.RatingError):  # counter ratings have counter dimensions
        services.rate_visit(
            token=services.open_visit(clerk=clerk, window_id=window.pk).token,
            user=None,
            level=5,
            scores={"ease_of_use": 5},
            comment="",
            origin=anonymous_origin,
        )
    citizen = make_citizen("窗口群众")
    with pytest.raises(services.RatingNotAllowed):
        services.open_visit(clerk=citizen, window_id=window.pk)
    other_window = Window.objects.exclude(department__code="market").first()
    assert other_window is not None
    with pytest.raises(services.RatingNotAllowed):
        services.open_visit(clerk=clerk, window_id=other_window.pk)


def test_operator_enters_a_callers_rating_with_the_receipt_code() -> None:
    citizen = make_citizen("电话评价人")
    case = closed_case(citizen)
    operator = make_staff(Role.HOTLINE_OPERATOR, None)
    with pytest.raises(services.RatingError):
        services.rate_for_caller(operator=operator, number=case.number, code="ZZZZZZ", level=5, scores={}, comment="")
    with pytest.raises(services.RatingNotAllowed):
        services.rate_for_caller(
            operator=citizen, number=case.number, code=case.verification_code, level=5, scores={}, comment=""
        )
    rating = services.rate_for_caller(
        operator=operator, number=case.number, code=case.verification_code, level=4, scores={}, comment="不错"
    )
    assert rating.channel == RatingChannel.HOTLINE and rating.entered_by == operator and rating.real_name

    # A bad rating by phone is real-name too: its rectification calls the applicant back on their mobile.
    other = closed_case(citizen)
    bad = services.rate_for_caller(
        operator=operator, number=other.number, code=other.verification_code, level=1, scores={}, comment="太慢"
    )
    order = bad.rectification_order
    assert order is not None and order.caller_user_id is None and order.caller_name == "电话评价人"
    assert citizen.person is not None
    assert crypto.decrypt(order.caller_phone_encrypted) == crypto.decrypt(citizen.person.mobile_encrypted)


def test_praise_bursts_and_copy_paste_are_flagged_then_excluded_by_a_supervisor() -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    window = Window.objects.filter(department__code="market").first()
    assert window is not None
    ratings = []
    for n in range(suspicion.PRAISE_COUNT + 1):
        visit = services.open_visit(clerk=clerk, window_id=window.pk)
        ratings.append(
            services.rate_visit(
                token=visit.token,
                user=None,
                level=5,
                scores={},
                comment="工作人员非常热情周到，点赞！",
                origin=services.Origin(RatingChannel.QR, device=f"phone-{n}"),
            )
        )
    last = ratings[-1]
    assert last.status == RatingStatus.SUSPECT
    assert set(last.flags) >= {"praise_burst", "copy_paste"} and ratings[0].status == RatingStatus.COUNTED
    # The flagged rating waits for review outside the results; the others count.
    counted = Rating.objects.filter(status=RatingStatus.COUNTED).count()
    assert tally_total("level_5") == counted < len(ratings)
    supervisor = make_staff(Role.SUPERVISOR, None)
    with pytest.raises(services.RatingNotAllowed):
        services.review_suspect(supervisor=clerk, rating_id=last.pk, exclude=True, note="刷评")
    with pytest.raises(services.RatingError):
        services.review_suspect(supervisor=supervisor, rating_id=ratings[0].pk, exclude=True, note="刷评")
    excluded = services.review_suspect(supervisor=supervisor, rating_id=last.pk, exclude=True, note="同一时段集中好评")
    assert excluded.status == RatingStatus.EXCLUDED and excluded.review_note == "同一时段集中好评"
    assert tally_total("level_5") == counted


def test_floods_from_one_device_are_refused() -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    window = Window.objects.filter(department__code="market").first()
    assert window is not None
    origin = services.Origin(RatingChannel.QR, device="bot")
    made = 0
    with pytest.raises(services.RatingThrottled):
        for _ in range(suspicion.FLOOD_COUNT + 1):
            visit = services.open_visit(clerk=clerk, window_id=window.pk)
            services.rate_visit(token=visit.token, user=None, level=1, scores={}, comment="", origin=origin)
            made += 1
    assert made == suspicion.FLOOD_COUNT
    # The BURST_COUNT-th rating found the burst; every rating of it, the earlier ones too, went to a supervisor.
    flagged = [r for r in Rating.objects.order_by("id") if "rater_burst" in r.flags]
    assert len(flagged) == suspicion.FLOOD_COUNT
    assert {r.status for r in flagged} == {RatingStatus.SUSPECT}


def rate_visits(count: int, *, devices: list[str], level: int = 5, comment: str = "") -> list[Rating]:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    window = Window.objects.filter(department__code="market").first()
    assert window is not None
    made = []
    for n in range(count):
        visit = services.open_visit(clerk=clerk, window_id=window.pk)
        origin = services.Origin(RatingChannel.QR, device=devices[n % len(devices)])
        made.append(
            services.rate_visit(token=visit.token, user=None, level=level, scores={}, comment=comment, origin=origin)
        )
    return [Rating.objects.get(pk=rating.pk) for rating in made]


def public_total() -> int:
    return selectors.overall(selectors.period_of()).total


def test_identical_ratings_from_one_device_are_all_held_out_of_the_results_until_reviewed() -> None:
    """Issue 12 item 10: four identical 5-star ratings from one browser within a minute are all flagged, the
    earlier copies too, and none of them moves the public figures until a supervisor has judged it."""
    ratings = rate_visits(4, devices=["one-browser"], comment="很好")
    assert [r.status for r in ratings] == [RatingStatus.SUSPECT] * 4
    assert all("rater_repeat" in r.flags for r in ratings)
    assert tally_total("level_5") == public_total() == 0
    supervisor = make_staff(Role.SUPERVISOR, None)
    # Cleared ratings come into the results; excluded ones stay out.
    for rating in ratings[:1]:
        services.review_suspect(supervisor=supervisor, rating_id=rating.pk, exclude=False, note="本人确认")
    for rating in ratings[1:]:
        services.review_suspect(supervisor=supervisor, rating_id=rating.pk, exclude=True, note="同一设备重复好评")
    assert tally_total("level_5") == public_total() == 1
    assert Rating.objects.filter(status=RatingStatus.EXCLUDED).count() == 3


def test_a_rating_counted_before_the_burst_was_found_leaves_the_results() -> None:
    first, second = rate_visits(2, devices=["one-browser"], level=4)
    assert first.status == second.status == RatingStatus.COUNTED
    assert tally_total("level_4") == public_total() == 2
    rate_visits(1, devices=["one-browser"], level=4)
    assert {r.status for r in Rating.objects.all()} == {RatingStatus.SUSPECT}
    assert tally_total("level_4") == public_total() == 0


def test_a_burst_leaves_ratings_a_supervisor_already_cleared_as_they_were() -> None:
    first, second, _third = rate_visits(3, devices=["one-browser"], level=4)
    supervisor = make_staff(Role.SUPERVISOR, None)
    services.review_suspect(supervisor=supervisor, rating_id=first.pk, exclude=False, note="本人确认")
    assert tally_total("level_4") == public_total() == 1
    (fourth,) = rate_visits(1, devices=["one-browser"], level=4)
    assert fourth.status == RatingStatus.SUSPECT and fourth.flags == ["rater_repeat"]
    assert Rating.objects.get(pk=second.pk).status == RatingStatus.SUSPECT
    cleared = Rating.objects.get(pk=first.pk)
    assert cleared.status == RatingStatus.COUNTED and cleared.review_note == "本人确认"
    assert tally_total("level_4") == public_total() == 1


def test_ordinary_ratings_are_not_flagged() -> None:
    # Three people, the same verdict; one person rating three services differently.
    different_people = rate_visits(3, devices=["phone-a", "phone-b", "phone-c"])
    one_person = [*rate_visits(1, devices=["phone-d"], level=5), *rate_visits(1, devices=["phone-d"], level=4)]
    one_person += rate_visits(1, devices=["phone-d"], level=5, comment="窗口很耐心")
    for rating in [*different_people, *one_person]:
        assert rating.status == RatingStatus.COUNTED and rating.flags == []
    assert public_total() == 6


def test_appeal_decided_on_the_record() -> None:
    citizen = make_citizen("被申诉人")
    rating = services.rate_case(
        user=citizen, number=closed_case(citizen).number, level=1, scores={}, comment="乱评", origin=WEB
    )
    head = make_staff(Role.DEPARTMENT_ADMIN, "market")
    other_head = make_staff(Role.DEPARTMENT_ADMIN, "police")
    supervisor = make_staff(Role.SUPERVISOR, None)
    with pytest.raises(services.RatingNotAllowed):
        services.file_appeal(staff=other_head, rating_id=rating.pk, reason="不是我们")
    appeal = services.file_appeal(staff=head, rating_id=rating.pk, reason="评价内容与办件无关，系误评")
    with pytest.raises(services.AlreadyRated):
        services.file_appeal(staff=head, rating_id=rating.pk, reason="再次申诉")
    with pytest.raises(services.RatingNotAllowed):
        services.decide_appeal(supervisor=head, appeal_id=appeal.pk, uphold=True, reason="自己裁定")
    decided = services.decide_appeal(supervisor=supervisor, appeal_id=appeal.pk, uphold=True, reason="经核实为误评")
    rating.refresh_from_db()
    assert decided.status == AppealStatus.UPHELD and rating.status == RatingStatus.EXCLUDED
    assert "经核实为误评" in rating.review_note and tally_total("level_1") == 0
    with pytest.raises(services.RatingError):
        services.decide_appeal(supervisor=supervisor, appeal_id=appeal.pk, uphold=False, reason="改判")


def test_the_migration_takes_ratings_flagged_under_the_old_rule_out_of_the_results() -> None:
    """Before this release a flagged rating stayed counted; migration 0004 takes those out, so a later clear
    counts each of them once."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("yiwang.feedback.migrations.0004_flagged_ratings_out_of_the_results")
    (rating,) = rate_visits(1, devices=["old-release"], level=3)
    # As the old release left it: flagged, and still in the tallies.
    Rating.objects.filter(pk=rating.pk).update(status=RatingStatus.SUSPECT, flags=["praise_burst"])
    assert tally_total("level_3") == 1
    migration.take_flagged_out(apps, None)
    assert tally_total("level_3") == public_total() == 0
    services.review_suspect(
        supervisor=make_staff(Role.SUPERVISOR, None), rating_id=rating.pk, exclude=False, note="核实"
    )
    assert tally_total("level_3") == public_total() == 1
