"""The node endpoint is answered right after the security middleware: what stays in front of it still acts
(request id, access log, host check, HTTPS redirect, body size limit), what browser pages need does not run,
and every other path goes down the whole stack as before."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from yiwang.core.problems import ServiceError
from yiwang.exchange.nodes import keys, services
from yiwang.exchange.nodes.middleware import API_RESPONSE_HEADERS

from .helpers import answer_of, post, signed_request

pytestmark = pytest.mark.django_db


def test_a_signed_message_gets_api_headers_and_a_request_id_but_no_cookies(
    node: keys.Signer, peer: keys.Signer, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    client.cookies["django_language"] = "en"
    with caplog.at_level(logging.INFO, logger="yiwang.access"):
        response = post(client, signed_request(peer))
    assert response.status_code == 200 and answer_of(response)["ok"] is True
    for name, value in API_RESPONSE_HEADERS.items():
        assert response[name] == value
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still runs
    assert response["X-Request-ID"]
    assert not response.cookies  # no session, CSRF or language cookie
    assert "Vary" not in response  # no session or locale middleware looked at the request
    lines = [record for record in caplog.records if record.name == "yiwang.access"]
    assert [(line.route, line.status) for line in lines] == [("/exchange/v1/messages", 200)]  # type: ignore[attr-defined]


def test_handlers_run_in_the_sites_language_whatever_the_thread_had(node: keys.Signer, peer: keys.Signer) -> None:
    def language(_peer: services.PeerInfo, _body: dict[str, Any]) -> dict[str, Any]:
        return {"language": translation.get_language()}

    services.register_handler("test.language", language)
    with translation.override("en"):
        response = post(Client(), signed_request(peer, kind="test.language"))
    assert answer_of(response)["result"] == {"language": "zh-hans"}


def test_a_handler_refusal_is_in_the_sites_language(node: keys.Signer, peer: keys.Signer) -> None:
    from django.utils.translation import gettext

    def refuse(_peer: services.PeerInfo, _body: dict[str, Any]) -> dict[str, Any]:
        raise ServiceError("test_no", gettext("简体中文"))

    services.register_handler("test.refuse", refuse)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    answer = answer_of(post(client, signed_request(peer, kind="test.refuse")))
    assert (answer["code"], answer["detail"]) == ("test_no", "简体中文")


def test_a_host_not_allowed_is_refused_before_the_view(node: keys.Signer, peer: keys.Signer) -> None:
    response = post(Client(HTTP_HOST="evil.example"), signed_request(peer))
    assert response.status_code == 400
    assert services.verify_log().checked == 0  # nothing reached the receiver


def test_an_oversized_body_is_refused(node: keys.Signer, peer: keys.Signer, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64
    response = post(Client(), signed_request(peer, {"echo": "x" * 200}))
    assert response.status_code == 400
    assert services.verify_log().checked == 0


def test_plain_http_is_redirected_when_the_site_wants_https(
    node: keys.Signer, peer: keys.Signer, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    response = post(Client(), signed_request(peer))
    assert response.status_code == 301 and response["Location"].startswith("https://")


def test_an_unknown_path_under_the_prefix_is_the_usual_404(peer: keys.Signer) -> None:
    response = Client().post("/exchange/v1/nothing-here", b"{}", content_type="application/json")
    assert response.status_code == 404


def test_pages_still_go_through_the_whole_stack() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    assert "Content-Security-Policy" in response and "default-src 'self'" in response["Content-Security-Policy"]
