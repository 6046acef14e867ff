"""Issue 12 item 1: an applicant's full data only for the staff holding a task on the open case.

A reveal names an open case of the staff member's own department whose
applicant is the person, and the staff member holds a task on it; anything
else answers the same 404 as a missing case. Reveals are recorded for the
person, limited per hour, and the limit alerts the supervisors.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import full_number, make_staff
from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, Staff, item_code
from yiwang.accounts.constants import Role
from yiwang.accounts.models import DataAccessRecord
from yiwang.cases import services
from yiwang.cases.models import Case
from yiwang.core import crypto
from yiwang.core.models import AuditEvent, Notification

pytestmark = pytest.mark.django_db

REVEAL = "/api/v1/cases/{number}/applicant/reveal"
BODY = {"fields": ["mobile", "document_number"], "purpose": "contact_applicant"}


def _in_review(citizen: Any, staff: Staff) -> Case:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    return services.perform(case, "accept", actor=staff.clerk)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _reveal(user: Any, number: str, body: dict[str, Any] | None = None) -> Any:
    return _client(user).post(REVEAL.format(number=number), body or BODY, content_type="application/json")


def test_the_reviewer_holding_the_review_task_reads_the_data_and_the_applicant_sees_the_record(
    citizen: Any, market: Staff
) -> None:
    case = _in_review(citizen, market)

    response = _reveal(market.reviewer, case.number)

    assert response.status_code == 200, response.content
    person = citizen.person
    assert response.json() == {
        "mobile": crypto.decrypt(person.mobile_encrypted),
        "document_number": full_number(person),
    }
    record = DataAccessRecord.objects.get(person=person)
    assert record.accessor == market.reviewer
    assert record.case_reference == case.number
    assert record.purpose == "电话联系申请人"
    assert record.department_name == case.department.name
    audit = AuditEvent.objects.filter(event="pii.read", actor=market.reviewer).get()
    assert audit.on_behalf_of_person_id == person.pk
    assert audit.detail["case"] == case.number
    # The applicant's "谁查看了我的信息" lists it.
    listed = _client(citizen).get("/api/v1/accounts/me/data-access").json()
    assert listed["count"] == 1 and listed["items"][0]["case_reference"] == case.number


def _other_department(citizen: Any, market: Staff, police: Staff) -> tuple[Any, str]:
    return police.reviewer, _in_review(citizen, market).number


def _no_task(citizen: Any, market: Staff, police: Staff) -> tuple[Any, str]:
    # The approver's decision task is not open yet: the case is in review.
    return market.approver, _in_review(citizen, market).number


def _closed_case(citizen: Any, market: Staff, police: Staff) -> tuple[Any, str]:
    case = _in_review(citizen, market)
    services.perform(case, "withdraw", actor=citizen, reason="不办了")
    return market.reviewer, case.number


def _made_up_case(citizen: Any, market: Staff, police: Staff) -> tuple[Any, str]:
    _in_review(citizen, market)
    return market.reviewer, "SQ-20261206-9999"


def _clerk_of_another_department(citizen: Any, market: Staff, police: Staff) -> tuple[Any, str]:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    # Any counter clerk may accept at any window, but holds no task of another department's case.
    return police.clerk, case.number


@pytest.mark.parametrize(
    "situation", [_other_department, _no_task, _closed_case, _made_up_case, _clerk_of_another_department]
)
def test_reveals_without_a_held_task_on_an_open_case_are_refused_alike(
    citizen: Any, market: Staff, police: Staff, situation: Any
) -> None:
    user, number = situation(citizen, market, police)

    response = _reveal(user, number)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.json()["detail"] == "办件不存在"
    assert not DataAccessRecord.objects.exists()
    assert not AuditEvent.objects.filter(event="pii.read").exists()


def test_the_clerk_holding_the_acceptance_task_of_their_department_may_read(citizen: Any, market: Staff) -> None:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    response = _reveal(market.clerk, case.number, {"fields": ["name"], "purpose": "verify_identity"})
    assert response.status_code == 200
    assert response.json() == {"name": "赵一"}


def test_person_ids_lead_nowhere_for_staff(citizen: Any, market: Staff) -> None:
    case = _in_review(citizen, market)
    person_id = case.applicant_person_id
    client = _client(market.reviewer)
    for candidate in (person_id - 1, person_id, person_id + 1):
        assert client.get(f"/api/v1/accounts/persons/{candidate}").status_code == 404
        answer = client.post(
            f"/api/v1/accounts/persons/{candidate}/reveal",
            {"fields": ["mobile"], "purpose": "核对", "case_reference": case.number},
            content_type="application/json",
        )
        assert answer.status_code == 404
    assert not DataAccessRecord.objects.exists()


def test_a_purpose_outside_the_list_is_refused(citizen: Any, market: Staff) -> None:
    case = _in_review(citizen, market)
    response = _reveal(market.reviewer, case.number, {"fields": ["mobile"], "purpose": "好奇"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_purpose"
    assert not DataAccessRecord.objects.exists()


def test_beyond_the_hourly_limit_reveals_are_refused_and_the_supervisor_is_alerted(
    citizen: Any, market: Staff, settings: Any
) -> None:
    settings.YIWANG_PII_REVEALS_PER_HOUR = 2
    supervisor = make_staff(Role.SUPERVISOR)
    case = _in_review(citizen, market)
    for _ in range(2):
        assert _reveal(market.reviewer, case.number).status_code == 200

    refused = _reveal(market.reviewer, case.number)
    again = _reveal(market.reviewer, case.number)

    assert refused.status_code == 429 and again.status_code == 429
    assert refused.json()["code"] == "reveal_limit"
    assert DataAccessRecord.objects.count() == 2
    assert AuditEvent.objects.filter(event="pii.read_refused", actor=market.reviewer).count() == 2
    assert AuditEvent.objects.filter(event="pii.volume_alert", actor=market.reviewer).count() == 1
    alerts = Notification.objects.filter(template="accounts.pii_volume_alert")
    assert list(alerts.values_list("recipient_user_id", "channel")) == [(supervisor.pk, "in_app")]
    # Another staff member is not held back by the reviewer's count.
    assert _reveal(market.clerk, case.number).status_code == 404  # holds no task now, refused as usual


def test_the_staff_case_page_offers_the_reveal_to_the_task_holder_only(citizen: Any, market: Staff) -> None:
    case = _in_review(citizen, market)
    page = f"/workbench/cases/{case.number}/"
    form_address = f'action="{page}reveal/"'
    assert form_address in _client(market.reviewer).get(page).content.decode()
    assert form_address not in _client(market.approver).get(page).content.decode()

    shown = _client(market.reviewer).post(f"{page}reveal/", {"which": ["mobile"], "purpose": "contact_applicant"})
    assert shown.status_code == 200
    assert crypto.decrypt(citizen.person.mobile_encrypted) in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]

    refused = _client(market.approver).post(f"{page}reveal/", {"which": ["mobile"], "purpose": "contact_applicant"})
    assert refused.status_code == 404
    assert DataAccessRecord.objects.filter(person=citizen.person).count() == 1


def test_the_decision_document_names_the_applicant_in_full_for_its_handler_only(
    citizen: Any, market: Staff, police: Staff
) -> None:
    case = _in_review(citizen, market)
    case = services.perform(case, "complete_task", actor=market.reviewer, reason="审查通过")
    case = services.perform(case, "approve", actor=market.approver, reason="准予许可")
    url = f"/cases/{case.number}/print/decision/"

    handler = _client(market.approver).get(url).content.decode()
    assert "赵一" in handler
    record = DataAccessRecord.objects.get(person=citizen.person)
    assert record.fields == ["name"] and record.purpose == "制作办件文书" and record.accessor == market.approver

    supervisor = make_staff(Role.SUPERVISOR)
    onlooker = _client(supervisor).get(url)
    assert onlooker.status_code == 200
    assert "赵一" not in onlooker.content.decode() and "赵*" in onlooker.content.decode()
    assert _client(police.reviewer).get(url).status_code == 404
    assert DataAccessRecord.objects.filter(person=citizen.person).count() == 1


def test_the_applicant_prints_their_own_name_without_a_record(citizen: Any, market: Staff) -> None:
    case = _in_review(citizen, market)
    receipt = _client(citizen).get(f"/cases/{case.number}/print/receipt/").content.decode()
    assert "赵一" in receipt
    assert not DataAccessRecord.objects.exists()


def test_the_reveal_answer_carries_no_cached_copy_in_the_audit_detail(citizen: Any, market: Staff) -> None:
    case = _in_review(citizen, market)
    _reveal(market.reviewer, case.number)
    detail = json.dumps(AuditEvent.objects.get(event="pii.read").detail, ensure_ascii=False)
    assert full_number(citizen.person) not in detail
    assert crypto.decrypt(citizen.person.mobile_encrypted) not in detail
