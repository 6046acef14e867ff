"""Issue 15 part 5: a department system with a client-credentials token reads the case status it is scoped for,
and is refused another department's case, tokens without the scope, and everything once revoked or expired.

Tokens come from the real token endpoint (/o/token/) over the test client.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from tests.accounts.factories import make_staff
from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, ID_CARD_REISSUE, item_code
from yiwang.accounts import services as accounts_services
from yiwang.accounts.constants import Role
from yiwang.core.audit import AuditEvent
from yiwang.directory.selectors import department_by_code

pytestmark = pytest.mark.django_db


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def service_account(department: str = "market", scopes: tuple[str, ...] = ("cases:read",), name: str = "") -> Any:
    admin = make_staff(Role.PLATFORM_ADMIN)
    account, secret = accounts_services.create_service_account(
        actor=admin,
        name=name or f"{department}业务系统",
        department=department_by_code(department),
        scopes=scopes,
    )
    return account, secret, admin


def token_response(client_id: str, secret: str, **extra: str) -> Any:
    return Client().post("/o/token/", {"grant_type": "client_credentials", **extra}, headers=basic(client_id, secret))


def get_token(account: Any, secret: str, **extra: str) -> str:
    response = token_response(account.application.client_id, secret, **extra)
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def status_of(number: str, headers: dict[str, str]) -> Any:
    return Client().get(f"/api/v1/cases/{number}/status", headers=headers)


@pytest.fixture
def market_case(citizen: Any) -> Any:
    return builders.apply(citizen, item_code=item_code(FOOD_LICENCE))[0]


@pytest.fixture
def police_case(citizen: Any, police: Any) -> Any:
    return builders.apply_at_counter(police.clerk, citizen, item_code=item_code(ID_CARD_REISSUE))[0]


def test_a_department_system_reads_its_case_status_and_not_another_departments(
    market_case: Any, police_case: Any
) -> None:
    assert market_case.department.code == "market" and police_case.department.code != "market"
    account, secret, _admin = service_account("market")
    answer = token_response(account.application.client_id, secret)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "cases:read"
    assert "refresh_token" not in body and "id_token" not in body
    assert 0 < body["expires_in"] <= 600

    mine = status_of(market_case.number, bearer(body["access_token"]))
    assert mine.status_code == 200, mine.content
    data = mine.json()
    assert data["number"] == market_case.number
    assert data["department_code"] == "market"
    assert data["state"] == market_case.state and data["state_label"]
    # No personal data of the applicant reaches the department system.
    assert "applicant" not in mine.content.decode()
    # Another department's case reads exactly like a case that does not exist.
    theirs = status_of(police_case.number, bearer(body["access_token"]))
    missing = status_of("NO-SUCH-CASE", bearer(body["access_token"]))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["code"] == missing.json()["code"] == "not_found"
    # The token endpoint recorded the issue against the service account.
    issued = AuditEvent.objects.filter(event="oidc.token_issued").order_by("-id").first()
    assert issued is not None and issued.detail["grant_type"] == "client_credentials"
    assert issued.actor_label == f"service-account:{account.application.client_id}"


def test_a_parent_departments_system_reads_cases_of_departments_below_it(market_case: Any) -> None:
    from yiwang.directory.models import Department

    market = department_by_code("market")
    assert market is not None
    parent = Department.objects.create(code="city-hall", name="示范市人民政府", division=market.division, level="city")
    Department.objects.filter(pk=market.pk).update(parent=parent)
    account, secret, _admin = service_account("city-hall")
    assert status_of(market_case.number, bearer(get_token(account, secret))).status_code == 200
    # ...and not the other way round: market's own system does not read the parent's (here: none) cases.
    account, secret, _admin = service_account("police")
    assert status_of(market_case.number, bearer(get_token(account, secret))).status_code == 404


def test_the_signed_in_applicant_reads_the_same_status_with_a_session(citizen: Any, market_case: Any) -> None:
    browser = Client()
    browser.force_login(citizen)
    response = browser.get(f"/api/v1/cases/{market_case.number}/status")
    assert response.status_code == 200 and response.json()["number"] == market_case.number
    assert Client().get(f"/api/v1/cases/{market_case.number}/status").status_code == 401


def test_a_token_is_refused_where_its_scope_is_not_accepted(citizen: Any, market_case: Any) -> None:
    account, secret, _admin = service_account("market")
    token = get_token(account, secret)
    # The case detail (with its timeline) and every write are for signed-in users only.
    detail = Client().get(f"/api/v1/cases/{market_case.number}", headers=bearer(token))
    assert detail.status_code == 403
    assert detail.json()["code"] == "insufficient_scope"
    assert detail["WWW-Authenticate"].startswith('Bearer realm="yiwang", error="insufficient_scope"')
    write = Client().post(
        f"/api/v1/cases/{market_case.number}/actions/accept",
        {"reason": "系统受理"},
        content_type="application/json",
        headers=bearer(token),
    )
    assert write.status_code == 403 and write.json()["code"] == "insufficient_scope"
    market_case.refresh_from_db()
    assert market_case.state == "submitted" or market_case.events.filter(action="accept").count() == 0


def test_a_token_request_beyond_the_accounts_scopes_is_invalid_scope() -> None:
    account, secret, _admin = service_account("market")
    response = token_response(account.application.client_id, secret, scope="cases:read cases:delete")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"
    response = token_response(account.application.client_id, secret, scope="openid profile")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


def test_a_wrong_secret_gets_no_token() -> None:
    account, _secret, _admin = service_account("market")
    response = token_response(account.application.client_id, "not-the-secret")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_service_account_cannot_use_browser_grants() -> None:
    account, secret, _admin = service_account("market")
    for grant in ("authorization_code", "refresh_token", "password"):
        response = Client().post(
            "/o/token/",
            {"grant_type": grant, "code": "x", "refresh_token": "x"},
            headers=basic(account.application.client_id, secret),
        )
        assert response.status_code == 400 and response.json() == {"error": "unsupported_grant_type"}, grant


def test_revoking_the_account_stops_its_tokens_at_once(market_case: Any) -> None:
    account, secret, admin = service_account("market")
    token = get_token(account, secret)
    assert status_of(market_case.number, bearer(token)).status_code == 200
    accounts_services.revoke_service_account(actor=admin, account=account)
    refused = status_of(market_case.number, bearer(token))
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_token"
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]
    assert token_response(account.application.client_id, secret).status_code == 401


def test_an_expired_token_is_refused(market_case: Any) -> None:
    account, secret, _admin = service_account("market")
    token = get_token(account, secret)
    AccessToken.objects.filter(application=account.application).update(expires=timezone.now() - dt.timedelta(seconds=1))
    response = status_of(market_case.number, bearer(token))
    assert response.status_code == 401 and response.json()["code"] == "invalid_token"


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Token abc", "Basic YTpi", "Bearer two words", "bearer-abc"],
)
def test_a_malformed_authorization_header_is_a_401_problem(market_case: Any, header: str) -> None:
    response = status_of(market_case.number, {"Authorization": header})
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_request"
    assert 'error="invalid_request"' in response["WWW-Authenticate"]


def test_an_unknown_token_is_a_401_problem(market_case: Any) -> None:
    response = status_of(market_case.number, bearer("no-such-token"))
    assert response.status_code == 401 and response.json()["code"] == "invalid_token"


def test_a_citizens_sso_token_is_not_a_department_systems_token(market_case: Any, citizen: Any) -> None:
    # A user's access token (single sign-on) is for userinfo, never for the API.
    account, _secret, _admin = service_account("market")
    AccessToken.objects.create(
        user=citizen,
        application=account.application,
        token="user-token-123",
        expires=timezone.now() + dt.timedelta(minutes=5),
        scope="cases:read",
    )
    assert status_of(market_case.number, bearer("user-token-123")).status_code == 401


def test_a_planned_rotation_keeps_the_old_secret_for_the_overlap(settings: Any, market_case: Any) -> None:
    settings.SERVICE_ACCOUNT_SECRET_OVERLAP_HOURS = 24
    account, old_secret, admin = service_account("market")
    old_token = get_token(account, old_secret)
    new_secret = accounts_services.rotate_service_account_secret(actor=admin, account=account)
    assert new_secret != old_secret
    # Both secrets work during the overlap; tokens already issued run to their expiry.
    assert token_response(account.application.client_id, new_secret).status_code == 200
    assert token_response(account.application.client_id, old_secret).status_code == 200
    assert status_of(market_case.number, bearer(old_token)).status_code == 200
    # After the overlap only the new secret works.
    type(account).objects.filter(pk=account.pk).update(previous_secret_until=timezone.now() - dt.timedelta(seconds=1))
    assert token_response(account.application.client_id, old_secret).status_code == 401
    assert token_response(account.application.client_id, new_secret).status_code == 200


def test_a_rotation_at_once_ends_the_old_secret_and_its_tokens(market_case: Any) -> None:
    account, old_secret, admin = service_account("market")
    old_token = get_token(account, old_secret)
    new_secret = accounts_services.rotate_service_account_secret(actor=admin, account=account, at_once=True)
    assert token_response(account.application.client_id, old_secret).status_code == 401
    assert status_of(market_case.number, bearer(old_token)).status_code == 401
    assert status_of(market_case.number, bearer(get_token(account, new_secret))).status_code == 200


def test_scopes_taken_from_the_account_stop_working_on_issued_tokens(market_case: Any) -> None:
    account, secret, _admin = service_account("market")
    token = get_token(account, secret)
    type(account).objects.filter(pk=account.pk).update(scopes=[])
    assert status_of(market_case.number, bearer(token)).status_code == 403


def test_a_client_credentials_application_without_a_service_account_gets_no_token() -> None:
    # Made in the admin with the grant set: without our row it is no department system.
    from oauth2_provider.models import Application

    application = Application(
        name="管理后台里建的应用",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret="secret-of-the-admin-app",
    )
    application.save()
    response = token_response(application.client_id, "secret-of-the-admin-app")
    assert response.status_code == 400 and response.json() == {"error": "unsupported_grant_type"}


def test_api_scopes_cannot_be_registered_for_a_browser_client() -> None:
    from yiwang.accounts import oidc

    with pytest.raises(oidc.OidcClientError):
        oidc.register_client(
            name="示范市某系统", redirect_uris=["https://example.gov.cn/callback"], scopes=["cases:read"]
        )
