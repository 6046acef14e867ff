"""Single sign-on: Yiwang as OpenID Connect provider, driven by a real OIDC client.

The main test runs the whole authorization-code + PKCE flow against a live
server (pytest-django's ``live_server``) with authlib as the department's
system would: root discovery, the real login form, the consent page, the
code exchange, ID token validation against the published JWKS, userinfo --
and the ways it must fail. Smaller tests check the pieces without a server.
"""

from __future__ import annotations

import html.parser
import io
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.common.encoding import json_b64encode
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.core.management import CommandError, call_command
from django.test import Client

with warnings.catch_warnings():
    # authlib.jose still works in 1.x; it announces joserfc as its successor.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.jose.errors import BadSignatureError
    from authlib.oidc.core import CodeIDToken

from yiwang.accounts import oidc, oidc_keys, services
from yiwang.accounts.constants import AssuranceLevel, AssuranceMethod, Role
from yiwang.accounts.models import DataAccessRecord, RoleAssignment, User
from yiwang.core.identifiers import DocumentType, make_resident_id
from yiwang.core.models import AuditEvent
from yiwang.directory.models import Department

from ..core.audit_support import purge_audit_log

PASSWORD = "Sso-Correct-Horse-42"
MOBILE = "13912345678"
APP_NAME = "示范市市场监管局企业登记系统"
# A loopback address that nothing listens on: the flow stops at the redirect, it is never fetched.
REDIRECT_URI = "http://127.0.0.1:9/oidc/callback"
SCOPE = "openid profile phone identity"


# --- helpers ------------------------------------------------------------------------


class _FormParser(html.parser.HTMLParser):
    """The inputs of the forms on a page, by form action."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = self.forms.setdefault(attributes.get("action", ""), {})
        elif tag == "input" and self._current is not None and attributes.get("name"):
            self._current[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def form_fields(page: str, action: str) -> dict[str, str]:
    parser = _FormParser()
    parser.feed(page)
    assert action in parser.forms, f"no form posting to {action} on the page"
    return parser.forms[action]


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@dataclass
class Registered:
    client_id: str
    client_secret: str


def register(name: str = APP_NAME, *extra: str) -> Registered:
    out = io.StringIO()
    scopes = [arg for scope in SCOPE.split() for arg in ("--scope", scope)]
    call_command("oidc_client", name, "--redirect-uri", REDIRECT_URI, *scopes, *extra, stdout=out)
    lines = dict(line.split(": ", 1) for line in out.getvalue().splitlines() if ": " in line)
    return Registered(lines["client_id"], lines.get("client_secret", ""))


def make_citizen(name: str = "赵丽", mobile: str = MOBILE, sequence: str = "318") -> User:
    person = services.create_person(
        name=name,
        document_type=DocumentType.RESIDENT_ID,
        document_number=make_resident_id("990102", "19880512", sequence),
        mobile=mobile,
        assurance_level=AssuranceLevel.MOBILE_VERIFIED,
        assurance_method=AssuranceMethod.SMS,
    )
    user = User(username=f"sso-{sequence}", display_name=name, person=person)
    user.set_password(PASSWORD)
    user.save()
    return user


class Browser:
    """The citizen's browser: a cookie jar that stops at every redirect, so the callback is never fetched."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def get(self, url: str) -> requests.Response:
        return self.session.get(self._absolute(url), allow_redirects=False, timeout=30)

    def post(self, url: str, data: dict[str, str]) -> requests.Response:
        return self.session.post(self._absolute(url), data=data, allow_redirects=False, timeout=30)

    def _absolute(self, url: str) -> str:
        return url if url.startswith("http") else self.base_url + url

    def log_in_through(self, login_location: str, identifier: str, password: str) -> str:
        """Fill in the real login form reached from a redirect; returns where the site sends us next."""
        page = self.get(login_location)
        assert page.status_code == 200
        fields = form_fields(page.text, "/accounts/login/")
        fields.update({"identifier": identifier, "password": password})
        response = self.post("/accounts/login/", fields)
        assert response.status_code == 302, "login failed"
        return response.headers["Location"]

    def consent(self, authorize_page: requests.Response, *, allow: bool) -> str:
        """Answer the consent page; returns the redirect to the client's callback."""
        assert authorize_page.status_code == 200, authorize_page.text[:500]
        fields = form_fields(authorize_page.text, "/o/authorize/")
        if allow:
            fields["allow"] = "on"
        response = self.post("/o/authorize/", fields)
        assert response.status_code == 302, response.text[:500]
        return response.headers["Location"]


def authorize_url(discovery: dict[str, Any], client_id: str, **params: str) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": SCOPE, **params}
    return discovery["authorization_endpoint"] + "?" + urlencode(query)


def code_for(browser: Browser, discovery: dict[str, Any], client_id: str, verifier: str) -> str:
    """A fresh authorization code for the (already logged-in) citizen."""
    url = authorize_url(
        discovery,
        client_id,
        state=generate_token(16),
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    callback = browser.consent(browser.get(url), allow=True)
    return query_of(callback)["code"]


def exchange(discovery: dict[str, Any], app: Registered, code: str, verifier: str) -> requests.Response:
    return requests.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(app.client_id, app.client_secret),
        timeout=30,
    )


def decode_id_token(token: str, jwks: Any, *, issuer: str, client_id: str, nonce: str, access_token: str) -> Any:
    claims = jwt.decode(
        token,
        jwks,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": issuer}},
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    claims.validate(leeway=5)  # iss, aud, exp, iat, nonce, at_hash
    return claims


# --- the whole flow against a live server --------------------------------------------


@pytest.fixture
def server(live_server: Any) -> Iterator[Any]:
    """The live server; afterwards the audit log is emptied, which the flush after the test cannot do."""
    yield live_server
    purge_audit_log()


@pytest.fixture
def http_sessions(server: Any) -> Iterator[list[requests.Session]]:
    """HTTP sessions closed after the test, so that no server thread keeps a kept-alive connection (and its
    database connection) open past the test."""
    sessions: list[requests.Session] = []
    yield sessions
    for session in sessions:
        session.close()


@pytest.mark.django_db(transaction=True)
def test_authorization_code_flow_with_pkce_end_to_end(server: Any, http_sessions: list[requests.Session]) -> None:
    base = server.url
    citizen = make_citizen()
    app = register()

    # The department's system starts from the root discovery document.
    discovery = requests.get(base + "/.well-known/openid-configuration", timeout=30).json()
    assert discovery["issuer"] == base
    assert discovery["authorization_endpoint"] == base + "/o/authorize/"
    assert discovery["response_types_supported"] == ["code"]
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"openid", "profile", "phone", "identity", "staff"} <= set(discovery["scopes_supported"])
    assert {"phone_number", "yiwang_assurance_level"} <= set(discovery["claims_supported"])
    # The copy under /o/ names the same issuer, so tokens validate whichever a client read.
    assert requests.get(base + "/o/.well-known/openid-configuration", timeout=30).json()["issuer"] == base
    jwks = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=30).json())

    client = OAuth2Session(
        app.client_id,
        app.client_secret,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    http_sessions.append(client)
    verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = client.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    assert "code_challenge=" in url

    # Not logged in: the authorization endpoint sends the citizen to our login page (LOGIN_URL).
    browser = Browser(base)
    http_sessions.append(browser.session)
    first = browser.get(url)
    assert first.status_code == 302
    assert urlsplit(first.headers["Location"]).path == "/accounts/login/"
    back_to_authorize = browser.log_in_through(first.headers["Location"], MOBILE, PASSWORD)
    assert urlsplit(back_to_authorize).path == "/o/authorize/"

    # Our consent page: the system's name and what it will receive, in plain Chinese.
    page = browser.get(back_to_authorize)
    assert page.status_code == 200
    assert APP_NAME in page.text
    assert "同意并登录" in page.text and "不同意" in page.text
    assert "您的完整手机号码" in page.text and "谁查看了我的信息" in page.text
    assert "<script>" not in page.text and "style=" not in page.text
    callback = browser.consent(page, allow=True)
    assert callback.startswith(REDIRECT_URI + "?")
    params = query_of(callback)
    assert params["state"] == state
    assert params["iss"] == base  # RFC 9207 mix-up defence
    assert not DataAccessRecord.objects.filter(person=citizen.person).exists()

    token = client.fetch_token(discovery["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    assert token["token_type"].lower() == "bearer"
    assert 0 < token["expires_in"] <= 600
    assert token.get("refresh_token")

    # The ID token: signed with a key of the published JWKS, for this client, this login, this nonce.
    id_claims = decode_id_token(
        token["id_token"],
        jwks,
        issuer=discovery["issuer"],
        client_id=app.client_id,
        nonce=nonce,
        access_token=token["access_token"],
    )
    assert id_claims["aud"] == app.client_id
    assert id_claims["sub"] == str(citizen.pk)
    assert 0 < id_claims["exp"] - time.time() <= 600
    assert id_claims["name"] == "赵丽"
    assert id_claims["yiwang_assurance_level"] == AssuranceLevel.MOBILE_VERIFIED
    assert "phone_number" not in id_claims  # the full number only comes from userinfo, where it is recorded

    # Userinfo: the claims of the granted scopes, the full verified mobile number included.
    userinfo = client.get(discovery["userinfo_endpoint"], timeout=30)
    assert userinfo.status_code == 200
    claims = userinfo.json()
    assert claims["sub"] == str(citizen.pk)
    assert claims["name"] == "赵丽"
    assert claims["preferred_username"] == citizen.username
    assert claims["phone_number"] == "+86" + MOBILE
    assert claims["phone_number_verified"] is True
    assert claims["yiwang_document_type"] == DocumentType.RESIDENT_ID
    assert claims["yiwang_document_number_masked"] == citizen.person.document_number_masked
    assert "*" in claims["yiwang_document_number_masked"]
    assert claims["yiwang_assurance_level"] == AssuranceLevel.MOBILE_VERIFIED
    assert "yiwang_roles" not in claims  # no staff scope, and no staff roles

    # The citizen's data tracker shows which system received the phone number.
    record = DataAccessRecord.objects.get(person=citizen.person)
    assert record.fields == ["mobile"]
    assert record.purpose == f"单点登录：{APP_NAME}"
    assert record.accessor_label == APP_NAME
    tracker = browser.get("/accounts/data-access/")
    assert tracker.status_code == 200
    assert f"单点登录：{APP_NAME}" in tracker.text
    assert AuditEvent.objects.filter(event="pii.read", target=f"accounts.Person:{citizen.person.pk}").exists()
    issued = AuditEvent.objects.get(event="oidc.token_issued")
    assert issued.detail["client_id"] == app.client_id
    assert issued.actor_id == citizen.pk

    # A tampered ID token fails verification (claims changed, signature kept).
    header, payload, signature = token["id_token"].split(".")
    forged = dict(id_claims, sub="1")
    forged_payload = jwt_segment(forged)
    assert forged_payload != payload
    with pytest.raises(BadSignatureError):
        jwt.decode(f"{header}.{forged_payload}.{signature}", jwks)

    # The code was used: replaying it is refused.
    replay = exchange(discovery, app, params["code"], verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # ...and revokes what the code gave the first time (RFC 6749 section 4.1.2).
    assert client.get(discovery["userinfo_endpoint"], timeout=30).status_code == 401

    # A wrong code_verifier is refused (the code is then spent too).
    code = code_for(browser, discovery, app.client_id, generate_token(48))
    wrong = exchange(discovery, app, code, generate_token(48))
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(event="oidc.token_refused").count() == 2

    # Without PKCE the request is refused, back to the client, with no code.
    no_pkce = browser.get(authorize_url(discovery, app.client_id, state="s1"))
    assert no_pkce.status_code == 302
    refused = query_of(no_pkce.headers["Location"])
    assert refused["error"] == "invalid_request" and "code" not in refused
    # ...and so is the "plain" PKCE method (DOT refuses it when the code would be made).
    plain = browser.get(authorize_url(discovery, app.client_id, code_challenge="x" * 43, code_challenge_method="plain"))
    plain_result = query_of(browser.consent(plain, allow=True))
    assert plain_result["error"] == "invalid_request" and "code" not in plain_result

    # An unregistered redirect URI: our error page, and no redirect anywhere.
    evil = browser.get(
        authorize_url(
            discovery,
            app.client_id,
            redirect_uri="http://127.0.0.1:9/elsewhere",
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
    )
    assert evil.status_code == 400
    assert "Location" not in evil.headers
    assert "这个登录请求无效" in evil.text
    # An implicit-flow request is refused as well.
    implicit = browser.get(authorize_url(discovery, app.client_id, response_type="id_token token", nonce="n"))
    assert "access_token=" not in implicit.headers.get("Location", "")
    assert "id_token=" not in implicit.headers.get("Location", "")

    # Saying no sends the citizen back with access_denied.
    denied_url = authorize_url(
        discovery,
        app.client_id,
        state="s2",
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    denied = query_of(browser.consent(browser.get(denied_url), allow=False))
    assert (denied["error"], denied["state"]) == ("access_denied", "s2")
    assert "code" not in denied
    assert AuditEvent.objects.filter(event="oidc.consent_refused").exists()

    # Refresh tokens rotate: each refresh returns a new one.
    def refresh(refresh_token: str) -> requests.Response:
        return requests.post(
            discovery["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(app.client_id, app.client_secret),
            timeout=30,
        )

    def userinfo_with(access_token: str) -> int:
        headers = {"Authorization": f"Bearer {access_token}"}
        return requests.get(discovery["userinfo_endpoint"], headers=headers, timeout=30).status_code

    fresh_verifier = generate_token(48)
    fresh = exchange(discovery, app, code_for(browser, discovery, app.client_id, fresh_verifier), fresh_verifier)
    assert fresh.status_code == 200
    token = fresh.json()
    refreshed = refresh(token["refresh_token"])
    assert refreshed.status_code == 200
    rotated = refreshed.json()
    assert rotated["refresh_token"] != token["refresh_token"]
    assert userinfo_with(rotated["access_token"]) == 200

    # A deactivated account's tokens stop working at once.
    User.objects.filter(pk=citizen.pk).update(is_active=False)
    assert userinfo_with(rotated["access_token"]) == 401
    assert refresh(rotated["refresh_token"]).status_code == 400
    User.objects.filter(pk=citizen.pk).update(is_active=True)
    assert userinfo_with(rotated["access_token"]) == 200

    # Replaying a used refresh token is refused and revokes its whole family.
    assert refresh(token["refresh_token"]).status_code == 400
    assert refresh(rotated["refresh_token"]).status_code == 400


def jwt_segment(claims: dict[str, Any]) -> str:
    return json_b64encode(json.dumps(claims, separators=(",", ":"))).decode("ascii")


# --- pieces, without a server ---------------------------------------------------------


@pytest.mark.django_db
def test_root_and_o_discovery_documents_agree_and_name_only_our_endpoints() -> None:
    client = Client()
    root = client.get("/.well-known/openid-configuration").json()
    under_o = client.get("/o/.well-known/openid-configuration").json()
    assert root == under_o
    assert root["issuer"] == "http://testserver"
    assert root["jwks_uri"] == "http://testserver/o/.well-known/jwks.json"
    assert root["grant_types_supported"] == ["authorization_code", "refresh_token"]
    keys = client.get(root["jwks_uri"]).json()["keys"]
    assert [key["kty"] for key in keys] == ["RSA"] and "d" not in keys[0]
    # DOT's self-service application registration is not published.
    assert client.get("/o/applications/").status_code == 404


@pytest.mark.django_db
def test_staff_scope_lists_roles_and_departments() -> None:
    staff = User.objects.create_user(username="sso-reviewer", password=PASSWORD, display_name="审查员")
    RoleAssignment.objects.create(user=staff, role=Role.REVIEWER, department=Department.objects.get(code="market"))
    claims = oidc.user_claims(staff, ["openid", "profile", "staff"])
    assert claims["name"] == "审查员"
    assert claims["yiwang_roles"] == [{"role": "reviewer", "department": "market"}]
    assert claims["yiwang_departments"] == ["market"]
    citizen = make_citizen(name="钱多多", mobile="13912345679", sequence="417")
    assert "yiwang_roles" not in oidc.user_claims(citizen, ["openid", "staff"])


@pytest.mark.django_db
def test_release_phone_is_recorded_for_the_data_tracker() -> None:
    citizen = make_citizen(name="孙悦", mobile="13912345670", sequence="526")
    app, _secret = oidc.register_client(name="示范市人社局社保系统", redirect_uris=[REDIRECT_URI])
    released = oidc.release_phone(user=citizen, application=app)
    assert released == {"phone_number": "+8613912345670", "phone_number_verified": True}
    record = DataAccessRecord.objects.get(person=citizen.person)
    assert (record.accessor_label, record.purpose) == ("示范市人社局社保系统", "单点登录：示范市人社局社保系统")


@pytest.mark.django_db
def test_client_command_public_client_and_refusals() -> None:
    public = register("示范市政务服务移动端", "--public")
    assert public.client_id and public.client_secret == ""
    with pytest.raises(CommandError, match="登记信息无效"):
        call_command("oidc_client", "坏系统", "--redirect-uri", "ftp://example.org/cb", stdout=io.StringIO())
    with pytest.raises(CommandError, match="已有"):
        call_command("oidc_client", "示范市政务服务移动端", "--redirect-uri", REDIRECT_URI, stdout=io.StringIO())


def test_development_key_is_generated_once_and_private(tmp_path: Any) -> None:
    first = oidc_keys.signing_key({}, tmp_path, production=False)
    assert oidc_keys.key_problem(first) is None
    assert oidc_keys.signing_key({}, tmp_path, production=False) == first
    assert (tmp_path / oidc_keys.DEVELOPMENT_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert oidc_keys.signing_key({}, tmp_path, production=True) == ""
    assert oidc_keys.key_problem("not a key")


def _production_settings(env: dict[str, str], tmp_path: Any) -> subprocess.CompletedProcess[str]:
    """Import the settings as a production process would, with otherwise secure settings."""
    import base64
    import secrets

    removed = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", oidc_keys.KEY_ENV, oidc_keys.KEY_FILE_ENV}
    base = {k: v for k, v in os.environ.items() if k not in removed}
    secure = {
        "YIWANG_MODE": "production",
        "YIWANG_VAR_DIR": str(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "YIWANG_PAYMENT_PROVIDER": "unionpay",  # anything but the sandbox (production refuses it)
        "ALLOWED_HOSTS": "gov.example",
        "DATABASE_URL": "postgresql://yiwang@db.example/yiwang",
        "YIWANG_PII_KEYS": "k1:" + base64.b64encode(os.urandom(16)).decode(),
        "YIWANG_BLIND_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
        "YIWANG_KEY_STORE_KEY": base64.b64encode(os.urandom(16)).decode(),
    }
    return subprocess.run(
        [sys.executable, "-c", "import yiwang.settings"],
        env={**base, **secure, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_without_a_signing_key(tmp_path: Any) -> None:
    result = _production_settings({}, tmp_path)
    assert result.returncode != 0
    assert "Refusing to start in production mode" in result.stderr
    assert oidc_keys.KEY_ENV in result.stderr
    assert not (tmp_path / oidc_keys.DEVELOPMENT_KEY_FILE).exists()


def test_production_starts_with_a_signing_key(tmp_path: Any) -> None:
    key = oidc_keys.generate_private_key_pem()
    result = _production_settings({oidc_keys.KEY_ENV: key, "OIDC_ISSUER": "https://zwfw.example.gov.cn"}, tmp_path)
    assert result.returncode == 0, result.stderr
    weak = _production_settings({oidc_keys.KEY_ENV: oidc_keys.generate_private_key_pem(1024)}, tmp_path)
    assert weak.returncode != 0 and "at least 2048 bits" in weak.stderr


@pytest.mark.django_db
def test_a_staff_member_who_has_not_passed_the_second_factor_gets_no_consent_page() -> None:
    """Single sign-on trusts the session; for staff the login view creates one only after TOTP."""
    staff = User.objects.create_user(username="sso-approver", password=PASSWORD)
    RoleAssignment.objects.create(user=staff, role=Role.APPROVER, department=Department.objects.get(code="market"))
    app, _secret = oidc.register_client(name="示范市审批系统", redirect_uris=[REDIRECT_URI], scopes=["staff"])
    browser = Client()
    after_password = browser.post("/accounts/login/", {"identifier": "sso-approver", "password": PASSWORD})
    assert after_password.status_code == 302
    assert urlsplit(after_password["Location"]).path != "/accounts/"  # on to the authenticator step
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid staff",
        "code_challenge": create_s256_code_challenge(generate_token(48)),
        "code_challenge_method": "S256",
    }
    response = browser.get("/o/authorize/?" + urlencode(query))
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"


@pytest.mark.django_db
def test_returning_after_our_own_login_form_uses_a_page_not_a_blocked_redirect() -> None:
    """Regression: the login page's CSP (form-action 'self') made browsers stop the redirect to the
    department's system that followed the login form; such returns now go through a page."""
    citizen = make_citizen(name="周舟", mobile="13912345671", sequence="635")
    app, _secret = oidc.register_client(name="示范市公积金系统", redirect_uris=[REDIRECT_URI])
    browser = Client()
    browser.force_login(citizen)
    without_pkce = "/o/authorize/?" + urlencode(
        {"response_type": "code", "client_id": app.client_id, "redirect_uri": REDIRECT_URI, "scope": "openid"}
    )
    from_our_form = browser.get(without_pkce, headers={"Sec-Fetch-Site": "same-origin"})
    assert from_our_form.status_code == 200
    assert from_our_form["Refresh"].startswith("0;url=" + REDIRECT_URI + "?error=invalid_request")
    assert "示范市公积金系统" in from_our_form.content.decode()
    from_the_system = browser.get(without_pkce, headers={"Sec-Fetch-Site": "cross-site"})
    assert from_the_system.status_code == 302
    assert from_the_system["Location"].startswith(REDIRECT_URI + "?error=invalid_request")
