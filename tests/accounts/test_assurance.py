"""Real-name level 3 at the counter (ADR 0030): the check, its evidence, who may record it, the pages."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import full_number, make_citizen, make_staff, mobile, resident_id
from yiwang.accounts import selectors, services
from yiwang.accounts.constants import AssuranceLevel, AssuranceMethod, Role
from yiwang.accounts.models import AssuranceRecord, User
from yiwang.accounts.services.assurance import document_digest
from yiwang.core.audit import AuditEvent
from yiwang.core.desks import desks_for
from yiwang.core.identifiers import DocumentType

pytestmark = pytest.mark.django_db

RESIDENT_ID = DocumentType.RESIDENT_ID


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def check(actor: Any, citizen: User, **overrides: Any) -> AssuranceRecord:
    assert citizen.person is not None
    values: dict[str, Any] = {
        "actor": actor,
        "document_type": RESIDENT_ID,
        "document_number": full_number(citizen.person),
        "original_checked": True,
    }
    values.update(overrides)
    return services.record_counter_check(**values)


def test_a_counter_check_raises_the_person_to_level_3_with_its_evidence() -> None:
    citizen = make_citizen("孙三")
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    record = check(clerk, citizen)
    person = citizen.person
    assert person is not None
    person.refresh_from_db()
    assert (person.assurance_level, person.assurance_method) == (AssuranceLevel.IDENTITY_VERIFIED, "counter")
    assert (record.level, record.method, record.raised) == (3, AssuranceMethod.COUNTER, True)
    assert (record.checked_by_id, record.department_name) == (clerk.pk, "示范市市场监督管理局")
    # The number is kept only as a keyed digest of its own, not the lookup index and never the number.
    number = full_number(person)
    assert record.document_digest == document_digest(RESIDENT_ID, number)
    assert record.document_digest not in (person.document_number_index, number)
    # How level 2 was reached is kept too, before the check that moved it.
    levels = [(r.level, r.method) for r in AssuranceRecord.objects.filter(person=person).order_by("occurred_at", "id")]
    assert levels == [(2, "sms"), (3, "counter")]
    event = AuditEvent.objects.get(event="assurance.raised")
    assert (event.actor_id, event.on_behalf_of_person_id) == (clerk.pk, person.pk)
    assert event.detail["method"] == "counter" and event.target == f"accounts.AssuranceRecord:{record.pk}"


def test_a_later_check_is_recorded_but_never_lowers_or_repeats_the_raise() -> None:
    citizen = make_citizen("孙三")
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    check(clerk, citizen)
    again = check(make_staff(Role.COUNTER_CLERK, "market"), citizen)
    assert again.raised is False
    assert citizen.person is not None
    citizen.person.refresh_from_db()
    assert citizen.person.assurance_level == AssuranceLevel.IDENTITY_VERIFIED
    assert AuditEvent.objects.filter(event="assurance.checked").count() == 1
    steps = selectors.assurance_history(citizen.person)
    assert [(s.level, s.raised) for s in steps] == [(2, True), (3, True), (3, False)]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"original_checked": False}, "identity_check_required"),
        ({"document_number": "123"}, "invalid_document"),
        ({"document_type": "library_card"}, "invalid_document_type"),
        ({"document_number": "__unknown__"}, "person_unknown"),
        # No identity e-licence of this person has that id: level 4 is refused, nothing is raised.
        ({"licence_id": 999999}, "licence_invalid"),
    ],
)
def test_bad_counter_checks_are_refused_and_change_nothing(overrides: dict[str, Any], code: str) -> None:
    citizen = make_citizen("孙三")
    if overrides.get("document_number") == "__unknown__":
        overrides["document_number"] = resident_id()
    with pytest.raises(services.IdentityError) as refused:
        check(make_staff(Role.COUNTER_CLERK, "market"), citizen, **overrides)
    assert refused.value.code == code
    assert citizen.person is not None
    citizen.person.refresh_from_db()
    assert citizen.person.assurance_level == AssuranceLevel.MOBILE_VERIFIED
    assert not AssuranceRecord.objects.exists()


@pytest.mark.parametrize("role", [None, Role.REVIEWER, Role.APPROVER, Role.HOTLINE_OPERATOR, Role.DEPARTMENT_ADMIN])
def test_only_counter_clerks_record_checks(role: str | None) -> None:
    citizen = make_citizen("孙三")
    actor = (
        make_citizen("周四") if role is None else make_staff(role, None if role == Role.HOTLINE_OPERATOR else "market")
    )
    with pytest.raises(services.IdentityError) as refused:
        check(actor, citizen)
    assert refused.value.code == "forbidden" and refused.value.status == 404
    with pytest.raises(services.IdentityError):
        services.find_person_at_counter(
            actor=actor, document_type=RESIDENT_ID, document_number=full_number(citizen.person)
        )
    assert citizen.person is not None
    citizen.person.refresh_from_db()
    assert citizen.person.assurance_level == AssuranceLevel.MOBILE_VERIFIED
    assert AuditEvent.objects.filter(event="permission.denied", actor_id=actor.pk).count() == 2


def test_the_counter_desk_is_listed_for_counter_clerks_only() -> None:
    assert "/staff/identity-checks/" in dict(desks_for(make_staff(Role.COUNTER_CLERK, "market")))
    assert "/staff/identity-checks/" not in dict(desks_for(make_staff(Role.REVIEWER, "market")))


@pytest.mark.parametrize("who", ["citizen", "reviewer"])
def test_the_counter_page_is_not_found_for_others(client: Client, who: str) -> None:
    citizen = make_citizen("孙三")
    client.force_login(citizen if who == "citizen" else make_staff(Role.REVIEWER, "market"))
    assert client.get("/staff/identity-checks/").status_code == 404
    posted = client.post(
        "/staff/identity-checks/",
        {
            "action": "record",
            "document_type": RESIDENT_ID,
            "document_number": full_number(citizen.person),
            "original_checked": "on",
        },
    )
    assert posted.status_code == 404
    assert not AssuranceRecord.objects.exists()
    assert AuditEvent.objects.filter(event="permission.denied").count() == 2


def test_a_clerk_finds_the_person_checks_the_document_and_records_it(client: Client) -> None:
    citizen = make_citizen("孙三")
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    client.force_login(clerk)
    number = full_number(citizen.person)
    assert "查找办事人" in text(client.get("/staff/identity-checks/"))
    found = text(
        client.post(
            "/staff/identity-checks/", {"action": "lookup", "document_type": RESIDENT_ID, "document_number": number}
        )
    )
    assert "孙三" in found and "二级：实名手机号验证" in found and "记录当面核验" in found
    assert AuditEvent.objects.filter(event="assurance.person_looked_up", actor_id=clerk.pk).count() == 1
    # Without the box ticked nothing is recorded.
    unchecked = client.post(
        "/staff/identity-checks/", {"action": "record", "document_type": RESIDENT_ID, "document_number": number}
    )
    assert unchecked.status_code == 200 and "请先当面核验证件原件" in text(unchecked)
    assert not AssuranceRecord.objects.exists()
    recorded = client.post(
        "/staff/identity-checks/",
        {
            "action": "record",
            "document_type": RESIDENT_ID,
            "document_number": number,
            "original_checked": "on",
            "licence": "",
        },
    )
    assert recorded.status_code == 302 and recorded["Location"] == "/staff/identity-checks/"
    assert "已记录当面核验：孙三，三级" in text(client.get("/staff/identity-checks/"))
    assert citizen.person is not None
    citizen.person.refresh_from_db()
    assert citizen.person.assurance_level == AssuranceLevel.IDENTITY_VERIFIED


def test_an_unknown_document_at_the_counter_says_so(client: Client) -> None:
    client.force_login(make_staff(Role.COUNTER_CLERK, "market"))
    page = client.post(
        "/staff/identity-checks/", {"action": "lookup", "document_type": RESIDENT_ID, "document_number": resident_id()}
    )
    assert page.status_code == 200 and "未找到该证件号码登记的人员" in text(page)


def test_the_account_pages_show_how_each_level_was_reached(client: Client) -> None:
    citizen = make_citizen("孙三")
    check(make_staff(Role.COUNTER_CLERK, "market"), citizen)
    client.force_login(citizen)
    home = text(client.get("/accounts/"))
    assert "二级：实名手机号验证：短信验证码验证实名手机号" in home
    assert "三级：身份信息核验：窗口核验身份证件原件" in home and "示范市市场监督管理局" in home
    page = text(client.get("/accounts/real-name/"))
    assert "各等级是怎样达到的" in page and "窗口核验身份证件原件" in page
    # Already at level 3: the household match is not offered again.
    assert "无需再比对户籍信息" in page


def test_the_household_match_needs_a_confirmed_mobile(client: Client) -> None:
    person = services.create_person(
        name="吴五",
        document_type=RESIDENT_ID,
        document_number=resident_id(),
        mobile=mobile(),
        assurance_level=AssuranceLevel.MOBILE_VERIFIED,
        assurance_method=AssuranceMethod.SMS,
        mobile_verified=False,
    )
    user = User.objects.create(username="wu5", person=person)
    with pytest.raises(services.IdentityError) as refused:
        services.verify_by_household_register(actor=user, consent=True)
    assert refused.value.code == "mobile_unconfirmed"
    assert AuditEvent.objects.get(event="assurance.refused").detail["code"] == "mobile_unconfirmed"
    client.force_login(user)
    page = text(client.get("/accounts/real-name/"))
    assert "请先验证本人手机号码" in page and "比对户籍信息</button>" not in page
    assert "到窗口核验证件" in page


def test_a_staff_account_has_no_level_to_raise(client: Client) -> None:
    staff = make_staff(Role.COUNTER_CLERK, "market")
    with pytest.raises(services.IdentityError) as refused:
        services.verify_by_household_register(actor=staff, consent=True)
    assert refused.value.code == "not_a_person"
    client.force_login(staff)
    page = client.get("/accounts/real-name/")
    assert page.status_code == 200 and "实名等级属于个人账户" in text(page)
