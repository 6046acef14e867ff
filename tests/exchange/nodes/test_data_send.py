"""The consumer's node: transport. A data service held by a peer is registered from the peer's description,
asked for in a signed data_request, and the answer mapped back: the asked fields, the provider's refusal
recorded as refused with its code and rule, and a provider that cannot answer as provider_unavailable (the
material is uploaded instead). The peer here is this node itself, reached through the test client, so both
sides' records are in one database; the HTTP layer is replaced as in test_send.py."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.cases import builders
from tests.cases.conftest import item_code
from tests.exchange.conftest import add_insurance
from yiwang.cases import services as case_services
from yiwang.cases.definitions import applicable
from yiwang.exchange import remote, services
from yiwang.exchange.constants import Outcome, ShareType
from yiwang.exchange.models import DataService, ExchangeRecord, ResourceField
from yiwang.exchange.nodes import keys
from yiwang.exchange.nodes import services as node_services
from yiwang.exchange.nodes.models import LogEntry

from .conftest import NODE, SERVER, make_signer, public_b64

pytestmark = pytest.mark.django_db

Post = Callable[[str, Any, bytes], tuple[int, dict[str, str], bytes]]
FIELDS = ["name", "address"]


def _through_client(url: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
    assert url.startswith(SERVER)
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    extra.pop("HTTP_CONTENT_TYPE", None)
    response = Client().post(url.removeprefix(SERVER), body, content_type=headers["content-type"], **extra)
    return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content


class Wire:
    """What went over the (replaced) HTTP layer: each message's kind and body."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.post: Post = _through_client

    def __call__(self, url: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        self.sent.append((headers["exchange-kind"], json.loads(body)))
        return self.post(url, headers, body)


@pytest.fixture
def wire(catalogue: None, node: keys.Signer, monkeypatch: pytest.MonkeyPatch) -> Wire:
    """This node as its own peer, holding ``household``; ``remote-household`` is the same service reached as a
    peer's, registered from its description."""
    node_services.add_peer(NODE, SERVER, base64.b64encode(node.public_key).decode(), name="本节点")
    wire = Wire()
    monkeypatch.setattr(node_services, "_post", wire)
    remote.register_remote_service(NODE, "household", code="remote-household")
    wire.sent.clear()
    return wire


def _consent(citizen: Any, service: str = "remote-household", consumer: str | None = "police") -> Any:
    return services.give_consent(
        actor=citizen, service_code=service, days=30, purpose="办理落户", consumer_code=consumer
    )


def _ask(citizen: Any, fields: list[str] = FIELDS, service: str = "remote-household") -> services.ExchangeResult:
    return services.request_data(
        actor=None,
        consumer_code="police",
        service_code=service,
        subject=services.subject_for_person(citizen.person),
        fields=fields,
        purpose="核验申请人户籍",
        case_reference="申请7",
        for_applicant=True,
    )


def _refused(code: str, citizen: Any, fields: list[str] = FIELDS) -> services.ExchangeError:
    with pytest.raises(services.ExchangeError) as caught:
        _ask(citizen, fields)
    assert caught.value.code == code, caught.value.message
    return caught.value


def _zhang_san(citizen: Any) -> Any:
    """The citizen fixture's person, entered in the household register (the provider's table)."""
    from tests.exchange.conftest import add_household

    add_household(citizen.person)
    return citizen


def test_registering_a_peers_service_copies_its_terms(wire: Wire) -> None:
    service = DataService.objects.get(code="remote-household")
    assert (service.transport, service.remote_code, service.backend) == ("node:node-a", "household", "household")
    assert service.resource.code == "node-a:RES-POLICE-0001" and service.resource.department.code == "police"
    shares = dict(service.resource.fields.values_list("key", "share_type"))
    assert shares["household_number"] == ShareType.NOT_SHARED and shares["name"] == ShareType.CONDITIONAL
    assert "居民户口簿" in service.material_sources
    # Registering again takes up the provider's current terms.
    ResourceField.objects.filter(resource__code="RES-POLICE-0001", key="gender").update(share_type="not_shared")
    remote.register_remote_service(NODE, "household", code="remote-household")
    assert service.resource.fields.get(key="gender").share_type == ShareType.NOT_SHARED


def test_registering_refuses_a_local_code_an_unknown_department_and_an_unknown_service(wire: Wire) -> None:
    with pytest.raises(services.ExchangeError) as caught:
        remote.register_remote_service(NODE, "household")  # "household" is this node's own service
    assert caught.value.code == "service_exists"
    with pytest.raises(services.ExchangeError) as caught:
        remote.register_remote_service(NODE, "household", code="x-household", department_code="nowhere")
    assert caught.value.code == "invalid_department"
    with pytest.raises(node_services.ExchangeError) as refused:
        remote.register_remote_service(NODE, "nothing-here", code="x")
    assert refused.value.extra["reason"] == "not_found"


def test_a_peers_service_answers_the_asked_fields_and_both_sides_record_it(wire: Wire, citizen: Any) -> None:
    consent = _consent(_zhang_san(citizen))
    result = _ask(citizen)
    assert result.data == {"name": citizen.person.name, "address": "示范市幸福街道幸福路9号"}
    ((kind, body),) = wire.sent
    assert kind == "data_request"
    assert body["service"] == "household" and body["fields"] == FIELDS and body["case_reference"] == "申请7"
    assert body["consumer"]["code"] == "police" and body["exchange_id"] == result.exchange_id
    assert body["subject"]["kind"] == "person" and len(body["subject"]["id_number"]) == 18
    assert body["consent"]["id"] == consent.pk and body["consent"]["fields"] == consent.fields
    here = ExchangeRecord.objects.get(exchange_id=result.exchange_id)
    there = ExchangeRecord.objects.get(peer_exchange_id=result.exchange_id)
    assert (here.transport, here.peer_node, here.peer_exchange_id) == ("node:node-a", NODE, there.exchange_id)
    assert here.consent == consent and here.outcome == there.outcome == Outcome.ANSWERED
    assert there.service.code == "household" and there.consumer is None and there.peer_node == NODE
    assert there.consent_evidence["id"] == str(consent.pk)


def test_the_providers_own_stricter_policy_refuses_and_the_consumer_records_it(wire: Wire, citizen: Any) -> None:
    _consent(_zhang_san(citizen))
    # The provider no longer shares the address; this node's copy of its terms still says it does.
    ResourceField.objects.filter(resource__code="RES-POLICE-0001", key="address").update(share_type="not_shared")
    error = _refused("field_not_shared", citizen)
    assert error.status == 403 and error.extra["rule"] == "field_share_type:not_shared" and "户籍地址" in error.message
    here = ExchangeRecord.objects.get(exchange_id=error.extra["exchange_id"])
    assert (here.outcome, here.refusal_code, here.peer_node) == (Outcome.REFUSED, "field_not_shared", NODE)
    there = ExchangeRecord.objects.get(peer_exchange_id=here.exchange_id)
    assert (there.outcome, there.refusal_code) == (Outcome.REFUSED, "field_not_shared")


def test_fields_this_nodes_copy_refuses_are_not_even_sent(wire: Wire, citizen: Any) -> None:
    _consent(_zhang_san(citizen))
    error = _refused("field_not_shared", citizen, ["name", "household_number"])
    assert error.extra["rule"] == "field_share_type:not_shared"
    assert wire.sent == []


def test_a_revoked_consent_stops_further_fetches_without_a_message(wire: Wire, citizen: Any) -> None:
    consent = _consent(_zhang_san(citizen))
    _ask(citizen)
    services.revoke_consent(actor=citizen, consent_id=consent.pk)
    sent = len(wire.sent)
    logged = LogEntry.objects.count()
    error = _refused("consent_revoked", citizen)
    assert error.extra["rule"] == "consent:revoked"
    assert len(wire.sent) == sent and LogEntry.objects.count() == logged


def test_no_record_at_the_provider_is_no_record_here(wire: Wire, citizen: Any) -> None:
    _consent(citizen)  # the citizen is not in the provider's register
    error = _refused("no_record", citizen)
    here = ExchangeRecord.objects.get(exchange_id=error.extra["exchange_id"])
    assert here.outcome == Outcome.NO_RECORD and here.peer_exchange_id


@pytest.mark.parametrize(
    "fault",
    ["unreachable", "timeout", "handler_failed", "bad_signature", "unknown_peer", "peer_removed"],
)
def test_a_provider_that_cannot_answer_is_provider_unavailable(
    wire: Wire, citizen: Any, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    _consent(_zhang_san(citizen))

    def unreachable(url: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        raise ConnectionRefusedError(111, "Connection refused")

    def timeout(url: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        raise TimeoutError("timed out")

    def failing(peer: Any, body: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("the provider's database is down")

    def forged(url: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        status, answer_headers, answer = _through_client(url, headers, body)
        return status, answer_headers, answer.replace(b'"found":true', b'"found":false')  # changed on the way

    if fault == "unreachable":
        wire.post = unreachable
    elif fault == "timeout":
        wire.post = timeout
    elif fault == "handler_failed":
        monkeypatch.setitem(node_services._handlers, remote.DATA_REQUEST, failing)
    elif fault == "bad_signature":
        wire.post = forged
    elif fault == "unknown_peer":
        DataService.objects.filter(code="remote-household").update(transport="node:node-z")
    else:
        node_services.deactivate_peer(NODE)
    error = _refused("provider_unavailable", citizen)
    assert error.status == 503
    assert ExchangeRecord.objects.get(exchange_id=error.extra["exchange_id"]).outcome == Outcome.FAILED


def test_a_5xx_from_a_peer_that_is_not_yiwang_is_provider_unavailable(wire: Wire, citizen: Any) -> None:
    _consent(_zhang_san(citizen))
    wire.post = lambda url, headers, body: (502, {"content-type": "text/html"}, b"<h1>Bad Gateway</h1>")
    _refused("provider_unavailable", citizen)


def _draft(user: Any) -> tuple[Any, str]:
    application = case_services.start_application(
        actor=user, applicant=case_services.applicant_for(user), item_code=item_code("人才引进落户", "police")
    )
    builders.fill(application, user)
    definition = case_services.application_definition(application)
    chosen = builders.answer_all(definition)
    shared = [m for m in applicable(definition, chosen).materials if m.from_source == "社会保险参保信息"]
    return application, shared[0].key


def test_a_material_from_a_peer_that_is_down_falls_back_to_upload_and_the_case_goes_on(
    wire: Wire, citizen: Any
) -> None:
    add_insurance(citizen.person)
    # The social-insurance service is held by another node, which is down.
    node_services.add_peer("node-down", "http://127.0.0.1:9", public_b64(make_signer("node-down")))
    DataService.objects.filter(code="social_insurance").update(transport="node:node-down")
    application, key = _draft(citizen)
    services.give_consent(actor=citizen, service_code="social_insurance", days=30, purpose="办事")
    wire.post = lambda url, headers, body: (_ for _ in ()).throw(ConnectionRefusedError(111, "refused"))
    client = Client()
    client.force_login(citizen)
    response = client.post(reverse("exchange:material", args=[application.pk, key]), {"action": "fetch"})
    assert response.status_code == 503
    page = response.content.decode()
    assert "暂时不可用" in page and reverse("cases:application_upload", args=[application.pk]) in page
    (case,) = case_services.submit_application(application, actor=citizen)
    assert case.number


def test_a_material_is_taken_from_this_nodes_own_service_before_a_peers(wire: Wire) -> None:
    # remote-household sorts before household by code and supplies the same materials.
    assert [s.code for s in services.services_for_source("居民户口簿")] == ["household", "remote-household"]
    DataService.objects.filter(code="household").update(active=False)
    assert [s.code for s in services.services_for_source("居民户口簿")] == ["remote-household"]
