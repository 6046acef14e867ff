"""Licence types and the life of a licence: issued once from a case's 制证, changed, re-issued, revoked, expired."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.accounts.factories import make_citizen, make_staff
from tests.cases.conftest import FOOD_LICENCE, item_code, staff_of
from tests.licences.helpers import decided_food_case, food_type, issue_food_licence, run_worker, use_tmp_materials
from yiwang.accounts.constants import Role
from yiwang.core.identifiers import licence_identifier_problem, parse_licence_identifier
from yiwang.core.models import OutboxEvent
from yiwang.directory.models import Department
from yiwang.licences import selectors, services
from yiwang.licences.constants import LicenceEventKind, LicenceStatus
from yiwang.licences.models import Licence, LicenceEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _materials(settings: Any, tmp_path: Path) -> None:
    use_tmp_materials(settings, tmp_path)


def test_a_type_code_is_the_department_credit_code_and_its_number() -> None:
    licence_type = food_type()
    market = Department.objects.get(code="market")
    assert licence_type.code == f"{market.credit_code}001"
    assert [f["type"] for f in licence_type.fields] == ["text", "text", "choice", "date", "number"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ([{"key": "Bad Key", "label": "名称"}], "bad_fields"),
        ([{"key": "a", "label": "甲"}, {"key": "a", "label": "乙"}], "bad_fields"),
        ([{"key": "kind", "label": "类别", "type": "choice"}], "bad_fields"),
        ([{"key": "x", "label": "某项", "type": "colour"}], "bad_fields"),
        ("not a list", "bad_fields"),
    ],
)
def test_bad_field_definitions_are_refused(fields: Any, code: str) -> None:
    with pytest.raises(services.LicenceError) as refused:
        services.define_licence_type(
            actor=None,
            department=Department.objects.get(code="market"),
            number=9,
            name="测试证",
            holder_kind="person",
            fields=fields,
        )
    assert refused.value.code == code


def test_only_the_department_administrator_defines_its_types() -> None:
    other_admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    with pytest.raises(services.LicenceError) as refused:
        services.define_licence_type(
            actor=other_admin,
            department=Department.objects.get(code="market"),
            number=5,
            name="测试证",
            holder_kind="person",
            fields=[],
        )
    assert refused.value.code == "forbidden"
    own_admin = make_staff(Role.DEPARTMENT_ADMIN, "market")
    made = services.define_licence_type(
        actor=own_admin,
        department=Department.objects.get(code="market"),
        number=5,
        name="测试证",
        holder_kind="person",
        fields=[],
    )
    assert made.name == "测试证"


def test_the_certificate_stage_issues_the_licence_from_the_case_once() -> None:
    food_type()
    citizen = make_citizen("孙三")
    case = decided_food_case(citizen)
    run_worker()

    (licence,) = Licence.objects.filter(case_number=case.number)
    assert licence.holder_person_id == citizen.person_id and licence.holder_name == "孙三"
    assert licence.status == LicenceStatus.VALID
    assert licence_identifier_problem(licence.identifier) is None
    assert parse_licence_identifier(licence.identifier).type_code == licence.licence_type.code
    assert licence.data["operator"]  # filled from the application form's applicant_name
    assert licence.valid_until == services.valid_until_for(licence.licence_type, licence.issued_on)
    assert licence.digest and services.seal_intact(licence)
    assert list(selectors.wallet(citizen)) == [licence]

    # The same event handled again (a worker killed before marking it done): still one licence.
    OutboxEvent.objects.filter(topic="case.event").update(processed_at=None, attempts=0)
    run_worker()
    assert Licence.objects.filter(case_number=case.number).count() == 1
    assert LicenceEvent.objects.filter(licence=licence, kind=LicenceEventKind.ISSUED).count() == 1


def test_an_item_without_a_licence_type_issues_nothing() -> None:
    citizen = make_citizen()
    decided_food_case(citizen)  # no type defined for the item
    run_worker()
    assert not Licence.objects.exists()


def test_a_change_issues_the_next_version_and_supersedes_the_old() -> None:
    citizen = make_citizen()
    licence = issue_food_licence(citizen)
    approver = make_staff(Role.APPROVER, "market")
    new = services.change_licence(licence, actor=approver, data={"premises": "示范市新华路2号"}, reason="经营场所变更")
    licence.refresh_from_db()
    assert new.version == 2 and new.serial == licence.serial and new.previous_id == licence.pk
    assert new.identifier != licence.identifier and licence_identifier_problem(new.identifier) is None
    assert licence.status == LicenceStatus.SUPERSEDED and new.data["premises"] == "示范市新华路2号"
    assert list(selectors.wallet(citizen)) == [new]
    kinds = {event.kind for event in selectors.history(new)}
    assert {LicenceEventKind.ISSUED, LicenceEventKind.SUPERSEDED, LicenceEventKind.CHANGED} <= kinds
    with pytest.raises(services.LicenceError) as refused:
        services.change_licence(licence, actor=approver, data={}, reason="再改旧版本")
    assert refused.value.code == "licence_not_valid"


def test_a_change_with_a_bad_value_is_refused() -> None:
    licence = issue_food_licence(make_citizen())
    approver = make_staff(Role.APPROVER, "market")
    for data, code in [
        ({"opened_on": "2026-13-40"}, "bad_value"),
        ({"seats": "很多"}, "bad_value"),
        ({"business_type": "网吧"}, "bad_value"),
        ({"operator": ""}, "value_required"),
    ]:
        with pytest.raises(services.LicenceError) as refused:
            services.change_licence(licence, actor=approver, data=data, reason="变更")
        assert refused.value.code == code
    assert Licence.objects.count() == 1


def test_reissue_keeps_the_fields_and_restarts_validity() -> None:
    licence = issue_food_licence(make_citizen())
    new = services.reissue_licence(licence, actor=make_staff(Role.APPROVER, "market"), reason="证照遗失补发")
    assert new.data == licence.data and new.version == 2


def test_revocation_needs_a_reason_and_the_issuing_departments_approver() -> None:
    citizen = make_citizen()
    licence = issue_food_licence(citizen)
    police_approver = make_staff(Role.APPROVER, "police")
    with pytest.raises(services.LicenceError) as refused:
        services.revoke_licence(licence, actor=police_approver, reason="越权注销")
    assert refused.value.code == "not_found"  # another department's staff do not even see it
    market_clerk = make_staff(Role.COUNTER_CLERK, "market")
    with pytest.raises(services.LicenceError) as refused:
        services.revoke_licence(licence, actor=market_clerk, reason="窗口人员注销")
    assert refused.value.code == "forbidden"
    with pytest.raises(services.LicenceError) as refused:
        services.revoke_licence(licence, actor=citizen, reason="自己注销")
    assert refused.value.code == "forbidden"
    approver = make_staff(Role.APPROVER, "market")
    with pytest.raises(services.LicenceError) as refused:
        services.revoke_licence(licence, actor=approver, reason=" ")
    assert refused.value.code == "reason_required"
    revoked = services.revoke_licence(licence, actor=approver, reason="经营者申请注销")
    assert revoked.status == LicenceStatus.REVOKED and revoked.status_reason == "经营者申请注销"
    status = selectors.public_status(licence.identifier, licence.verification_code)
    assert status is not None and status.status == LicenceStatus.REVOKED and status.status_reason == "经营者申请注销"


def test_expiry_is_computed_from_dates_and_marked_by_the_job() -> None:
    licence = issue_food_licence(make_citizen())
    assert licence.valid_until is not None
    after = licence.valid_until + dt.timedelta(days=1)
    assert licence.effective_status(licence.valid_until) == LicenceStatus.VALID
    assert licence.effective_status(after) == LicenceStatus.EXPIRED
    assert services.expire_licence(licence.pk, today=after) is True
    assert services.expire_licence(licence.pk, today=after) is False  # once
    licence.refresh_from_db()
    assert licence.status == LicenceStatus.EXPIRED


def test_validity_counts_years_less_a_day_and_29_february() -> None:
    licence_type = food_type(validity_years=5)
    assert services.valid_until_for(licence_type, dt.date(2026, 3, 1)) == dt.date(2031, 2, 28)
    assert services.valid_until_for(licence_type, dt.date(2028, 2, 29)) == dt.date(2033, 2, 28)
    assert services.valid_until_for(food_type(validity_years=None), dt.date(2026, 3, 1)) is None


def test_public_status_refuses_a_wrong_check_character_and_a_wrong_code() -> None:
    licence = issue_food_licence(make_citizen())
    last = licence.identifier[-1]
    wrong = licence.identifier[:-1] + ("0" if last != "0" else "1")
    with pytest.raises(services.LicenceError) as refused:
        selectors.public_status(wrong, licence.verification_code)
    assert refused.value.code == "bad_identifier" and "校验位" in refused.value.message
    with pytest.raises(services.LicenceError):
        selectors.public_status("not-an-identifier", "x")
    assert selectors.public_status(licence.identifier, "WRONG123") is None
    status = selectors.public_status(licence.identifier.lower(), licence.verification_code.lower())
    assert status is not None and status.status == LicenceStatus.VALID and status.seal_intact


def test_a_tampered_licence_row_fails_its_seal_check() -> None:
    licence = issue_food_licence(make_citizen())
    Licence.objects.filter(pk=licence.pk).update(holder_name="冒名者")
    licence.refresh_from_db()
    assert not services.seal_intact(licence)
    status = selectors.public_status(licence.identifier, licence.verification_code)
    assert status is not None and not status.seal_intact


def test_an_organisation_type_refuses_a_personal_applicant() -> None:
    from yiwang.licences.constants import HolderKind

    licence_type = food_type(holder_kind=HolderKind.ORGANISATION)
    citizen = make_citizen()
    with pytest.raises(services.LicenceError) as refused:
        services.issue_licence(
            actor=None,
            licence_type=licence_type,
            person_id=citizen.person_id,
            data={"operator": "甲", "premises": "乙"},
        )
    assert refused.value.code == "organisation_required"


def test_staff_of_the_department_issue_by_hand_and_others_cannot() -> None:
    licence_type = food_type()
    citizen = make_citizen()
    data = {"operator": "甲", "premises": "乙"}
    with pytest.raises(services.LicenceError):
        services.issue_licence(
            actor=make_staff(Role.APPROVER, "police"), licence_type=licence_type, person_id=citizen.person_id, data=data
        )
    made = services.issue_licence(
        actor=staff_of("market").approver, licence_type=licence_type, person_id=citizen.person_id, data=data
    )
    assert made.licence_type == licence_type
    assert item_code(FOOD_LICENCE, "market") in licence_type.item_codes
