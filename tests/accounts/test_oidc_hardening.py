"""Issue 12 items 2 and 3: the OpenID Connect provider under requests a real client, or an attacker, sends."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.test import Client

from yiwang.accounts import oidc

from .test_oidc import REDIRECT_URI, make_citizen, query_of

pytestmark = pytest.mark.django_db


def authorize_query(client_id: str, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": "st-1",
        "code_challenge": create_s256_code_challenge(generate_token(48)),
        "code_challenge_method": "S256",
        **params,
    }
    return "/o/authorize/?" + urlencode(query)


def basic(app: Any, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()}


def test_prompt_none_without_a_session_answers_login_required_to_the_client() -> None:
    app, _secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    response = Client().get(authorize_query(app.client_id, prompt="none"))
    assert response.status_code == 302
    assert response["Location"].startswith(REDIRECT_URI + "?")
    params = query_of(response["Location"])
    assert (params["error"], params["state"]) == ("login_required", "st-1")
    assert "code" not in query_of(response["Location"])


def test_prompt_none_with_a_session_answers_consent_required() -> None:
    app, _secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    browser = Client()
    browser.force_login(make_citizen())
    response = browser.get(authorize_query(app.client_id, prompt="none"))
    assert response.status_code == 302
    params = query_of(response["Location"])
    assert (params["error"], params["state"]) == ("consent_required", "st-1")
    assert "code" not in params


def test_prompt_none_never_redirects_to_an_unregistered_uri() -> None:
    app, _secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    response = Client().get(authorize_query(app.client_id, prompt="none", redirect_uri="https://evil.example/cb"))
    assert response.status_code == 400
    assert "Location" not in response


def test_a_spoofed_session_header_does_not_count_as_a_login() -> None:
    app, _secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    response = Client().get(authorize_query(app.client_id, prompt="none"), headers={oidc.SESSION_USER_KEY: "1"})
    assert query_of(response["Location"])["error"] == "login_required"


@pytest.mark.parametrize(
    "grant", ["urn:ietf:params:oauth:grant-type:device_code", "password", "client_credentials", "implicit", ""]
)
def test_token_endpoint_refuses_other_grants_as_unsupported_grant_type(grant: str) -> None:
    app, secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    response = Client().post(
        "/o/token/",
        {"grant_type": grant, "device_code": "abc", "username": "x", "password": "y"},
        headers=basic(app, secret),
    )
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}
    assert response["Cache-Control"] == "no-store"
