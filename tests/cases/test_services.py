"""Case handling through the service layer: submission, the transition table, the clock, permissions."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.utils import timezone

from tests.accounts.factories import make_staff
from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, RESTAURANT_BUNDLE, Staff, item_code, staff_of
from yiwang.accounts.constants import Role
from yiwang.cases import definitions, services
from yiwang.cases.constants import CaseState, TaskStatus
from yiwang.cases.models import Application, Case, CaseEvent, ClockPause
from yiwang.catalog.models import ServiceItem
from yiwang.core import calendar
from yiwang.core.models import OutboxEvent

pytestmark = pytest.mark.django_db


def _food(citizen: Any) -> Case:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    return case


def _to_review(case: Case, staff: Staff) -> Case:
    return services.perform(case, "accept", actor=staff.clerk)


def _to_decision(case: Case, staff: Staff) -> Case:
    case = _to_review(case, staff)
    return services.perform(case, "complete_task", actor=staff.reviewer, reason="材料齐全，现场核查符合要求")


def test_submission_makes_a_numbered_case_waiting_for_acceptance(citizen: Any, market: Staff) -> None:
    case = _food(citizen)

    assert re.fullmatch(r"MARKET-\d{8}-\d{6}", case.number)
    assert case.number.split("-")[1] == f"{calendar.today_local():%Y%m%d}"
    assert case.state == CaseState.SUBMITTED
    assert case.department.code == "market"
    assert len(case.verification_code) == 6
    (task,) = case.tasks.all()
    assert (task.kind, task.role, task.status) == ("acceptance", Role.COUNTER_CLERK, TaskStatus.OPEN)
    assert list(case.events.values_list("action", flat=True)) == ["submit"]
    assert OutboxEvent.objects.filter(topic="case.event", payload__case_id=case.pk).count() == 1


def test_case_numbers_count_up_per_department_and_day(citizen: Any) -> None:
    first, second = _food(citizen), _food(citizen)
    assert int(second.number[-6:]) == int(first.number[-6:]) + 1


def test_submission_is_idempotent(citizen: Any) -> None:
    application = services.start_application(
        actor=citizen, applicant=services.applicant_for(citizen), item_code=item_code(FOOD_LICENCE, "market")
    )
    builders.fill(application, citizen)

    first = services.submit_application(application, actor=citizen, submission_key="key-1")
    again = services.submit_application(application, actor=citizen, submission_key="key-1")
    without_key = services.submit_application(application, actor=citizen)

    assert [c.pk for c in first] == [c.pk for c in again] == [c.pk for c in without_key]
    assert Case.objects.filter(application=application).count() == 1


def test_a_submission_key_cannot_be_reused_for_another_application(citizen: Any) -> None:
    builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    application = Application.objects.get()
    Application.objects.filter(pk=application.pk).update(submission_key="shared")
    other = services.start_application(
        actor=citizen, applicant=services.applicant_for(citizen), item_code=item_code(FOOD_LICENCE, "market")
    )
    builders.fill(other, citizen)

    with pytest.raises(services.CaseError) as refused:
        services.submit_application(other, actor=citizen, submission_key="shared")
    assert refused.value.code == "submission_key_reused"
    assert not other.cases.exists()


def test_an_incomplete_application_is_refused_with_every_problem_and_nothing_written(citizen: Any) -> None:
    application = services.start_application(
        actor=citizen, applicant=services.applicant_for(citizen), item_code=item_code(FOOD_LICENCE, "market")
    )
    definition = services.application_definition(application)
    services.save_draft(
        application, actor=citizen, answers=builders.answer_all(definition), form_data={"contact_mobile": "12345"}
    )

    with pytest.raises(services.CaseError) as refused:
        services.submit_application(application, actor=citizen)

    problems = {p.key: p for p in refused.value.extra["problems"]}
    assert refused.value.code == "application_incomplete"
    assert "11位手机号码" in problems["contact_mobile"].message
    assert any(p.kind == "material" for p in problems.values())
    assert not Case.objects.exists()
    application.refresh_from_db()
    assert application.state == "draft"
    # The draft kept what was typed, valid or not.
    assert application.form_data["contact_mobile"] == "12345"


def test_situations_decide_which_materials_are_asked(citizen: Any) -> None:
    item = ServiceItem.objects.published().get(code=item_code(FOOD_LICENCE, "market"))
    definition = definitions.for_item(item)
    delegated = next(q for q in definition.questions if "委托他人代为办理" in q.text)

    without = {m.name for m in definitions.applicable(definition, {delegated.key: "no"}).materials}
    with_agent = {m.name for m in definitions.applicable(definition, {delegated.key: "yes"}).materials}

    assert "授权委托书及受托人身份证件" not in without
    assert "授权委托书及受托人身份证件" in with_agent


def test_full_lifecycle_accept_review_approve_issue_close(citizen: Any, market: Staff) -> None:
    case = _to_review(_food(citizen), market)
    assert case.state == CaseState.IN_REVIEW
    assert case.accepted_at is not None
    assert case.promised_due == calendar.add_working_days(calendar.today_local(), case.item.promised_days).date
    assert case.statutory_due == calendar.add_working_days(calendar.today_local(), case.item.statutory_days).date

    case = services.perform(case, "complete_task", actor=market.reviewer, reason="审查通过")
    assert case.current_stage == "decision"
    case = services.perform(case, "approve", actor=market.approver, reason="准予许可")
    assert case.state == CaseState.ISSUING
    case = services.perform(case, "issue_certificate", actor=market.clerk)
    assert case.state == CaseState.READY_FOR_COLLECTION
    case = services.perform(case, "close", actor=market.clerk)

    assert case.state == CaseState.CLOSED
    assert case.outcome == "approved"
    assert case.closed_at is not None
    assert not case.tasks.filter(status=TaskStatus.OPEN).exists()
    assert list(case.events.values_list("action", flat=True)) == [
        "submit",
        "accept",
        "complete_task",
        "approve",
        "issue_certificate",
        "close",
    ]
    assert case.version == 6


@pytest.mark.parametrize(
    ("action", "actor_role"),
    [("approve", "approver"), ("close", "clerk"), ("issue_certificate", "clerk"), ("resume", "approver")],
)
def test_an_action_not_allowed_from_the_state_is_refused(
    citizen: Any, market: Staff, action: str, actor_role: str
) -> None:
    case = _food(citizen)
    with pytest.raises(services.CaseActionRefused) as refused:
        services.perform(case, action, actor=getattr(market, actor_role), reason="理由充分")
    assert refused.value.code == "illegal_transition"
    case.refresh_from_db()
    assert (case.state, case.version, case.events.count()) == (CaseState.SUBMITTED, 1, 1)


def test_approving_before_review_is_done_is_refused(citizen: Any, market: Staff) -> None:
    case = _to_review(_food(citizen), market)
    with pytest.raises(services.CaseActionRefused) as refused:
        services.perform(case, "approve", actor=market.approver)
    assert refused.value.code == "not_decision_stage"


def test_staff_of_another_department_cannot_see_or_act(citizen: Any, market: Staff, police: Staff) -> None:
    case = _to_review(_food(citizen), market)
    with pytest.raises(services.CaseNotFound):
        services.perform(case, "complete_task", actor=police.reviewer)
    case.refresh_from_db()
    assert case.current_stage == "review"


def test_a_role_that_does_not_take_the_action_is_refused(citizen: Any, market: Staff) -> None:
    case = _to_decision(_food(citizen), market)
    with pytest.raises(services.CaseActionRefused) as refused:
        services.perform(case, "approve", actor=market.reviewer)
    assert refused.value.code == "forbidden"


def test_applicants_and_strangers_cannot_take_staff_actions(citizen: Any, other_citizen: Any) -> None:
    case = _food(citizen)
    with pytest.raises(services.CaseActionRefused):
        services.perform(case, "accept", actor=citizen)
    with pytest.raises(services.CaseNotFound):
        services.perform(case, "withdraw", actor=other_citizen, reason="不想办了")


def test_only_the_platform_confirms_payments(citizen: Any, market: Staff) -> None:
    case = _food(citizen)
    with pytest.raises(services.CaseActionRefused) as refused:
        services.perform(case, "confirm_payment", actor=market.approver)
    assert refused.value.code == "forbidden"


def test_a_stale_version_is_refused_so_nobody_overwrites_silently(citizen: Any, market: Staff) -> None:
    case = _food(citizen)
    read_version = case.version
    services.perform(case, "accept", actor=market.clerk, expected_version=read_version)

    with pytest.raises(services.CaseActionRefused) as refused:
        services.perform(case, "request_correction", actor=market.reviewer, expected_version=read_version, items=[])
    assert refused.value.code == "stale_version"


def test_unknown_actions_and_parameters_are_refused(citizen: Any, market: Staff) -> None:
    case = _food(citizen)
    with pytest.raises(services.CaseActionRefused) as unknown:
        services.perform(case, "teleport", actor=market.clerk)
    assert unknown.value.code == "unknown_action"
    with pytest.raises(services.CaseError) as bad:
        services.perform(case, "accept", actor=market.clerk, colour="red")
    assert bad.value.code == "bad_parameter"


def test_reject_needs_a_reason_and_a_legal_basis(citizen: Any, market: Staff) -> None:
    case = _food(citizen)
    with pytest.raises(services.CaseError) as no_reason:
        services.perform(case, "reject", actor=market.clerk)
    assert no_reason.value.code == "reason_required"
    with pytest.raises(services.CaseError) as no_basis:
        services.perform(case, "reject", actor=market.clerk, reason="申请事项不属于本机关职权范围")
    assert no_basis.value.code == "legal_basis_required"

    case = services.perform(
        case,
        "reject",
        actor=market.clerk,
        reason="申请事项不属于本机关职权范围",
        legal_basis="《行政许可法》第三十二条",
    )
    assert (case.state, case.outcome) == (CaseState.REJECTED, "rejected")
    assert case.events.last().detail["legal_basis"] == "《行政许可法》第三十二条"


def _correction_items(case: Case) -> list[dict[str, str]]:
    definition = definitions.for_item(case.item)
    material = next(m for m in definition.materials if m.required and not m.from_source)
    return [
        {"kind": "material", "key": material.key, "problem": "平面布局图未标明各功能区"},
        {"kind": "field", "key": "contact_mobile", "problem": "联系电话无法接通"},
    ]


def test_correction_lists_everything_once_stops_the_clock_and_resubmission_returns(citizen: Any, market: Staff) -> None:
    case = _to_review(_food(citizen), market)
    due_before = case.promised_due
    items = _correction_items(case)

    case = services.perform(case, "request_correction", actor=market.reviewer, items=items)
    assert case.state == CaseState.CORRECTION_REQUESTED
    assert case.paused_since is not None
    notice = case.corrections.get()
    assert [e["key"] for e in notice.items] == [items[0]["key"], "contact_mobile"]

    # The applicant comes back a week later.
    five_days_ago = timezone.now() - dt.timedelta(days=7)
    Case.objects.filter(pk=case.pk).update(paused_since=five_days_ago)
    ClockPause.objects.filter(case=case).update(started_at=five_days_ago)

    with pytest.raises(services.CaseError) as incomplete:
        services.perform(case, "resubmit", actor=citizen, form_data={"contact_mobile": "13900139000"})
    assert incomplete.value.code == "correction_incomplete"

    services.attach_file(
        case.application,
        actor=citizen,
        material_key=items[0]["key"],
        name="布局图.pdf",
        stream=io.BytesIO(builders.pdf_bytes()),
    )
    case = services.perform(case, "resubmit", actor=citizen, form_data={"contact_mobile": "13900139000"})

    assert case.state == CaseState.IN_REVIEW
    assert case.paused_since is None
    paused = calendar.working_days_between(timezone.localdate(five_days_ago), calendar.today_local())
    assert paused >= 4
    assert case.promised_due == calendar.add_working_days(due_before, paused).date
    assert case.application.form_data["contact_mobile"] == "13900139000"
    assert case.corrections.get().resolved_at is not None


def test_correction_must_name_real_materials_or_fields(citizen: Any, market: Staff) -> None:
    case = _to_review(_food(citizen), market)
    for items, code in [
        ([], "correction_items_required"),
        ([{"kind": "material", "key": "nonsense", "problem": "看不清"}], "unknown_correction_item"),
        ([{"kind": "field", "key": "contact_mobile", "problem": ""}], "problem_required"),
    ]:
        with pytest.raises(services.CaseError) as refused:
            services.perform(case, "request_correction", actor=market.reviewer, items=items)
        assert refused.value.code == code
    case.refresh_from_db()
    assert case.state == CaseState.IN_REVIEW


def test_suspend_and_resume_stop_and_restart_the_clock(citizen: Any, market: Staff) -> None:
    case = _to_review(_food(citizen), market)
    case = services.perform(case, "suspend", actor=market.approver, reason="需要专家评审")
    assert case.state == CaseState.SUSPENDED
    assert case.paused_since is not None
    case = services.perform(case, "resume", actor=market.approver, reason="专家评审完成")
    assert case.state == CaseState.IN_REVIEW
    assert case.pauses.get().ended_at is not None


def test_extension_needs_another_official_to_approve(citizen: Any, market: Staff) -> None:
    case = _to_review(_food(citizen), market)
    due = case.statutory_due
    case = services.perform(case, "request_extension", actor=market.approver, reason="情形复杂", days=5)
    with pytest.raises(services.CaseActionRefused) as four_eyes:
        services.perform(case, "decide_extension", actor=market.approver, approve=True, reason="同意")
    assert four_eyes.value.code == "four_eyes"

    second = make_staff(Role.APPROVER, "market")
    case = services.perform(case, "decide_extension", actor=second, approve=True, reason="同意延长")
    assert case.statutory_due == calendar.add_working_days(due, 5).date


def test_transfer_moves_the_case_and_its_open_tasks(citizen: Any, market: Staff) -> None:
    case = _food(citizen)
    with pytest.raises(services.CaseError) as unknown:
        services.perform(case, "transfer", actor=market.reviewer, reason="不属本部门", department="nowhere")
    assert unknown.value.code == "unknown_department"

    case = services.perform(case, "transfer", actor=market.reviewer, reason="属卫生健康部门职责", department="health")
    assert case.department.code == "health"
    assert case.tasks.get(status=TaskStatus.OPEN).department.code == "health"
    health = staff_of("health")
    case = services.perform(case, "accept", actor=health.reviewer)
    assert case.state == CaseState.IN_REVIEW


def test_the_applicant_withdraws_before_a_decision_but_not_after(citizen: Any, market: Staff) -> None:
    case = _to_review(_food(citizen), market)
    case = services.perform(case, "withdraw", actor=citizen, reason="经营计划改变")
    assert (case.state, case.outcome) == (CaseState.WITHDRAWN, "withdrawn")
    assert not case.tasks.filter(status=TaskStatus.OPEN).exists()

    closed = _to_decision(_food(citizen), market)
    closed = services.perform(closed, "approve", actor=market.approver)
    with pytest.raises(services.CaseActionRefused):
        services.perform(closed, "withdraw", actor=citizen, reason="不需要了")


def test_a_bundle_asks_once_and_fans_out_to_one_case_per_chosen_item(citizen: Any) -> None:
    definition, _items = definitions.for_bundle(RESTAURANT_BUNDLE)
    group = next(q for q in definition.questions if q.key.startswith("g_"))
    individual = next(code for code, label in group.options if "个体工商户" in label)
    signboard = next(q for q in definition.questions if "门头招牌" in q.text)
    gathering = next(q for q in definition.questions if "公众聚集场所" in q.text)
    names = [m.name for m in definition.materials]
    assert names.count("营业执照") <= 1

    cases = builders.apply(
        citizen,
        bundle_code=RESTAURANT_BUNDLE,
        answers={group.key: individual, signboard.key: "yes", gathering.key: "no"},
    )

    assert sorted(c.item_name for c in cases) == sorted(["个体工商户设立登记", "食品经营许可", "户外广告设施设置许可"])
    assert {c.department.code for c in cases} == {"market", "urban_management"}
    assert len({c.application_id for c in cases}) == 1


def test_parallel_review_branches_join_before_the_decision(citizen: Any, market: Staff) -> None:
    code = item_code(FOOD_LICENCE, "market")
    ServiceItem.objects.filter(code=code, status="published").update(
        process_definition={
            "stages": [
                {"kind": "acceptance", "days": 1},
                {"kind": "review", "departments": ["market", "fire"], "days": 3},
                {"kind": "decision", "days": 1},
                {"kind": "certificate", "days": 1},
                {"kind": "delivery"},
            ]
        }
    )
    fire = staff_of("fire")
    case = _to_review(_food(citizen), market)
    assert sorted(case.tasks.filter(stage="review").values_list("department__code", flat=True)) == ["fire", "market"]

    case = services.perform(case, "complete_task", actor=market.reviewer, reason="本部门审查通过")
    assert case.current_stage == "review"
    with pytest.raises(services.CaseActionRefused):
        services.perform(case, "complete_task", actor=market.reviewer, reason="再点一次")
    case = services.perform(case, "complete_task", actor=fire.reviewer, reason="消防审查通过")
    assert case.current_stage == "decision"
    assert CaseEvent.objects.filter(case=case, action="complete_task").count() == 2


def test_a_malformed_process_definition_is_reported(citizen: Any) -> None:
    with pytest.raises(definitions.DefinitionError):
        definitions.validate_process({"stages": [{"kind": "review"}]})
    with pytest.raises(definitions.DefinitionError):
        definitions.validate_process({"stages": [{"kind": "decision"}, {"kind": "acceptance"}]})
    definitions.validate_process({"stages": [{"kind": "acceptance"}, {"kind": "decision"}]})


def test_the_admin_cannot_move_a_case(citizen: Any, django_user_model: Any, client: Any) -> None:
    case = _food(citizen)
    admin_user = django_user_model.objects.create_superuser("case-admin-x", password="admin-long-password-1")
    client.force_login(admin_user)
    url = f"/admin/cases/case/{case.pk}/change/"

    page = client.get(url)
    response = client.post(url, {"state": CaseState.CLOSED, "outcome": "approved"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert response.status_code == 403
    case.refresh_from_db()
    assert (case.state, case.version) == (CaseState.SUBMITTED, 1)


def test_background_jobs_take_only_system_actions(citizen: Any) -> None:
    case = _food(citizen)
    with pytest.raises(services.CaseActionRefused) as refused:
        services.perform(case, "accept", actor=None)
    assert refused.value.code == "forbidden"
