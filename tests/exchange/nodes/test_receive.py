"""Inbound messages: a signed ping is answered, signed and bound to the request; every bad message is refused
with its code, the refusal signed, and both logged."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.test import Client

from yiwang.core.problems import ServiceError
from yiwang.exchange.nodes import keys, services
from yiwang.exchange.nodes.models import LogEntry, SeenNonce

from .conftest import PEER, make_signer
from .helpers import Request, answer_of, answer_verifies, post, signed_request

pytestmark = pytest.mark.django_db


def _public(signer: keys.Signer) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(signer.public_key)


def _outcomes() -> list[tuple[str, str, str, str]]:
    return list(LogEntry.objects.order_by("sequence").values_list("direction", "message_type", "peer_code", "outcome"))


def test_a_signed_ping_is_answered_signed_and_both_are_logged(node: keys.Signer, peer: keys.Signer) -> None:
    request = signed_request(peer, {"echo": "你好"})
    response = post(Client(), request)
    assert response.status_code == 200
    assert answer_of(response) == {"ok": True, "result": {"echo": "你好", "from": PEER, "node": "node-a", "pong": True}}
    assert answer_verifies(response, _public(node), request)
    assert response["exchange-in-reply-to"] == request.headers["exchange-message-id"]
    assert response["exchange-to"] == PEER
    assert _outcomes() == [("received", "request", PEER, "ok"), ("sent", "response", PEER, "ok")]
    logged = LogEntry.objects.get(sequence=1)
    assert logged.message_id == request.headers["exchange-message-id"]
    assert '"@target-uri": http://testserver/exchange/v1/messages' in logged.signature_base
    assert services.verify_log().ok


def test_the_answer_does_not_verify_for_another_request(node: keys.Signer, peer: keys.Signer) -> None:
    request = signed_request(peer)
    response = post(Client(), request)
    other = signed_request(peer)
    assert not answer_verifies(response, _public(node), other)


def _refused(request: Request, code: str, status: int, node: keys.Signer, *, bound: bool = True) -> dict[str, Any]:
    response = post(Client(), request)
    answer = answer_of(response)
    assert (response.status_code, answer["ok"], answer["code"]) == (status, False, code), answer
    assert answer_verifies(response, _public(node), request, bound=bound), "refusals are signed too"
    assert LogEntry.objects.filter(direction="received", outcome=code).exists()
    return answer


def test_missing_signature_headers_are_refused(node: keys.Signer, peer: keys.Signer) -> None:
    request = signed_request(peer)
    del request.headers["signature"]
    _refused(request, "signature_missing", 401, node, bound=False)
    request = signed_request(peer)
    del request.headers["signature-input"]
    _refused(request, "signature_missing", 401, node, bound=False)


def test_a_malformed_signature_input_is_refused(node: keys.Signer, peer: keys.Signer) -> None:
    request = signed_request(peer)
    request.headers["signature-input"] = 'sig1=("@method";created=abc'
    _refused(request, "signature_malformed", 400, node, bound=False)


def test_a_signature_that_leaves_out_a_required_component_is_refused(node: keys.Signer, peer: keys.Signer) -> None:
    request = signed_request(peer)
    request.headers["signature-input"] = request.headers["signature-input"].replace('"content-digest" ', "")
    answer = _refused(request, "signature_malformed", 400, node, bound=False)
    assert answer["detail"].endswith("content-digest")


def test_a_body_that_does_not_match_its_digest_is_refused(node: keys.Signer, peer: keys.Signer) -> None:
    request = signed_request(peer, {"echo": "a"})
    request.body = request.body.replace(b'"a"', b'"b"')
    _refused(request, "digest_mismatch", 400, node)


def test_a_missing_digest_is_refused(node: keys.Signer, peer: keys.Signer) -> None:
    request = signed_request(peer)
    del request.headers["content-digest"]
    _refused(request, "digest_mismatch", 400, node)


def test_a_tampered_message_with_a_fresh_digest_fails_its_signature(node: keys.Signer, peer: keys.Signer) -> None:
    from yiwang.exchange.nodes import httpsig

    request = signed_request(peer, {"echo": "a"})
    request.body = request.body.replace(b'"a"', b'"b"')
    request.headers["content-digest"] = httpsig.content_digest(request.body)
    _refused(request, "bad_signature", 401, node)


def test_a_changed_covered_header_fails_the_signature(node: keys.Signer, peer: keys.Signer) -> None:
    services.register_handler("other", lambda peer, body: {})
    request = signed_request(peer)
    request.headers["exchange-kind"] = "other"
    _refused(request, "bad_signature", 401, node)


def test_a_message_from_an_unregistered_node_is_refused(node: keys.Signer, peer: keys.Signer) -> None:
    stranger = make_signer("node-c")
    _refused(signed_request(stranger), "unknown_key", 401, node)
    assert LogEntry.objects.filter(peer_code="node-c", outcome="unknown_key").count() == 2


def test_another_key_of_a_registered_node_is_refused(node: keys.Signer, peer: keys.Signer) -> None:
    impostor = make_signer(PEER)  # right code, wrong key
    _refused(signed_request(impostor), "unknown_key", 401, node)


def test_a_deactivated_peer_is_refused(node: keys.Signer, peer: keys.Signer) -> None:
    services.deactivate_peer(PEER)
    _refused(signed_request(peer), "unknown_key", 401, node)


def test_old_and_future_timestamps_are_refused(node: keys.Signer, peer: keys.Signer, settings: Any) -> None:
    settings.YIWANG_EXCHANGE_CLOCK_SKEW_SECONDS = 30
    _refused(signed_request(peer, created=int(time.time()) - 90), "message_too_old", 401, node)
    _refused(signed_request(peer, created=int(time.time()) + 90), "message_from_future", 401, node)
    assert post(Client(), signed_request(peer, created=int(time.time()) - 20)).status_code == 200


def test_a_replayed_message_is_refused(node: keys.Signer, peer: keys.Signer) -> None:
    request = signed_request(peer)
    assert post(Client(), request).status_code == 200
    _refused(request, "replayed", 409, node)
    assert SeenNonce.objects.count() == 1


def test_a_reused_nonce_in_a_new_message_is_refused(node: keys.Signer, peer: keys.Signer) -> None:
    assert post(Client(), signed_request(peer, nonce="n" * 22)).status_code == 200
    _refused(signed_request(peer, {"echo": "again"}, nonce="n" * 22), "replayed", 409, node)


def test_a_message_for_another_node_is_refused(node: keys.Signer, peer: keys.Signer) -> None:
    _refused(signed_request(peer, to="node-c"), "wrong_recipient", 421, node)


def test_a_body_that_is_not_a_json_object_is_refused(node: keys.Signer, peer: keys.Signer) -> None:
    from yiwang.exchange.nodes import httpsig

    for body in (b"[1, 2]", b"not json"):
        fresh = signed_request(peer)
        fresh.body = body
        fresh.headers["content-digest"] = httpsig.content_digest(body)
        # The digest is signed, so a new body needs a new signature: sign it as the peer would.
        resigned = _resign(peer, fresh)
        _refused(resigned, "bad_body", 400, node)


def _resign(signer: keys.Signer, request: Request) -> Request:
    from yiwang.exchange.nodes import messages
    from yiwang.exchange.nodes.constants import MESSAGES_PATH, REQUEST_COMPONENTS, REQUEST_TAG
    from yiwang.exchange.nodes.httpsig import Component

    headers = {k: v for k, v in request.headers.items() if k not in {"signature", "signature-input"}}
    values = {"@method": "POST", "@target-uri": "http://testserver" + MESSAGES_PATH, **headers}
    signed = messages.sign(signer, tuple(Component(n) for n in REQUEST_COMPONENTS), values, tag=REQUEST_TAG)
    return Request({**headers, "signature-input": signed.signature_input, "signature": signed.signature}, request.body)


def test_an_unknown_kind_gets_a_signed_refusal(node: keys.Signer, peer: keys.Signer) -> None:
    _refused(signed_request(peer, kind="no-such-kind"), "unknown_kind", 404, node)


def test_a_handler_refusal_keeps_its_code(node: keys.Signer, peer: keys.Signer) -> None:
    def refuse(peer: services.PeerInfo, body: dict[str, Any]) -> dict[str, Any]:
        raise ServiceError("consent_missing", "数据主体未授权")

    services.register_handler("test.refuse", refuse)
    answer = _refused(signed_request(peer, kind="test.refuse"), "consent_missing", 422, node)
    assert answer["detail"] == "数据主体未授权"


def test_a_failing_handler_answers_handler_failed(node: keys.Signer, peer: keys.Signer) -> None:
    def broken(peer: services.PeerInfo, body: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    services.register_handler("test.broken", broken)
    _refused(signed_request(peer, kind="test.broken"), "handler_failed", 500, node)


def test_only_post_is_accepted(peer: keys.Signer) -> None:
    assert Client().get("/exchange/v1/messages").status_code == 405


def test_a_browser_session_is_no_authentication(peer: keys.Signer, node: keys.Signer) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/exchange/v1/messages", b"{}", content_type="application/json")
    assert response.status_code == 401 and answer_of(response)["code"] == "signature_missing"
