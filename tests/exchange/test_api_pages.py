"""The API (problem details, pagination, who sees what) and the pages of data sharing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.accounts.factories import full_number
from tests.exchange.conftest import add_household
from yiwang.exchange import services
from yiwang.exchange.demo import CATERING
from yiwang.exchange.models import Consent

pytestmark = pytest.mark.django_db


def _client(user: Any = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_the_open_catalogue_needs_no_login_and_hides_closed_entries(catalogue: None) -> None:
    response = _client().get("/api/v1/exchange/resources?limit=2")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3  # 户籍 (有条件开放), 市场主体, 失信名单; social insurance etc. are 不予开放
    assert len(body["items"]) == 2
    codes = {item["code"] for item in _client().get("/api/v1/exchange/resources").json()["items"]}
    assert "RES-HRSS-0001" not in codes
    page = _client().get(reverse("exchange:catalogue")).content.decode()
    assert "市场主体登记信息" in page and "社会保险参保信息" not in page


def test_a_request_beyond_the_policy_is_a_problem_naming_the_rule(
    catalogue: None, police_reviewer: Any, citizen: Any
) -> None:
    add_household(citizen.person)
    body = {
        "service": "household",
        "consumer": "police",
        "subject_kind": "person",
        "subject": full_number(citizen.person),
        "fields": ["name", "household_number"],
        "purpose": "核验",
    }
    response = _post(_client(police_reviewer), "/api/v1/exchange/requests", body)
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "field_not_shared"
    assert problem["rule"] == "field_share_type:not_shared"
    assert problem["exchange_id"].startswith("EX")
    body["fields"] = ["name"]
    assert _post(_client(police_reviewer), "/api/v1/exchange/requests", body).json()["code"] == "consent_required"


def test_an_unconditional_request_through_the_api(catalogue: None, market_reviewer: Any, citizen: Any) -> None:
    body = {
        "service": "enterprise",
        "consumer": "market",
        "subject_kind": "organisation",
        "subject": CATERING,
        "fields": ["status"],
        "purpose": "核验营业执照状态",
    }
    response = _post(_client(market_reviewer), "/api/v1/exchange/requests", body)
    assert response.status_code == 200
    assert response.json()["data"] == {"status": "存续"}
    assert _post(_client(citizen), "/api/v1/exchange/requests", body).json()["code"] == "forbidden"
    listed = _client(market_reviewer).get("/api/v1/exchange/exchanges").json()
    assert listed["count"] == 1 and listed["items"][0]["outcome"] == "answered"
    assert _client(citizen).get("/api/v1/exchange/exchanges").json()["count"] == 0


def test_consents_through_the_api_are_the_persons_own(catalogue: None, citizen: Any, other_citizen: Any) -> None:
    created = _post(
        _client(citizen), "/api/v1/exchange/me/consents", {"service": "marriage", "days": 30, "purpose": "办事"}
    )
    assert created.status_code == 201
    consent_id = created.json()["id"]
    assert _client(other_citizen).get("/api/v1/exchange/me/consents").json()["count"] == 0
    path = f"/api/v1/exchange/me/consents/{consent_id}/revoke"
    assert _client(other_citizen).post(path).status_code == 404
    revoked = _client(citizen).post(path)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    bad = _post(_client(citizen), "/api/v1/exchange/me/consents", {"service": "marriage", "days": 3, "purpose": "x"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_days"


def test_my_exchanges_are_only_mine(catalogue: None, police_reviewer: Any, citizen: Any, other_citizen: Any) -> None:
    add_household(citizen.person)
    services.give_consent(actor=citizen, service_code="household", days=30, purpose="办事")
    services.request_data(
        actor=police_reviewer,
        consumer_code="police",
        service_code="household",
        subject=services.subject_for_person(citizen.person),
        fields=["name"],
        purpose="核验",
    )
    mine = _client(citizen).get("/api/v1/exchange/me/exchanges").json()
    assert mine["count"] == 1 and mine["items"][0]["consumer"] == "示范市公安局"
    assert _client(other_citizen).get("/api/v1/exchange/me/exchanges").json()["count"] == 0
    data_access = _client(citizen).get(reverse("accounts:data_access")).content.decode()
    assert mine["items"][0]["exchange_id"] in data_access
    assert _client(citizen).get("/api/v1/accounts/me/data-access").json()["items"][0]["exchange_id"].startswith("EX")


def test_the_consent_page_gives_and_revokes(catalogue: None, citizen: Any) -> None:
    client = _client(citizen)
    assert "婚姻状况查询" in client.get(reverse("exchange:consents")).content.decode()
    assert client.post(reverse("exchange:consents"), {"service": "marriage", "days": "90"}).status_code == 302
    (consent,) = Consent.objects.filter(person=citizen.person)
    client.post(reverse("exchange:consent_revoke", args=[consent.pk]))
    consent.refresh_from_db()
    assert consent.revoked_at is not None


def test_the_desk_is_for_staff(catalogue: None, police_reviewer: Any, citizen: Any) -> None:
    assert _client(police_reviewer).get(reverse("exchange:desk")).status_code == 200
    assert _client(citizen).get(reverse("exchange:desk")).status_code == 403
    assert _client().get(reverse("exchange:desk")).status_code == 302


def test_staff_request_data_on_the_desk(catalogue: None, market_reviewer: Any, police_reviewer: Any) -> None:
    form = {
        "service": "enterprise",
        "consumer": "market",
        "subject_kind": "organisation",
        "subject": CATERING,
        "fields": "name，status",
        "purpose": "核验营业执照",
    }
    page = _client(market_reviewer).post(reverse("exchange:desk"), form)
    assert page.status_code == 200
    text = page.content.decode()
    assert "示范市幸福餐饮有限公司" in text and "存续" in text and "示范市人民大道120号" not in text
    # Police staff may not ask in market's name; the market option is not even offered to them.
    refused = _client(police_reviewer).post(reverse("exchange:desk"), form)
    assert refused.status_code == 400
    assert 'value="market"' not in refused.content.decode()
    beyond = _client(market_reviewer).post(reverse("exchange:desk"), {**form, "fields": "name,shoe_size"})
    assert beyond.status_code == 400
