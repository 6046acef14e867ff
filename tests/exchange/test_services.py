"""The provider's policy over every request: fields, share types, consent, transports, the record of each."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from tests.accounts.factories import full_number
from tests.exchange.conftest import add_household, add_insurance
from yiwang.accounts.models import DataAccessRecord
from yiwang.exchange import selectors, services, transports
from yiwang.exchange.constants import Outcome, ShareType
from yiwang.exchange.demo import BUILDING, CATERING
from yiwang.exchange.models import Consent, DataService, ExchangeRecord, Resource

pytestmark = pytest.mark.django_db

HOUSEHOLD_FIELDS = ["name", "address", "household_head"]


def ask(actor: Any, service: str, subject: services.Subject, fields: list[str], **kw: Any) -> services.ExchangeResult:
    return services.request_data(
        actor=actor,
        consumer_code=kw.pop("consumer", "police"),
        service_code=service,
        subject=subject,
        fields=fields,
        purpose=kw.pop("purpose", "核验申请人户籍"),
        **kw,
    )


def refused(code: str, call: Any) -> services.ExchangeError:
    with pytest.raises(services.ExchangeError) as caught:
        call()
    assert caught.value.code == code, caught.value.message
    return caught.value


def test_an_unconditional_share_answers_exactly_the_fields_asked(catalogue: None, market_reviewer: Any) -> None:
    subject = services.subject_for_credit_code(CATERING)
    result = ask(market_reviewer, "enterprise", subject, ["status", "name"], consumer="market", purpose="核验营业执照")
    assert result.data == {"name": "示范市幸福餐饮有限公司", "status": "存续"}  # nothing beyond what was asked
    record = ExchangeRecord.objects.get(exchange_id=result.exchange_id)
    assert record.outcome == Outcome.ANSWERED
    assert record.fields == ["name", "status"]
    assert record.consumer.code == "market"
    assert result.exchange_id.startswith("EX")


def test_the_credit_list_answers_listed_or_not(catalogue: None, market_reviewer: Any) -> None:
    listed = ask(market_reviewer, "credit", services.subject_for_credit_code(BUILDING), ["listed"], consumer="market")
    clean = ask(market_reviewer, "credit", services.subject_for_credit_code(CATERING), ["listed"], consumer="market")
    assert listed.data == {"listed": "是"}
    assert clean.data == {"listed": "否"}


def test_a_field_the_policy_does_not_share_is_refused_with_the_rule(
    catalogue: None, police_reviewer: Any, citizen: Any
) -> None:
    add_household(citizen.person)
    subject = services.subject_for_person(citizen.person)
    error = refused(
        "field_not_shared", lambda: ask(police_reviewer, "household", subject, ["name", "household_number"])
    )
    assert error.status == 403
    assert error.extra["rule"] == "field_share_type:not_shared"
    assert error.extra["fields"] == ["household_number"]
    record = ExchangeRecord.objects.get(exchange_id=error.extra["exchange_id"])
    assert (record.outcome, record.refusal_code) == (Outcome.REFUSED, "field_not_shared")
    assert not DataAccessRecord.objects.filter(person=citizen.person).exists()


def test_a_resource_not_shared_refuses_every_request(catalogue: None, market_reviewer: Any) -> None:
    Resource.objects.filter(code="RES-MARKET-0001").update(share_type=ShareType.NOT_SHARED)
    subject = services.subject_for_credit_code(CATERING)
    error = refused("not_shared", lambda: ask(market_reviewer, "enterprise", subject, ["name"], consumer="market"))
    assert error.extra["rule"] == "share_type:not_shared"


def test_a_field_is_never_more_open_than_its_resource(catalogue: None, market_reviewer: Any) -> None:
    resource = Resource.objects.get(code="RES-MARKET-0001")
    resource.fields.filter(key="business_scope").update(share_type=ShareType.NOT_SHARED)
    subject = services.subject_for_credit_code(CATERING)
    refused(
        "field_not_shared", lambda: ask(market_reviewer, "enterprise", subject, ["business_scope"], consumer="market")
    )


@pytest.mark.parametrize(
    ("fields", "purpose", "code"),
    [([], "核验", "no_fields"), (["shoe_size"], "核验", "unknown_field"), (["name"], "  ", "purpose_required")],
)
def test_bad_requests_are_refused(
    catalogue: None, police_reviewer: Any, citizen: Any, fields: list[str], purpose: str, code: str
) -> None:
    subject = services.subject_for_person(citizen.person)
    refused(code, lambda: ask(police_reviewer, "household", subject, fields, purpose=purpose))


def test_bad_subjects_and_unknown_services_are_refused(catalogue: None, police_reviewer: Any, citizen: Any) -> None:
    refused("invalid_subject", lambda: services.subject_for_id_number("110101199001011234"))
    refused("invalid_subject", lambda: services.subject_for_credit_code("91NOTACODE"))
    subject = services.subject_for_person(citizen.person)
    refused("not_found", lambda: ask(police_reviewer, "no-such-service", subject, ["name"]))
    # A person's service asked about an organisation.
    refused(
        "invalid_subject",
        lambda: ask(police_reviewer, "household", services.subject_for_credit_code(CATERING), ["name"]),
    )


def test_only_staff_of_the_consumer_department_may_request(catalogue: None, police_reviewer: Any, citizen: Any) -> None:
    subject = services.subject_for_credit_code(CATERING)
    refused("forbidden", lambda: ask(citizen, "enterprise", subject, ["name"], consumer="market"))
    refused("forbidden", lambda: ask(police_reviewer, "enterprise", subject, ["name"], consumer="market"))
    assert ask(police_reviewer, "enterprise", subject, ["name"], consumer="police").data == {
        "name": "示范市幸福餐饮有限公司"
    }


def test_a_conditional_share_without_consent_is_refused(catalogue: None, police_reviewer: Any, citizen: Any) -> None:
    add_household(citizen.person)
    subject = services.subject_for_person(citizen.person)
    error = refused("consent_required", lambda: ask(police_reviewer, "household", subject, HOUSEHOLD_FIELDS))
    assert error.extra["rule"] == "consent:required"
    assert ExchangeRecord.objects.get(exchange_id=error.extra["exchange_id"]).outcome == Outcome.REFUSED


def test_with_consent_the_person_sees_who_used_their_data(catalogue: None, police_reviewer: Any, citizen: Any) -> None:
    add_household(citizen.person)
    consent = services.give_consent(actor=citizen, service_code="household", days=30, purpose="办理户籍业务")
    subject = services.subject_for_id_number(full_number(citizen.person))  # by number: the person is found
    result = ask(police_reviewer, "household", subject, HOUSEHOLD_FIELDS, case_reference="CASE-1")
    assert result.data == {
        "name": citizen.person.name,
        "address": "示范市幸福街道幸福路9号",
        "household_head": citizen.person.name,
    }
    record = ExchangeRecord.objects.get(exchange_id=result.exchange_id)
    assert record.consent == consent
    assert record.subject_person == citizen.person
    access = DataAccessRecord.objects.get(person=citizen.person)
    assert access.exchange_id == result.exchange_id
    assert access.case_reference == "CASE-1"
    assert access.department_name == "示范市公安局"
    assert access.purpose == "核验申请人户籍"
    assert access.fields == ["常住人口户籍信息·姓名", "常住人口户籍信息·户籍地址", "常住人口户籍信息·户主姓名"]


def test_consent_for_another_department_does_not_cover_this_one(
    catalogue: None, police_reviewer: Any, citizen: Any
) -> None:
    add_household(citizen.person)
    services.give_consent(actor=citizen, service_code="household", days=30, purpose="办事", consumer_code="housing")
    subject = services.subject_for_person(citizen.person)
    refused("consent_required", lambda: ask(police_reviewer, "household", subject, HOUSEHOLD_FIELDS))


def test_consent_to_fewer_fields_does_not_cover_more(catalogue: None, police_reviewer: Any, citizen: Any) -> None:
    add_household(citizen.person)
    services.give_consent(actor=citizen, service_code="household", days=30, purpose="办事", fields=["name"])
    subject = services.subject_for_person(citizen.person)
    assert ask(police_reviewer, "household", subject, ["name"]).data == {"name": citizen.person.name}
    refused("consent_required", lambda: ask(police_reviewer, "household", subject, ["name", "address"]))


def test_revoked_consent_is_refused(catalogue: None, police_reviewer: Any, citizen: Any) -> None:
    add_household(citizen.person)
    consent = services.give_consent(actor=citizen, service_code="household", days=30, purpose="办事")
    services.revoke_consent(actor=citizen, consent_id=consent.pk)
    subject = services.subject_for_person(citizen.person)
    error = refused("consent_revoked", lambda: ask(police_reviewer, "household", subject, HOUSEHOLD_FIELDS))
    assert error.extra["rule"] == "consent:revoked"


def test_expired_consent_is_refused(catalogue: None, police_reviewer: Any, citizen: Any) -> None:
    add_household(citizen.person)
    consent = services.give_consent(actor=citizen, service_code="household", days=7, purpose="办事")
    Consent.objects.filter(pk=consent.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    subject = services.subject_for_person(citizen.person)
    refused("consent_expired", lambda: ask(police_reviewer, "household", subject, HOUSEHOLD_FIELDS))


def test_only_the_person_may_consent_or_revoke(
    catalogue: None, police_reviewer: Any, citizen: Any, other_citizen: Any
) -> None:
    consent = services.give_consent(actor=citizen, service_code="household", days=30, purpose="办事")
    refused("not_found", lambda: services.revoke_consent(actor=other_citizen, consent_id=consent.pk))
    refused(
        "forbidden",
        lambda: services.give_consent(actor=police_reviewer, service_code="household", days=30, purpose="x"),
    )
    refused("invalid_days", lambda: services.give_consent(actor=citizen, service_code="household", days=5, purpose="x"))
    # An organisation's data is not the person's to consent to.
    refused("not_found", lambda: services.give_consent(actor=citizen, service_code="enterprise", days=30, purpose="x"))
    assert Consent.objects.get(pk=consent.pk).revoked_at is None


def test_no_record_and_provider_down_are_recorded(catalogue: None, police_reviewer: Any, citizen: Any) -> None:
    services.give_consent(actor=citizen, service_code="social_insurance", days=30, purpose="办事")
    subject = services.subject_for_person(citizen.person)
    missing = refused("no_record", lambda: ask(police_reviewer, "social_insurance", subject, ["status"]))
    assert ExchangeRecord.objects.get(exchange_id=missing.extra["exchange_id"]).outcome == Outcome.NO_RECORD
    add_insurance(citizen.person)
    DataService.objects.filter(code="social_insurance").update(transport="node-nobody-registered")
    down = refused("provider_unavailable", lambda: ask(police_reviewer, "social_insurance", subject, ["status"]))
    assert down.status == 503
    assert ExchangeRecord.objects.get(exchange_id=down.extra["exchange_id"]).outcome == Outcome.FAILED


def test_a_service_held_by_another_node_goes_through_its_registered_transport(
    catalogue: None, market_reviewer: Any
) -> None:
    calls: list[tuple[str, list[str]]] = []

    def remote(service: Any, subject: services.Subject, fields: Any, request: Any) -> dict[str, str]:
        calls.append((subject.key, list(fields)))
        return {"name": "远端答复", "status": "存续", "extra": "never passed on"}

    transports.register_transport("node-b", remote)
    try:
        DataService.objects.filter(code="enterprise").update(transport="node-b")
        result = ask(
            market_reviewer, "enterprise", services.subject_for_credit_code(CATERING), ["name"], consumer="market"
        )
    finally:
        transports.unregister_transport("node-b")
    assert calls == [(CATERING, ["name"])]
    assert result.data == {"name": "远端答复"}
    assert ExchangeRecord.objects.get(exchange_id=result.exchange_id).transport == "node-b"


def test_a_citizen_sees_only_their_own_exchanges(
    catalogue: None, police_reviewer: Any, citizen: Any, other_citizen: Any
) -> None:
    add_household(citizen.person)
    services.give_consent(actor=citizen, service_code="household", days=30, purpose="办事")
    result = ask(police_reviewer, "household", services.subject_for_person(citizen.person), ["name"])
    assert [r.exchange_id for r in selectors.my_exchanges(citizen)] == [result.exchange_id]
    assert list(selectors.my_exchanges(other_citizen)) == []
    assert list(selectors.exchanges_seen_by(other_citizen)) == []
    assert [r.exchange_id for r in selectors.exchanges_seen_by(police_reviewer)] == [result.exchange_id]
