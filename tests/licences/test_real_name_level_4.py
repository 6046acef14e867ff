"""Real-name level 4 (ADR 0030): the face-to-face check together with a valid identity e-licence in the wallet."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import full_number, make_citizen, make_staff
from yiwang.accounts import selectors as accounts_selectors
from yiwang.accounts import services as accounts_services
from yiwang.accounts.constants import AssuranceLevel, Role
from yiwang.accounts.models import AssuranceRecord
from yiwang.core import calendar
from yiwang.core.identifiers import DocumentType
from yiwang.licences import demo, selectors
from yiwang.licences.models import Licence, LicenceType
from yiwang.licences.services import issue_licence, revoke_licence

pytestmark = pytest.mark.django_db


@pytest.fixture
def types(db: None) -> dict[str, LicenceType]:
    return {t.name: t for t in demo.create_licence_types()}


def issue(types: dict[str, LicenceType], citizen: Any, name: str = "居民身份证电子证照", **kwargs: Any) -> Licence:
    data = {"name": citizen.person.name, "address": "示范市幸福街道幸福路9号"}
    return issue_licence(actor=None, licence_type=types[name], person_id=citizen.person_id, data=data, **kwargs)


def check(clerk: Any, citizen: Any, licence_id: int | None) -> Any:
    return accounts_services.record_counter_check(
        actor=clerk,
        document_type=DocumentType.RESIDENT_ID,
        document_number=full_number(citizen.person),
        original_checked=True,
        licence_id=licence_id,
    )


def level_of(citizen: Any) -> int:
    citizen.person.refresh_from_db()
    return int(citizen.person.assurance_level)


def test_the_counter_check_with_a_valid_e_id_reaches_level_4(types: dict[str, LicenceType]) -> None:
    citizen = make_citizen("冯七")
    licence = issue(types, citizen)
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    record = check(clerk, citizen, licence.pk)
    assert level_of(citizen) == AssuranceLevel.IN_PERSON
    assert citizen.person.assurance_method == "counter_licence"
    assert (record.level, record.licence_id, record.licence_identifier) == (4, licence.pk, licence.identifier)
    assert record.licence_type_name == "居民身份证电子证照" and record.checked_by_id == clerk.pk
    history = accounts_selectors.assurance_history(citizen.person)
    assert [s.level for s in history] == [2, 4] and licence.identifier in history[-1].licence


def test_a_revoked_e_id_is_refused(types: dict[str, LicenceType]) -> None:
    citizen = make_citizen("冯七")
    licence = issue(types, citizen)
    revoke_licence(licence, actor=make_staff(Role.APPROVER, "police"), reason="证件挂失，电子证照同步注销")
    with pytest.raises(accounts_services.IdentityError) as refused:
        check(make_staff(Role.COUNTER_CLERK, "police"), citizen, licence.pk)
    assert refused.value.code == "licence_invalid"
    assert level_of(citizen) == AssuranceLevel.MOBILE_VERIFIED
    assert not AssuranceRecord.objects.exists()
    assert [(x.licence_id, x.valid, x.status_label) for x in selectors.identity_licences(citizen.person_id)] == [
        (licence.pk, False, "已注销")
    ]


def test_an_expired_e_id_is_refused(types: dict[str, LicenceType]) -> None:
    citizen = make_citizen("冯七")
    licence = issue(types, citizen, issued_on=calendar.today_local() - dt.timedelta(days=21 * 366))
    with pytest.raises(accounts_services.IdentityError) as refused:
        check(make_staff(Role.COUNTER_CLERK, "police"), citizen, licence.pk)
    assert refused.value.code == "licence_invalid"
    assert level_of(citizen) == AssuranceLevel.MOBILE_VERIFIED


def test_another_persons_e_id_or_a_licence_that_proves_nothing_is_refused(types: dict[str, LicenceType]) -> None:
    citizen, other = make_citizen("冯七"), make_citizen("陈八")
    others = issue(types, other)
    residence = issue(types, citizen, "居住证")
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    for licence in (others, residence):
        with pytest.raises(accounts_services.IdentityError) as refused:
            check(clerk, citizen, licence.pk)
        assert refused.value.code == "licence_invalid"
    assert level_of(citizen) == AssuranceLevel.MOBILE_VERIFIED


def test_only_a_counter_clerk_records_level_4(types: dict[str, LicenceType]) -> None:
    citizen = make_citizen("冯七")
    licence = issue(types, citizen)
    # The licence's own department's approver manages the licence, but does not check people at a counter.
    with pytest.raises(accounts_services.IdentityError) as refused:
        check(make_staff(Role.APPROVER, "police"), citizen, licence.pk)
    assert refused.value.code == "forbidden"
    with pytest.raises(accounts_services.IdentityError):
        check(citizen, citizen, licence.pk)
    assert level_of(citizen) == AssuranceLevel.MOBILE_VERIFIED


def test_the_counter_page_offers_the_e_id_and_records_level_4(types: dict[str, LicenceType], client: Client) -> None:
    citizen = make_citizen("冯七")
    licence = issue(types, citizen)
    revoked = issue(types, citizen)
    revoke_licence(revoked, actor=make_staff(Role.APPROVER, "police"), reason="重复签发，予以注销处理")
    client.force_login(make_staff(Role.COUNTER_CLERK, "market"))
    number = full_number(citizen.person)
    found = html.unescape(
        client.post(
            "/staff/identity-checks/",
            {"action": "lookup", "document_type": DocumentType.RESIDENT_ID, "document_number": number},
        ).content.decode()
    )
    assert f"居民身份证电子证照 {licence.identifier}（有效）" in found
    assert f"{revoked.identifier}（已注销）" in found
    form = {
        "action": "record",
        "document_type": DocumentType.RESIDENT_ID,
        "document_number": number,
        "original_checked": "on",
    }
    refused = client.post("/staff/identity-checks/", {**form, "licence": str(revoked.pk)})
    assert refused.status_code == 200 and "不能用于四级核验" in html.unescape(refused.content.decode())
    assert level_of(citizen) == AssuranceLevel.MOBILE_VERIFIED
    done = client.post("/staff/identity-checks/", {**form, "licence": str(licence.pk)})
    assert done.status_code == 302
    assert level_of(citizen) == AssuranceLevel.IN_PERSON


def test_the_citizen_page_says_whether_the_wallet_holds_a_valid_e_id(
    types: dict[str, LicenceType], client: Client
) -> None:
    citizen = make_citizen("冯七")
    client.force_login(citizen)
    assert 'id="licence-missing"' in client.get("/accounts/real-name/").content.decode()
    issue(types, citizen)
    page = client.get("/accounts/real-name/").content.decode()
    assert 'id="licence-ready"' in page
