"""Real-name level 3 online (ADR 0030): name and resident ID matched against household registration."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import make_citizen
from tests.exchange.conftest import add_household
from yiwang.accounts import services as accounts_services
from yiwang.accounts.constants import AssuranceLevel
from yiwang.accounts.models import AssuranceRecord, DataAccessRecord
from yiwang.core.audit import AuditEvent
from yiwang.exchange.models import Consent, ExchangeRecord

pytestmark = pytest.mark.usefixtures("catalogue")


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def level_of(user: Any) -> int:
    user.person.refresh_from_db()
    return int(user.person.assurance_level)


def test_a_matching_household_record_raises_the_person_to_level_3_through_a_recorded_exchange() -> None:
    citizen = make_citizen("郑六")
    add_household(citizen.person)
    record = accounts_services.verify_by_household_register(actor=citizen, consent=True)
    assert level_of(citizen) == AssuranceLevel.IDENTITY_VERIFIED
    assert (record.method, record.level, record.raised, record.checked_by_id) == ("household_register", 3, True, None)
    exchange = ExchangeRecord.objects.get(exchange_id=record.exchange_id)
    assert (exchange.service.code, exchange.consumer.code, exchange.outcome) == ("household", "police", "answered")
    assert exchange.fields == ["name", "id_number"] and exchange.subject_person_id == citizen.person.pk
    # The person sees the read in 谁用了我的数据, with the exchange id.
    access = DataAccessRecord.objects.get(person=citizen.person)
    assert access.exchange_id == record.exchange_id and access.department_name == "示范市公安局"
    # The consent covered this one request and was withdrawn straight after it.
    consent = Consent.objects.get(person=citizen.person)
    assert consent.revoked_at is not None and exchange.consent_id == consent.pk
    assert AuditEvent.objects.filter(event="assurance.raised", on_behalf_of_person_id=citizen.person.pk).exists()


def test_a_mismatched_name_is_refused_with_the_exchange_id() -> None:
    citizen = make_citizen("郑六")
    row = add_household(citizen.person)
    row.name = "郑陆"
    row.save()
    with pytest.raises(accounts_services.IdentityError) as refused:
        accounts_services.verify_by_household_register(actor=citizen, consent=True)
    assert refused.value.code == "name_mismatch"
    exchange_id = refused.value.extra["exchange_id"]
    assert ExchangeRecord.objects.get(exchange_id=exchange_id).outcome == "answered"
    assert level_of(citizen) == AssuranceLevel.MOBILE_VERIFIED
    assert not AssuranceRecord.objects.exists()
    event = AuditEvent.objects.get(event="assurance.refused")
    assert event.detail == {"code": "name_mismatch", "exchange_id": exchange_id}


def test_a_person_the_register_does_not_hold_is_refused() -> None:
    citizen = make_citizen("郑六")
    with pytest.raises(accounts_services.IdentityError) as refused:
        accounts_services.verify_by_household_register(actor=citizen, consent=True)
    assert refused.value.code == "no_record"
    assert ExchangeRecord.objects.get(exchange_id=refused.value.extra["exchange_id"]).outcome == "no_record"
    assert level_of(citizen) == AssuranceLevel.MOBILE_VERIFIED


def test_without_consent_nothing_is_asked() -> None:
    citizen = make_citizen("郑六")
    add_household(citizen.person)
    with pytest.raises(accounts_services.IdentityError) as refused:
        accounts_services.verify_by_household_register(actor=citizen, consent=False)
    assert refused.value.code == "consent_required"
    assert not ExchangeRecord.objects.exists() and not Consent.objects.exists()


def test_repeated_failed_matches_lock_the_online_route() -> None:
    citizen = make_citizen("郑六")
    for _attempt in range(accounts_services.assurance.MATCH_FAILURES_BEFORE_LOCK):
        with pytest.raises(accounts_services.IdentityError) as refused:
            accounts_services.verify_by_household_register(actor=citizen, consent=True)
        assert refused.value.code == "no_record"
    add_household(citizen.person)
    with pytest.raises(accounts_services.IdentityError) as locked:
        accounts_services.verify_by_household_register(actor=citizen, consent=True)
    assert locked.value.code == "locked" and locked.value.status == 429
    assert ExchangeRecord.objects.count() == accounts_services.assurance.MATCH_FAILURES_BEFORE_LOCK


def test_a_person_already_at_level_3_is_not_matched_again() -> None:
    citizen = make_citizen("郑六")
    add_household(citizen.person)
    accounts_services.verify_by_household_register(actor=citizen, consent=True)
    with pytest.raises(accounts_services.IdentityError) as refused:
        accounts_services.verify_by_household_register(actor=citizen, consent=True)
    assert refused.value.code == "already_verified"
    assert ExchangeRecord.objects.count() == 1


def test_the_page_matches_and_returns_to_the_item(client: Client) -> None:
    citizen = make_citizen("郑六")
    add_household(citizen.person)
    client.force_login(citizen)
    page = text(client.get("/accounts/real-name/?next=/apply/item/X/"))
    assert "比对户籍信息" in page and 'name="next" value="/apply/item/X/"' in page
    refused = client.post("/accounts/real-name/", {"next": "/apply/item/X/"})
    assert refused.status_code == 200 and "请阅读并同意" in text(refused)
    done = client.post("/accounts/real-name/", {"consent": "on", "next": "/apply/item/X/"})
    assert done.status_code == 302 and done["Location"] == "/apply/item/X/"
    assert level_of(citizen) == AssuranceLevel.IDENTITY_VERIFIED
    record = AssuranceRecord.objects.get(method="household_register")
    assert record.exchange_id in text(client.get("/accounts/data-access/"))
    assert record.exchange_id in text(client.get("/accounts/real-name/"))


def test_the_page_shows_a_mismatch_with_its_exchange_id(client: Client) -> None:
    citizen = make_citizen("郑六")
    row = add_household(citizen.person)
    row.name = "郑陆"
    row.save()
    client.force_login(citizen)
    page = client.post("/accounts/real-name/", {"consent": "on"})
    body = text(page)
    assert page.status_code == 200 and "户籍登记的姓名与您账户中的姓名不一致" in body
    assert ExchangeRecord.objects.get().exchange_id in body
