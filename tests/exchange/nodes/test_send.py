"""Sending: the node signs, posts, checks the signed answer and logs both; every way it can go wrong raises
an ExchangeError with a stable code. The peer here is this node itself, reached through the test client."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from yiwang.exchange.nodes import keys, services
from yiwang.exchange.nodes.models import LogEntry

from .conftest import NODE, SERVER, make_signer, public_b64

pytestmark = pytest.mark.django_db

Transport = Callable[[str, Any, bytes], tuple[int, dict[str, str], bytes]]


def _through_client(url: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
    assert url.startswith(SERVER)
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    extra.pop("HTTP_CONTENT_TYPE", None)
    response = Client().post(url.removeprefix(SERVER), body, content_type=headers["content-type"], **extra)
    return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content


@pytest.fixture
def loopback(node: keys.Signer, monkeypatch: pytest.MonkeyPatch) -> Callable[[Transport], None]:
    """This node registered as its own peer; ``use(transport)`` replaces the HTTP transport."""
    services.add_peer(NODE, SERVER, base64.b64encode(node.public_key).decode())
    monkeypatch.setattr(services, "_post", _through_client)
    return lambda transport: monkeypatch.setattr(services, "_post", transport)


def _outcomes() -> list[tuple[str, str, str]]:
    return list(LogEntry.objects.order_by("sequence").values_list("direction", "message_type", "outcome"))


def test_a_ping_comes_back_verified_and_four_entries_are_logged(loopback: Any) -> None:
    assert services.send(NODE, "ping", {"echo": "测试"}) == {"echo": "测试", "from": NODE, "node": NODE, "pong": True}
    # The receiving side logs request then answer; the sending side logs its request then the answer.
    assert _outcomes() == [
        ("received", "request", "ok"),
        ("sent", "response", "ok"),
        ("sent", "request", "ok"),
        ("received", "response", "ok"),
    ]
    sent = LogEntry.objects.get(direction="sent", message_type="request")
    assert LogEntry.objects.get(direction="received", message_type="request").message_id == sent.message_id
    assert services.verify_log().ok


def test_an_unknown_peer_is_refused_before_anything_is_sent(loopback: Any) -> None:
    with pytest.raises(services.ExchangeError) as raised:
        services.send("nowhere", "ping", {})
    assert raised.value.code == "peer_unknown" and raised.value.status == 404
    assert not LogEntry.objects.exists()


def test_a_bad_kind_or_body_is_refused(loopback: Any) -> None:
    with pytest.raises(services.ExchangeError) as raised:
        services.send(NODE, "Bad Kind", {})
    assert raised.value.code == "bad_message"
    with pytest.raises(services.ExchangeError) as raised:
        services.send(NODE, "ping", {"when": object()})
    assert raised.value.code == "bad_message"


def test_an_unreachable_peer_raises_and_is_logged(node: keys.Signer) -> None:
    services.add_peer("down", "http://127.0.0.1:9", public_b64(make_signer("down")))
    with pytest.raises(services.ExchangeError) as raised:
        services.send("down", "ping", {})
    assert raised.value.code == "peer_unreachable"
    assert _outcomes() == [("sent", "request", "peer_unreachable")]


def test_a_refusal_raises_with_the_peers_reason(loopback: Any) -> None:
    with pytest.raises(services.ExchangeError) as raised:
        services.send(NODE, "no-such-kind", {})
    assert raised.value.code == "peer_refused" and raised.value.extra["reason"] == "unknown_kind"
    assert [outcome for *_, outcome in _outcomes()][2:] == ["unknown_kind", "ok"]


def _tampering(change: Callable[[int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]) -> Transport:
    def transport(url: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        return change(*_through_client(url, headers, body))

    return transport


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda s, h, b: (s, h, b.replace(b"true", b"false")), "digest_mismatch"),
        (lambda s, h, b: (s, {k: v for k, v in h.items() if k != "signature"}, b), "signature_missing"),
        (lambda s, h, b: (201, h, b), "bad_signature"),
        (lambda s, h, b: (s, {**h, "exchange-in-reply-to": "0" * 32}, b), "bad_signature"),
    ],
    ids=["body", "no-signature", "status", "reply-to"],
)
def test_a_tampered_answer_raises_bad_signature(loopback: Any, change: Any, why: str) -> None:
    loopback(_tampering(change))
    with pytest.raises(services.ExchangeError) as raised:
        services.send(NODE, "ping", {})
    assert raised.value.code == "peer_bad_signature"
    assert _outcomes()[-2:] == [("sent", "request", "peer_bad_signature"), ("received", "response", why)]


def test_an_answer_signed_by_another_key_raises(loopback: Any, node: keys.Signer) -> None:
    # The peer is registered with a key that is not the one answering.
    services.add_peer(NODE, SERVER, public_b64(make_signer(NODE)))
    with pytest.raises(services.ExchangeError) as raised:
        services.send(NODE, "ping", {})
    assert raised.value.code in {"peer_bad_signature", "peer_refused"}


def test_an_answer_replayed_for_a_new_request_raises(loopback: Any) -> None:
    kept: list[tuple[int, dict[str, str], bytes]] = []

    def record(status: int, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        kept.append((status, headers, body))
        return status, headers, body

    loopback(_tampering(record))
    services.send(NODE, "ping", {})
    loopback(lambda url, headers, body: kept[0])
    with pytest.raises(services.ExchangeError) as raised:
        services.send(NODE, "ping", {})
    assert raised.value.code == "peer_bad_signature"


def test_the_identity_and_peers(node: keys.Signer) -> None:
    me = services.identity()
    assert me.code == NODE and me.key_id == f"{NODE}:{node.fingerprint}"
    assert base64.b64decode(me.public_key) == node.public_key
    keys.reset_signer()
    assert services.identity() == me, "the key is kept, not made again"
    with pytest.raises(services.ExchangeError):
        services.add_peer("bad code", SERVER, me.public_key)
    with pytest.raises(services.ExchangeError):
        services.add_peer("b", "ftp://x", me.public_key)
    with pytest.raises(services.ExchangeError):
        services.add_peer("b", SERVER, "AAAA")
    services.add_peer("b", SERVER + "/", me.public_key, name="乙")
    assert services.peers() == [services.PeerInfo("b", "乙", SERVER, node.fingerprint)]
    assert services.deactivate_peer("b") and not services.deactivate_peer("b")
    assert services.peers() == []
