"""Department systems request shared data and read their exchanges with client-credentials tokens (issue 15 parts
3 and 5): the token's department tree is the only consumer it may name, the provider's policy and the person's
consent still decide, the scope is required, and the records name the system that asked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import full_number
from tests.cases.test_department_systems import bearer, get_token, service_account
from tests.exchange.conftest import add_household
from yiwang.core.audit import AuditEvent
from yiwang.directory.selectors import department_by_code
from yiwang.exchange import services
from yiwang.exchange.demo import CATERING
from yiwang.exchange.models import ExchangeRecord

pytestmark = pytest.mark.django_db

ENTERPRISE_STATUS = {
    "service": "enterprise",
    "consumer": "market",
    "subject_kind": "organisation",
    "subject": CATERING,
    "fields": ["status"],
    "purpose": "核验营业执照状态",
}


def _token(department: str, *scopes: str) -> dict[str, str]:
    account, secret, _admin = service_account(department, scopes=scopes, name=f"{department}-{'-'.join(scopes)}")
    return bearer(get_token(account, secret))


def _request(headers: dict[str, str], body: dict[str, Any]) -> Any:
    return Client().post(
        "/api/v1/exchange/requests", data=json.dumps(body), content_type="application/json", headers=headers
    )


def test_a_department_system_requests_for_its_department_and_the_record_names_it(catalogue: None) -> None:
    headers = _token("market", "exchange:request")
    response = _request(headers, ENTERPRISE_STATUS)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["data"] == {"status": "存续"}  # only the field asked for
    record = ExchangeRecord.objects.get(exchange_id=answer["exchange_id"])
    assert record.consumer.code == "market" and record.requested_by is None
    assert "market-exchange:request" in record.requester_label and "service-account:" in record.requester_label
    audit = AuditEvent.objects.filter(target=f"exchange.ExchangeRecord:{record.exchange_id}").get()
    assert audit.actor_label.startswith("service-account:")


def test_a_department_system_cannot_ask_in_another_departments_name(catalogue: None) -> None:
    response = _request(_token("market", "exchange:request"), {**ENTERPRISE_STATUS, "consumer": "police"})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not ExchangeRecord.objects.exists()


def test_the_scope_is_required(catalogue: None) -> None:
    response = _request(_token("market", "cases:read"), ENTERPRISE_STATUS)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert 'scope="exchange:request"' in response["WWW-Authenticate"]
    listed = Client().get("/api/v1/exchange/exchanges", headers=_token("market", "exchange:request"))
    assert listed.status_code == 403  # requesting does not include reading the records


def test_the_providers_policy_and_consent_still_decide_for_a_token(catalogue: None, citizen: Any) -> None:
    add_household(citizen.person)
    body = {
        "service": "household",
        "consumer": "police",
        "subject_kind": "person",
        "subject": full_number(citizen.person),
        "fields": ["name"],
        "purpose": "核验户籍",
    }
    headers = _token("police", "exchange:request")
    refused = _request(headers, body)
    assert refused.status_code == 403 and refused.json()["code"] == "consent_required"
    beyond = _request(headers, {**body, "fields": ["name", "household_number"]})
    assert beyond.json()["code"] == "field_not_shared"
    services.give_consent(actor=citizen, service_code="household", days=30, purpose="办事", consumer_code="police")
    answered = _request(headers, body)
    assert answered.status_code == 200 and set(answered.json()["data"]) == {"name"}


def test_a_bad_or_revoked_token_is_refused(catalogue: None) -> None:
    assert _request({"Authorization": "Bearer not-a-token"}, ENTERPRISE_STATUS).status_code == 401
    assert _request({"Authorization": "Basic abc"}, ENTERPRISE_STATUS).status_code == 401


def test_reading_exchanges_keeps_to_the_department_tree_and_staff_names_stay_inside(
    catalogue: None, citizen: Any, police_reviewer: Any
) -> None:
    assert _request(_token("market", "exchange:request"), ENTERPRISE_STATUS).status_code == 200
    add_household(citizen.person)
    services.give_consent(actor=citizen, service_code="household", days=30, purpose="办事", consumer_code="police")
    services.request_data(
        actor=police_reviewer,
        consumer_code="police",
        service_code="household",
        subject=services.subject_for_person(citizen.person),
        fields=["name"],
        purpose="核验户籍",
    )
    market = Client().get("/api/v1/exchange/exchanges", headers=_token("market", "exchange:read")).json()
    assert market["count"] == 1  # not the police's exchange
    assert market["items"][0]["service"] == "enterprise"
    assert market["items"][0]["consumer"] == department_by_code("market").name
    police = Client().get("/api/v1/exchange/exchanges", headers=_token("police", "exchange:read")).json()
    assert police["count"] == 1 and police["items"][0]["requester"]  # staff see who asked
    client = Client()
    client.force_login(citizen)
    mine = client.get("/api/v1/exchange/me/exchanges").json()
    assert mine["count"] == 1 and mine["items"][0]["requester"] == ""
