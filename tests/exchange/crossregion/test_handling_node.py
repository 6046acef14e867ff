"""The handling node (B): its offered items, a peer's application made into one case of its own, over the signed
node layer too (tampered and replayed messages refused), and its case's public events queued back for the peer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.accounts.factories import make_staff
from tests.exchange.nodes.helpers import answer_of, post, signed_request
from yiwang.accounts.constants import Role
from yiwang.cases import selectors as cases_selectors
from yiwang.cases import services as cases_services
from yiwang.cases.constants import CaseState, Channel
from yiwang.cases.services import applications
from yiwang.core import outbox
from yiwang.exchange.crossregion import services
from yiwang.exchange.crossregion.constants import APPLICATION, CASE_STATUS, CATALOG_ITEMS, DeliveryState
from yiwang.exchange.crossregion.models import Delivery, IncomingApplication
from yiwang.exchange.nodes import keys
from yiwang.exchange.nodes import services as nodes

from .conftest import PEER
from .helpers import ID_NUMBER, application_body, material

pytestmark = pytest.mark.django_db


def test_offered_items_are_online_items_without_situation_questions(offered: dict[str, Any]) -> None:
    items = services.offered_items()
    codes = [i["code"] for i in items]
    assert offered["code"] in codes and len(codes) == len(set(codes))
    for item in items:
        assert item["name"] and item["department"]
        assert all(set(f) == {"key", "label", "type", "required", "max_length", "choices"} for f in item["fields"])
        assert all(set(m) == {"key", "name", "required"} for m in item["materials"])


def test_offered_items_take_a_fixed_number_of_queries_however_many_items(
    monkeypatch: pytest.MonkeyPatch, django_assert_max_num_queries: Any
) -> None:
    # As on a node that has just started: no item definition built yet in this process (they are kept per version).
    monkeypatch.setattr(applications, "_item_definitions", {})
    with django_assert_max_num_queries(4):  # the items with their departments, their materials, their fees
        items = services.offered_items()
    assert len(items) >= 20
    # Each as the item's own definition says, loaded on its own by code.
    monkeypatch.setattr(applications, "_item_definitions", {})
    for item in items:
        definition = cases_selectors.item_definition(item["code"])
        assert not definition.questions
        assert [f["key"] for f in item["fields"]] == [f.key for f in definition.fields]
        assert [m["key"] for m in item["materials"]] == [m.key for m in definition.materials if not m.from_source]


def test_catalog_items_answers_a_registered_peer_over_the_node_layer(client: Any, peer: keys.Signer) -> None:
    request = signed_request(peer, {}, kind=CATALOG_ITEMS)
    response = post(client, request)
    answer = answer_of(response)
    assert response.status_code == 200 and answer["ok"] is True
    assert answer["result"]["node"] == "node-a"
    assert {i["code"] for i in answer["result"]["items"]} == {i["code"] for i in services.offered_items()}


def test_an_application_becomes_one_case_handled_here(peer_info: nodes.PeerInfo, offered: dict[str, Any]) -> None:
    answer = services.receive_application(peer_info, application_body(offered))
    case = cases_selectors.case_by_number(answer["case_number"])
    assert answer == {
        "case_number": case.number,
        "department": case.department.name,
        "state": CaseState.SUBMITTED,
        "state_label": "待受理",
    }
    assert case.channel == Channel.CROSS_REGION and case.item_code == offered["code"]
    assert case.applicant_name == "孙三"
    assert case.agent is not None and case.agent.username == f"node:{PEER}" and not case.agent.is_active
    assert case.assisted_basis == f"cross_region:{PEER}:KS-20261207-000001"
    files = list(cases_selectors.files_of(case))
    assert len(files) == len([m for m in offered["materials"] if m["required"]])
    incoming = IncomingApplication.objects.get()
    assert (incoming.origin_node, incoming.origin_number, incoming.case_id) == (PEER, "KS-20261207-000001", case.pk)

    # Delivered again (the peer never saw the answer): the same case, not a second one.
    assert services.receive_application(peer_info, application_body(offered)) == answer
    assert IncomingApplication.objects.count() == 1


def test_the_same_person_applying_twice_is_one_person(peer_info: nodes.PeerInfo, offered: dict[str, Any]) -> None:
    first = services.receive_application(peer_info, application_body(offered, number="KS-20261207-000001"))
    second = services.receive_application(peer_info, application_body(offered, number="KS-20261207-000002"))
    one = cases_selectors.case_by_number(first["case_number"])
    two = cases_selectors.case_by_number(second["case_number"])
    assert one.pk != two.pk and one.applicant_person_id == two.applicant_person_id


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"item_code": "no-such-item"}, "item_not_offered"),
        ({"applicant": "孙三"}, "bad_application"),
        ({"number": ""}, "bad_application"),
        ({"form_data": {}}, "application_incomplete"),
        ({"materials": []}, "application_incomplete"),
    ],
)
def test_bad_applications_are_refused_and_make_no_case(
    peer_info: nodes.PeerInfo, offered: dict[str, Any], change: dict[str, Any], code: str
) -> None:
    with pytest.raises(
        services.CrossRegionError if code != "application_incomplete" else cases_services.CaseError
    ) as refused:
        services.receive_application(peer_info, application_body(offered, **change))
    assert refused.value.code == code
    assert not IncomingApplication.objects.exists()


def test_a_material_that_does_not_match_its_digest_is_refused(
    peer_info: nodes.PeerInfo, offered: dict[str, Any]
) -> None:
    materials = [material(m["key"]) for m in offered["materials"] if m["required"]]
    materials[0]["sha256"] = "0" * 64
    with pytest.raises(services.CrossRegionError) as refused:
        services.receive_application(peer_info, application_body(offered, materials=materials))
    assert refused.value.code == "material_digest_mismatch"


def test_an_applicant_whose_name_differs_from_the_registered_person_is_refused(
    peer_info: nodes.PeerInfo, offered: dict[str, Any]
) -> None:
    services.receive_application(peer_info, application_body(offered))
    body = application_body(offered, number="KS-20261207-000009")
    body["applicant"] = {**body["applicant"], "name": "孙四"}
    with pytest.raises(services.CrossRegionError) as refused:
        services.receive_application(peer_info, body)
    assert refused.value.code == "applicant_mismatch"
    assert body["applicant"]["document_number"] == ID_NUMBER


def test_over_the_node_layer_a_replayed_or_tampered_application_is_refused(
    client: Any, peer: keys.Signer, offered: dict[str, Any]
) -> None:
    request = signed_request(peer, application_body(offered), kind=APPLICATION)
    first = post(client, request)
    assert first.status_code == 200 and answer_of(first)["result"]["case_number"]
    replayed = post(client, request)
    assert replayed.status_code == 409 and answer_of(replayed)["code"] == "replayed"

    other = signed_request(peer, application_body(offered, number="KS-20261207-000002"), kind=APPLICATION)
    tampered = post(
        client, type(other)(other.headers, other.body.replace(b"KS-20261207-000002", b"KS-20261207-000003"))
    )
    assert tampered.status_code == 400 and answer_of(tampered)["code"] == "digest_mismatch"
    assert list(IncomingApplication.objects.values_list("origin_number", flat=True)) == ["KS-20261207-000001"]


def test_a_refusal_by_the_case_engine_travels_back_signed_with_its_code(
    client: Any, peer: keys.Signer, offered: dict[str, Any]
) -> None:
    response = post(client, signed_request(peer, application_body(offered, materials=[]), kind=APPLICATION))
    assert response.status_code == 422 and answer_of(response)["code"] == "application_incomplete"


def _drain() -> None:
    while outbox.process_batch("test"):
        pass


def test_public_case_events_are_queued_for_the_applying_node_once(
    peer_info: nodes.PeerInfo, offered: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(nodes, "send", lambda code, kind, body: sent.append((code, kind, body)) or {"recorded": True})
    answer = services.receive_application(peer_info, application_body(offered))
    _drain()
    assert sent == []  # the submission itself is in the answer
    case = cases_selectors.case_by_number(answer["case_number"])
    clerk = make_staff(Role.COUNTER_CLERK, case.department.code)
    cases_services.perform(case.number, "accept", actor=clerk)
    _drain()
    assert [(code, kind) for code, kind, _body in sent] == [(PEER, CASE_STATUS)]
    body = sent[0][2]
    assert body["origin_number"] == "KS-20261207-000001" and body["case_number"] == case.number
    assert body["action"] == "accept" and body["state"] == CaseState.IN_REVIEW and body["state_label"] == "审查中"
    assert body["action_label"] == "受理" and body["department"] == case.department.name
    delivery = Delivery.objects.get(kind=CASE_STATUS)
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 1

    # A case that did not come from a peer reports nothing.
    sent.clear()
    services.report_case_event(
        type("E", (), {"payload": {"case_id": case.pk + 10_000, "event_id": 1, "action": "accept"}})()
    )
    assert sent == [] and Delivery.objects.count() == 1
