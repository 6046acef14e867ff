"""12345 work orders through the service layer: the whole lifecycle, and every refusal on the way."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.accounts.factories import make_citizen
from yiwang.core import calendar
from yiwang.core.audit import AuditEvent
from yiwang.core.models import OutboxEvent
from yiwang.hotline import selectors, services
from yiwang.hotline.constants import AssignmentState, Satisfaction, Source, WorkOrderKind, WorkOrderState
from yiwang.hotline.models import Assignment, DispatchCorrection, WorkOrder
from yiwang.hotline.services import intake

from .conftest import handler

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules", "no_model")]

NOISE = "小区旁工地夜间施工噪音扰民"
NOISE_TEXT = "A市和平路幸福小区旁的工地每天晚上十一点以后还在施工，噪音很大，影响居民休息。"


def phone_complaint(operator: Any, **overrides: Any) -> WorkOrder:
    fields: dict[str, Any] = {
        "actor": operator,
        "kind": WorkOrderKind.COMPLAINT,
        "source": Source.PHONE,
        "title": NOISE,
        "content": NOISE_TEXT,
        "caller": services.CallerDetails(name="李来电", phone="13800138000"),
    }
    fields.update(overrides)
    return services.register(**fields)


def test_register_by_phone_numbers_the_order_and_keeps_the_phone_encrypted(operator: Any) -> None:
    order = phone_complaint(operator)
    assert order.state == WorkOrderState.REGISTERED
    today = calendar.today_local()
    assert order.number.startswith(f"12345-{today:%Y%m%d}-")
    second = phone_complaint(operator)
    assert int(second.number[-6:]) == int(order.number[-6:]) + 1
    stored = WorkOrder.objects.get(pk=order.pk)
    assert "13800138000" not in stored.caller_phone_encrypted
    assert stored.caller_phone_masked.startswith("138") and "0013" not in stored.caller_phone_masked
    # No trained classifier: nothing suggested, the reason on the record, the order waits for an operator.
    assert stored.suggestions == [] and stored.department is None
    assert stored.events.filter(action="suggest", reason__contains="yiwang hotline train").exists()
    assert AuditEvent.objects.filter(event="hotline.register", target=f"hotline.WorkOrder:{order.number}").exists()


def test_intake_refuses_bad_input(operator: Any, caller: Any) -> None:
    with pytest.raises(services.NotAllowed):
        phone_complaint(caller)  # only operators take phone orders
    with pytest.raises(services.HotlineError) as missing:
        phone_complaint(operator, title="   ")
    assert missing.value.code == "field_required"
    with pytest.raises(services.HotlineError) as long:
        phone_complaint(operator, content="长" * (services.CONTENT_MAX + 1))
    assert long.value.code == "field_too_long"
    with pytest.raises(services.HotlineError) as kind:
        phone_complaint(operator, kind="rectification")
    assert kind.value.code == "bad_kind"
    with pytest.raises(services.HotlineError) as anonymous:
        phone_complaint(operator, caller=services.CallerDetails(anonymous=True))
    assert anonymous.value.code == "anonymous_not_allowed"
    with pytest.raises(services.HotlineError) as phone:
        phone_complaint(operator, caller=services.CallerDetails(name="李", phone="12345"))
    assert phone.value.code == "bad_phone"
    with pytest.raises(services.HotlineError) as no_phone:
        phone_complaint(operator, caller=services.CallerDetails(name="李"))
    assert no_phone.value.code == "phone_required"
    with pytest.raises(services.HotlineError) as point:
        phone_complaint(operator, longitude="200", latitude="23")
    assert point.value.code == "bad_location"
    with pytest.raises(services.NotAllowed):
        services.register(
            actor=None,
            kind=WorkOrderKind.HELP,
            source=Source.WEB,
            title="求助",
            content="内容",
            caller=services.CallerDetails(),
        )
    assert not WorkOrder.objects.exists()


def test_an_anonymous_report_hides_the_caller_from_the_department(operator: Any) -> None:
    order = phone_complaint(operator, kind=WorkOrderKind.REPORT, caller=services.CallerDetails(anonymous=True))
    services.perform(order, "dispatch", actor=operator, department="market", category="商贸旅游")
    staff = handler("market")
    from yiwang.hotline import policy

    order = selectors.get_visible(staff, order.number)
    assert policy.can_view(staff, order) and not policy.may_see_caller(staff, order)
    assert policy.may_see_caller(operator, order)


def test_complaint_sent_back_redispatched_handled_closed_and_called_back(operator: Any) -> None:
    order = phone_complaint(operator)
    order = services.perform(order, "dispatch", actor=operator, department="market", category="城乡建设")
    assert order.state == WorkOrderState.DISPATCHED and order.department.code == "market"
    # The operator chose differently from the (absent) classifier: nothing to correct without a suggestion.
    assert not DispatchCorrection.objects.exists()
    assert order.due == calendar.add_working_days(calendar.today_local(), 13).date
    assert order.acknowledge_due == calendar.add_working_days(calendar.today_local(), 1).date

    market, housing = handler("market"), handler("housing")
    with pytest.raises(services.WorkOrderNotFound):
        services.perform(order, "acknowledge", actor=housing)  # another department's order
    with pytest.raises(services.HotlineError) as no_reason:
        services.perform(order, "send_back", actor=market)
    assert no_reason.value.code == "field_required"
    order = services.perform(order, "send_back", actor=market, reason="施工噪音不属于市场监管职责，应由住建部门处理")
    assert order.state == WorkOrderState.REGISTERED and order.department is None
    assert Assignment.objects.get(work_order=order).state == AssignmentState.SENT_BACK
    assert order in selectors.operator_queue(operator)

    order = services.perform(order, "dispatch", actor=operator, department="housing", category="城乡建设")
    assert order in selectors.department_queue(housing) and order not in selectors.department_queue(market)
    with pytest.raises(services.ActionRefused) as early:
        services.perform(order, "reply", actor=housing, reply="已处理")
    assert early.value.code == "illegal_transition"
    order = services.perform(order, "acknowledge", actor=housing)
    assert order.state == WorkOrderState.HANDLING
    stale = order.version
    order = services.perform(order, "reply", actor=housing, reply="已责令施工单位夜间停工", expected_version=stale)
    with pytest.raises(services.ActionRefused) as late:
        services.perform(order, "return_reply", actor=operator, reason="答复不完整", expected_version=stale)
    assert late.value.code == "stale_version"
    assert order.state == WorkOrderState.REPLIED
    order = services.perform(order, "close", actor=operator)
    assert order.state == WorkOrderState.CLOSED and order.callback_due is not None
    assert order in selectors.callbacks_due(operator)
    with pytest.raises(services.HotlineError) as bad:
        services.perform(order, "record_callback", actor=operator, satisfaction="great", note="回访")
    assert bad.value.code == "bad_satisfaction"
    order = services.perform(
        order, "record_callback", actor=operator, satisfaction=Satisfaction.SATISFIED, note="来电人表示满意"
    )
    assert order.state == WorkOrderState.CALLED_BACK
    actions = [e.action for e in selectors.timeline(order, for_staff=True)]
    assert actions == [
        "register",
        "suggest",
        "dispatch",
        "send_back",
        "dispatch",
        "acknowledge",
        "reply",
        "close",
        "record_callback",
    ]
    assert OutboxEvent.objects.filter(topic="hotline.event").count() == len(actions) - 1  # "suggest" is a note


def test_dispatch_to_a_department_that_does_not_exist_is_refused(operator: Any) -> None:
    order = phone_complaint(operator)
    with pytest.raises(services.HotlineError) as error:
        services.perform(order, "dispatch", actor=operator, department="no-such-department")
    assert error.value.code == "unknown_department"
    order.refresh_from_db()
    assert order.state == WorkOrderState.REGISTERED and not order.assignments.exists()


def test_joint_handling_lead_replies_assisting_department_contributes(operator: Any) -> None:
    order = phone_complaint(operator)
    order = services.perform(
        order, "dispatch", actor=operator, department="housing", assisting=["urban_management"], category="城乡建设"
    )
    lead, assist = handler("housing"), handler("urban_management")
    services.perform(order, "acknowledge", actor=assist)
    order.refresh_from_db()
    assert order.state == WorkOrderState.DISPATCHED  # the lead has not acknowledged yet
    order = services.perform(order, "acknowledge", actor=lead)
    with pytest.raises(services.ActionRefused) as assist_reply:
        services.perform(order, "reply", actor=assist, reply="我们来答复")
    assert assist_reply.value.code == "lead_replies"
    services.perform(order, "contribute", actor=assist, opinion="城管已到现场核查，夜间施工无许可")
    order = services.perform(order, "reply", actor=lead, reply="已联合城管责令停工")
    states = dict(order.assignments.values_list("department__code", "state"))
    assert states == {"housing": AssignmentState.REPLIED, "urban_management": AssignmentState.REPLIED}


def test_extension_needs_a_supervisor(operator: Any, supervisor: Any) -> None:
    order = phone_complaint(operator)
    order = services.perform(order, "dispatch", actor=operator, department="housing")
    staff = handler("housing")
    order = services.perform(order, "acknowledge", actor=staff)
    due = order.due
    with pytest.raises(services.HotlineError):
        services.perform(order, "request_extension", actor=staff, reason="需现场检测", days=99)
    order = services.perform(order, "request_extension", actor=staff, reason="需要第三方检测噪音", days=5)
    with pytest.raises(services.NotAllowed):
        services.perform(order, "decide_extension", actor=staff, approve=True)
    order = services.perform(order, "decide_extension", actor=supervisor, approve=True, reason="同意")
    assert due is not None and order.due == calendar.extend(due, 5).date


def test_unsatisfied_callback_reopens_until_the_limit(operator: Any) -> None:
    order = phone_complaint(operator)
    order = services.perform(order, "dispatch", actor=operator, department="housing")
    staff = handler("housing")
    for round_number in range(services.MAX_REOPENS + 1):
        order = services.perform(order, "acknowledge", actor=staff)
        order = services.perform(order, "reply", actor=staff, reply=f"第{round_number + 1}次答复")
        order = services.perform(order, "close", actor=operator)
        order = services.perform(
            order, "record_callback", actor=operator, satisfaction=Satisfaction.UNSATISFIED, note="仍有噪音"
        )
        if round_number < services.MAX_REOPENS:
            assert order.state == WorkOrderState.DISPATCHED and order.reopen_count == round_number + 1
    assert order.state == WorkOrderState.CALLED_BACK and order.satisfaction == Satisfaction.UNSATISFIED


def test_consultation_answered_at_once_from_a_source(operator: Any) -> None:
    order = phone_complaint(operator, kind=WorkOrderKind.CONSULT, title="身份证丢了怎么补办", content="怎么补办")
    with pytest.raises(services.HotlineError):
        services.perform(order, "answer", actor=operator, answer="到派出所办理")  # no source given
    order = services.perform(
        order, "answer", actor=operator, answer="携带户口簿到户籍所在地派出所办理", source="办事指南：居民身份证补领"
    )
    assert order.state == WorkOrderState.CLOSED and order.answer_source.startswith("办事指南")
    complaint = phone_complaint(operator)
    with pytest.raises(services.ActionRefused):
        services.perform(complaint, "answer", actor=operator, answer="答复", source="依据")


def test_merging_a_duplicate_links_it_to_the_order_that_answers(operator: Any) -> None:
    first, second = phone_complaint(operator), phone_complaint(operator)
    second = services.perform(second, "merge", actor=operator, into=first.number)
    assert second.state == WorkOrderState.MERGED and second.duplicate_of_id == first.pk
    with pytest.raises(services.HotlineError):
        services.perform(phone_complaint(operator), "merge", actor=operator, into="12345-00000000-000000")


def test_caller_can_follow_but_not_handle(operator: Any) -> None:
    citizen = make_citizen("周网上")
    order = services.register(
        actor=citizen,
        kind=WorkOrderKind.SUGGESTION,
        source=Source.WEB,
        title="建议增加公交线路",
        content="建议在新区增加一条公交线路",
        caller=services.CallerDetails(user=citizen),
    )
    assert order in selectors.my_orders(citizen)
    with pytest.raises(services.NotAllowed):
        services.perform(order, "dispatch", actor=citizen, department="transport")
    stranger = make_citizen("吴路人")
    with pytest.raises(services.WorkOrderNotFound):
        services.perform(order, "dispatch", actor=stranger, department="transport")
    assert selectors.public_progress(order.number, order.verification_code) == order
    assert selectors.public_progress(order.number, "WRONG1") is None


def test_confident_suggestion_dispatches_without_an_operator(operator: Any, monkeypatch: Any) -> None:
    def confident(title: str, content: str, *, top: int = 3) -> tuple[list[services.Suggestion], str]:
        return [services.Suggestion("城乡建设", 0.97, "housing", "住建局")], ""

    monkeypatch.setattr(intake, "suggest", confident)
    order = phone_complaint(operator)
    assert order.state == WorkOrderState.DISPATCHED and order.department.code == "housing"
    assert order.dispatch_mode == "automatic"

    def unsure(title: str, content: str, *, top: int = 3) -> tuple[list[services.Suggestion], str]:
        return [services.Suggestion("城乡建设", 0.41, "housing", "住建局")], ""

    monkeypatch.setattr(intake, "suggest", unsure)
    waiting = phone_complaint(operator)
    assert waiting.state == WorkOrderState.REGISTERED
    # The operator overrides the suggestion: the correction is kept for retraining.
    services.perform(waiting, "dispatch", actor=operator, department="ecology", category="环境保护")
    correction = DispatchCorrection.objects.get(work_order=waiting)
    assert (correction.suggested_category, correction.chosen_category) == ("城乡建设", "环境保护")


def test_overdue_orders_escalate_once(operator: Any, supervisor: Any) -> None:
    order = phone_complaint(operator)
    order = services.perform(order, "dispatch", actor=operator, department="housing")
    assert order.due is not None
    later = order.due + dt.timedelta(days=1)
    assert order in selectors.overdue(supervisor, today=later)
    assert services.escalate_overdue(today=later) == 1
    assert services.escalate_overdue(today=later) == 0
    order.refresh_from_db()
    assert order.escalated_at is not None
    services.perform(order, "supervise", actor=supervisor, reason="请加快办理")
    with pytest.raises(services.NotAllowed):
        services.perform(order, "supervise", actor=operator, reason="催办")
