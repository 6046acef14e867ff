"""The provider node answers a peer's data_request under its own policy: only the asked fields, a refusal with
its code for more fields than the catalogue shares or a conditional share without valid consent evidence, and
an exchange record on its side naming the peer node and its department."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from yiwang.accounts import services as accounts_services
from yiwang.accounts.models import DataAccessRecord
from yiwang.core.identifiers import DocumentType
from yiwang.exchange import remote
from yiwang.exchange.constants import Outcome
from yiwang.exchange.demo import CATERING, ZHANG_SAN
from yiwang.exchange.models import DataService, ExchangeRecord
from yiwang.exchange.nodes import keys
from yiwang.exchange.nodes.models import LogEntry

from .conftest import PEER
from .helpers import answer_of, answer_verifies, post, signed_request

pytestmark = pytest.mark.django_db

ASKED = ["name", "address", "relation_to_head"]


def _evidence(**changes: Any) -> dict[str, Any]:
    now = timezone.now()
    evidence = {
        "id": 41,
        "consumer": "edu",
        "fields": ["name", "address", "household_head", "relation_to_head"],
        "purpose": "办理入学",
        "given_at": (now - dt.timedelta(days=1)).isoformat(),
        "expires_at": (now + dt.timedelta(days=29)).isoformat(),
    }
    return {**evidence, **changes}


def _body(**changes: Any) -> dict[str, Any]:
    body = {
        "service": "household",
        "subject": {"kind": "person", "id_number": ZHANG_SAN},
        "fields": ASKED,
        "purpose": "办理义务教育入学：核验户籍",
        "legal_basis": "《义务教育法》第十二条",
        "case_reference": "申请88",
        "consumer": {"code": "edu", "name": "乙市教育局"},
        "exchange_id": "EX20261207ABCDEF0123",
        "consent": _evidence(),
    }
    return {**body, **changes}


def _ask(peer: keys.Signer, body: dict[str, Any], kind: str = remote.DATA_REQUEST) -> Any:
    return post(Client(), signed_request(peer, body, kind=kind))


def _refusal(response: Any) -> str:
    answer = answer_of(response)
    assert response.status_code == 422 and answer["ok"] is False, answer
    return str(answer["code"])


def test_the_asked_fields_are_answered_signed_and_recorded_with_the_peer(
    catalogue: None, node: keys.Signer, peer: keys.Signer
) -> None:
    request = signed_request(peer, _body(), kind=remote.DATA_REQUEST)
    response = post(Client(), request)
    answer = answer_of(response)
    assert response.status_code == 200, answer
    assert answer_verifies(response, Ed25519PublicKey.from_public_bytes(node.public_key), request)
    result = answer["result"]
    assert result["found"] is True
    assert result["data"] == {"name": "张三", "address": result["data"]["address"], "relation_to_head": "户主"}
    assert set(result["data"]) == set(ASKED) and result["data"]["address"]  # nothing beyond the asked fields
    record = ExchangeRecord.objects.get(exchange_id=result["exchange_id"])
    assert record.outcome == Outcome.ANSWERED and record.service.code == "household"
    assert record.consumer is None and record.consumer_label == "乙市教育局（node-b）"
    assert (record.peer_node, record.peer_exchange_id) == (PEER, "EX20261207ABCDEF0123")
    assert record.fields == ASKED and record.transport == "local" and record.case_reference == "申请88"
    assert record.consent_evidence["id"] == "41" and record.consent_evidence["consumer"] == "edu"
    logged = list(LogEntry.objects.order_by("sequence").values_list("direction", "kind", "outcome"))
    assert logged == [("received", "data_request", "ok"), ("sent", "data_request", "ok")]


def test_a_person_of_this_platform_sees_the_peers_department_in_their_list(
    catalogue: None, node: keys.Signer, peer: keys.Signer
) -> None:
    person = accounts_services.create_person(
        name="张三", document_type=DocumentType.RESIDENT_ID, document_number=ZHANG_SAN
    )
    result = answer_of(_ask(peer, _body()))["result"]
    access = DataAccessRecord.objects.get(person=person, exchange_id=result["exchange_id"])
    assert access.department_name == "乙市教育局" and "乙节点" in access.accessor_label
    assert access.accessor is None and access.fields == ["常住人口户籍信息·姓名", "常住人口户籍信息·户籍地址",
                                                         "常住人口户籍信息·与户主关系"]  # fmt: skip


def test_more_fields_than_the_policy_allows_are_refused_with_the_rule_and_recorded(
    catalogue: None, node: keys.Signer, peer: keys.Signer
) -> None:
    response = _ask(peer, _body(fields=["name", "household_number"]))
    assert _refusal(response) == "field_not_shared"
    assert "户号" in answer_of(response)["detail"]
    record = ExchangeRecord.objects.get(peer_exchange_id="EX20261207ABCDEF0123")
    assert (record.outcome, record.refusal_code, record.peer_node) == (Outcome.REFUSED, "field_not_shared", PEER)
    assert record.remote_consumer == "乙市教育局"


@pytest.mark.parametrize(
    ("consent", "code"),
    [
        (None, "consent_required"),
        ("yes", "consent_required"),
        (_evidence(fields=["name"]), "consent_required"),  # does not cover every asked field
        (_evidence(consumer="police"), "consent_required"),  # given to another department
        (_evidence(expires_at="2026-12-07T10:00:00"), "consent_required"),  # no time zone: not evidence
        (_evidence(expires_at=(timezone.now() - dt.timedelta(minutes=1)).isoformat()), "consent_expired"),
    ],
)
def test_a_conditional_share_needs_consent_evidence_that_covers_it(
    catalogue: None, node: keys.Signer, peer: keys.Signer, consent: Any, code: str
) -> None:
    assert _refusal(_ask(peer, _body(consent=consent))) == code
    record = ExchangeRecord.objects.get(peer_exchange_id="EX20261207ABCDEF0123")
    assert (record.outcome, record.refusal_code) == (Outcome.REFUSED, code)


def test_consent_given_for_any_department_covers_the_peers(
    catalogue: None, node: keys.Signer, peer: keys.Signer
) -> None:
    response = _ask(peer, _body(consent=_evidence(consumer="")))
    assert answer_of(response)["result"]["found"] is True


def test_an_unconditional_share_needs_no_consent(catalogue: None, node: keys.Signer, peer: keys.Signer) -> None:
    body = _body(
        service="enterprise", subject={"kind": "organisation", "credit_code": CATERING}, fields=["name"], consent=None
    )
    assert answer_of(_ask(peer, body))["result"]["data"] == {"name": "示范市幸福餐饮有限公司"}


def test_no_record_is_an_answer_and_is_recorded(catalogue: None, node: keys.Signer, peer: keys.Signer) -> None:
    stranger = "11010519491231002X"
    result = answer_of(_ask(peer, _body(subject={"kind": "person", "id_number": stranger})))["result"]
    assert result["found"] is False and "data" not in result
    assert ExchangeRecord.objects.get(exchange_id=result["exchange_id"]).outcome == Outcome.NO_RECORD


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"service": "nothing-here"}, "not_found"),
        ({"subject": {"kind": "person", "id_number": "123"}}, "invalid_subject"),
        ({"subject": {"kind": "organisation", "credit_code": CATERING}}, "invalid_subject"),
        ({"subject": "张三"}, "invalid_subject"),
        ({"purpose": " "}, "purpose_required"),
        ({"consumer": {"name": "无代码"}}, "invalid_consumer"),
        ({"fields": []}, "no_fields"),
        ({"fields": ["name", "salary"]}, "unknown_field"),
    ],
)
def test_bad_requests_are_refused_with_their_code_and_not_recorded(
    catalogue: None, node: keys.Signer, peer: keys.Signer, changes: dict[str, Any], code: str
) -> None:
    assert _refusal(_ask(peer, _body(**changes))) == code
    assert not ExchangeRecord.objects.exists()


def test_a_node_answers_only_for_services_it_holds_itself(
    catalogue: None, node: keys.Signer, peer: keys.Signer
) -> None:
    DataService.objects.filter(code="household").update(transport="node:node-c", remote_code="household")
    assert _refusal(_ask(peer, _body())) == "not_found"
    assert _refusal(_ask(peer, {"service": "household"}, kind=remote.DATA_SERVICE)) == "not_found"


def test_a_service_is_described_with_its_fields_and_share_types(
    catalogue: None, node: keys.Signer, peer: keys.Signer
) -> None:
    described = answer_of(_ask(peer, {"service": "household"}, kind=remote.DATA_SERVICE))["result"]
    assert described["code"] == "household" and described["backend"] == "household"
    assert described["resource"]["department"]["code"] == "police"
    assert described["resource"]["share_type"] == "conditional"
    shares = {f["key"]: f["share_type"] for f in described["fields"]}
    assert shares["household_number"] == "not_shared" and shares["name"] == "conditional"


def test_an_unregistered_sender_gets_nothing(catalogue: None, node: keys.Signer) -> None:
    from .conftest import make_signer

    response = _ask(make_signer("node-x"), _body())
    assert answer_of(response)["code"] == "unknown_key"
    assert not ExchangeRecord.objects.exists()


def test_the_providers_staff_see_the_peers_department_on_the_desk_and_in_the_api(
    catalogue: None, node: keys.Signer, peer: keys.Signer, police_reviewer: Any
) -> None:
    exchange_id = answer_of(_ask(peer, _body()))["result"]["exchange_id"]
    client = Client()
    client.force_login(police_reviewer)
    (item,) = client.get("/api/v1/exchange/exchanges").json()["items"]
    assert (item["exchange_id"], item["consumer"], item["outcome"]) == (exchange_id, "乙市教育局（node-b）", "answered")
    page = client.get(reverse("exchange:desk")).content.decode()
    assert exchange_id in page and "乙市教育局（node-b）" in page


def test_the_admin_lists_exchanges_of_a_peers_department(
    catalogue: None, node: keys.Signer, peer: keys.Signer, django_user_model: Any
) -> None:
    exchange_id = answer_of(_ask(peer, _body()))["result"]["exchange_id"]
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("admin-x", password="admin-long-password"))
    page = client.get("/admin/exchange/exchangerecord/").content.decode()
    assert exchange_id in page and "乙市教育局（node-b）" in page
