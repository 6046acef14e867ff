"""Issue 12 items 2 and 3: the OpenID Connect provider under requests a real client, or an attacker, sends."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from urllib.parse import urlencode

import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.test import Client
from django.utils import timezone

from yiwang.accounts import oidc
from yiwang.accounts.models import OidcClientScopes, RedeemedAuthorizationCode, User
from yiwang.core.models import AuditEvent

from .test_oidc import REDIRECT_URI, form_fields, make_citizen, query_of

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


# --- issue 12 item 3 -------------------------------------------------------------------------


def _consent_page(browser: Client, client_id: str, scope: str, verifier: str) -> Any:
    page = browser.get(
        authorize_query(client_id, scope=scope, code_challenge=create_s256_code_challenge(verifier)),
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert page.status_code == 200, page.content[:300]
    return page


def _consented_code(
    browser: Client, client_id: str, scope: str, verifier: str, edits: dict[str, str] | None = None
) -> str:
    page = _consent_page(browser, client_id, scope, verifier)
    fields = form_fields(page.content.decode(), "/o/authorize/")
    fields.update({"allow": "on", **(edits or {})})
    answer = browser.post("/o/authorize/", fields, headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 302, answer.content[:300]
    return query_of(answer["Location"])["code"]


def _exchange(app: Any, secret: str, code: str, verifier: str) -> Any:
    return Client().post(
        "/o/token/",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
        headers=basic(app, secret),
    )


def _userinfo(access_token: str) -> int:
    return Client().get("/o/userinfo/", headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_a_replayed_code_revokes_the_tokens_it_gave() -> None:
    app, secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    browser = Client()
    browser.force_login(make_citizen(name="钱多", mobile="13912345672", sequence="739"))
    verifier = generate_token(48)
    code = _consented_code(browser, app.client_id, "openid profile", verifier)
    first = _exchange(app, secret, code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert _userinfo(tokens["access_token"]) == 200

    replay = _exchange(app, secret, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert _userinfo(tokens["access_token"]) == 401
    refreshed = Client().post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=basic(app, secret),
    )
    assert refreshed.status_code == 400
    assert AuditEvent.objects.filter(event="oidc.code_replayed").count() == 1


def test_a_replayed_code_also_revokes_tokens_refreshed_since() -> None:
    app, secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    browser = Client()
    browser.force_login(make_citizen(name="钱多", mobile="13912345673", sequence="740"))
    verifier = generate_token(48)
    code = _consented_code(browser, app.client_id, "openid", verifier)
    tokens = _exchange(app, secret, code, verifier).json()
    refreshed = (
        Client()
        .post(
            "/o/token/",
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            headers=basic(app, secret),
        )
        .json()
    )
    assert _userinfo(refreshed["access_token"]) == 200
    assert _exchange(app, secret, code, verifier).status_code == 400
    assert _userinfo(refreshed["access_token"]) == 401


def test_an_unknown_code_revokes_nothing() -> None:
    app, secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    response = _exchange(app, secret, "never-issued", generate_token(48))
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert not AuditEvent.objects.filter(event="oidc.code_replayed").exists()


def test_consent_uses_the_scopes_shown_not_an_edited_hidden_field() -> None:
    app, secret = oidc.register_client(
        name="示范市公积金系统", redirect_uris=[REDIRECT_URI], scopes=["profile", "phone", "identity", "staff"]
    )
    browser = Client()
    browser.force_login(make_citizen(name="钱多", mobile="13912345674", sequence="741"))
    verifier = generate_token(48)
    code = _consented_code(browser, app.client_id, "openid", verifier, {"scope": "openid profile phone identity staff"})
    tokens = _exchange(app, secret, code, verifier).json()
    assert tokens["scope"] == "openid"


def test_a_consent_post_without_a_consent_page_is_refused() -> None:
    app, _secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    browser = Client()
    browser.force_login(make_citizen(name="钱多", mobile="13912345675", sequence="742"))
    fields = {
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile",
        "code_challenge": create_s256_code_challenge(generate_token(48)),
        "code_challenge_method": "S256",
        "allow": "on",
    }
    response = browser.post("/o/authorize/", fields)
    assert response.status_code == 400
    assert "Location" not in response


def test_a_client_may_ask_only_for_its_allowed_scopes() -> None:
    app, _secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    assert oidc.allowed_scopes(app) == {"openid", "profile"}
    browser = Client()
    browser.force_login(make_citizen(name="钱多", mobile="13912345676", sequence="743"))
    refused = browser.get(
        authorize_query(app.client_id, scope="openid phone"), headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert refused.status_code == 302
    params = query_of(refused["Location"])
    assert (params["error"], params["state"]) == ("invalid_scope", "st-1")
    allowed = browser.get(authorize_query(app.client_id, scope="openid profile"))
    assert allowed.status_code == 200


def test_registering_a_client_with_an_unknown_scope_is_refused() -> None:
    with pytest.raises(oidc.OidcClientError, match="未知的授权范围"):
        oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI], scopes=["everything"])


def test_a_client_without_a_scope_list_gets_only_openid() -> None:
    app, _secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI], scopes=["profile"])
    OidcClientScopes.objects.filter(application=app).delete()
    assert oidc.allowed_scopes(app) == {"openid"}


def test_platform_administrators_set_a_clients_scopes_in_the_admin() -> None:
    app, _secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    row = OidcClientScopes.objects.get(application=app)
    admin = User.objects.create_superuser(username="root-scopes", password="Admin-Scopes-42")
    browser = Client()
    browser.force_login(admin)
    page = browser.get(f"/admin/accounts/oidcclientscopes/{row.pk}/change/")
    assert page.status_code == 200 and 'value="phone"' in page.content.decode()
    saved = browser.post(
        f"/admin/accounts/oidcclientscopes/{row.pk}/change/",
        {"application": app.pk, "scopes": ["profile", "phone"]},
    )
    assert saved.status_code == 302, saved.content[:500]
    assert oidc.allowed_scopes(app) == {"openid", "profile", "phone"}
    unknown = browser.post(
        f"/admin/accounts/oidcclientscopes/{row.pk}/change/", {"application": app.pk, "scopes": ["everything"]}
    )
    assert unknown.status_code == 200
    assert oidc.allowed_scopes(app) == {"openid", "profile", "phone"}


def test_exchanged_codes_are_remembered_for_a_month_only() -> None:
    app, secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    stale = RedeemedAuthorizationCode.objects.create(
        code_digest="0" * 64, application=app, redeemed_at=timezone.now() - oidc.REDEEMED_CODE_MEMORY - dt.timedelta(1)
    )
    browser = Client()
    browser.force_login(make_citizen(name="钱多", mobile="13912345677", sequence="744"))
    verifier = generate_token(48)
    assert (
        _exchange(app, secret, _consented_code(browser, app.client_id, "openid", verifier), verifier).status_code == 200
    )
    assert not RedeemedAuthorizationCode.objects.filter(pk=stale.pk).exists()
    assert RedeemedAuthorizationCode.objects.filter(application=app).count() == 1
