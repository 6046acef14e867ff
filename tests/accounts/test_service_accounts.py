"""Service accounts of department systems (issue 15 part 5): who may create, rotate and revoke them, the audit
records, the staff pages (the secret shown once) and the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken, Application

from tests.accounts.factories import make_staff
from yiwang.accounts import selectors, services
from yiwang.accounts.constants import Role
from yiwang.accounts.models import ServiceAccount
from yiwang.core.audit import AuditEvent
from yiwang.core.desks import desks_for
from yiwang.directory.selectors import department_by_code

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashes(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def create(actor: Any, department: str = "market", name: str = "示范市市场监管局登记系统", **extra: Any) -> Any:
    return services.create_service_account(
        actor=actor,
        name=name,
        department=department_by_code(department),
        scopes=extra.pop("scopes", ["cases:read"]),
        **extra,
    )


def test_a_department_administrator_registers_a_system_of_their_department() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "market")
    account, secret = create(admin, description="登记注册系统查询办件进度")
    application = Application.objects.get(pk=account.application.pk)
    assert application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS
    assert application.client_type == Application.CLIENT_CONFIDENTIAL
    assert secret and application.client_secret != secret  # only the hash is kept
    assert account.department.code == "market" and account.scopes == ["cases:read"]
    event = AuditEvent.objects.get(event="service_account.created")
    assert event.detail["client_id"] == application.client_id and event.detail["scopes"] == ["cases:read"]
    assert secret not in str(event.detail)


def test_another_departments_administrator_is_refused_and_audited() -> None:
    police_admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    with pytest.raises(services.IdentityError) as refused:
        create(police_admin, "market")
    assert refused.value.code == "forbidden" and refused.value.status == 404
    assert AuditEvent.objects.filter(event="permission.denied", detail__action="create_service_account").exists()
    account, _secret = create(make_staff(Role.PLATFORM_ADMIN), "market")
    for operation in (
        lambda: services.rotate_service_account_secret(actor=police_admin, account=account),
        lambda: services.revoke_service_account(actor=police_admin, account=account),
    ):
        with pytest.raises(services.IdentityError):
            operation()
    account.refresh_from_db()
    assert account.is_active
    # Staff without the administrator role manage none.
    with pytest.raises(services.IdentityError):
        create(make_staff(Role.REVIEWER, "market"), name="审查员的系统")


@pytest.mark.parametrize(
    ("name", "scopes", "code"),
    [
        ("示范市市场监管局登记系统", ["cases:read", "cases:delete"], "invalid_scope"),
        ("示范市市场监管局登记系统", [], "invalid_scope"),
        ("示范市市场监管局登记系统", ["openid"], "invalid_scope"),
        ("甲", ["cases:read"], "invalid_name"),
    ],
)
def test_bad_registrations_are_refused(name: str, scopes: list[str], code: str) -> None:
    with pytest.raises(services.IdentityError) as refused:
        create(make_staff(Role.PLATFORM_ADMIN), name=name, scopes=scopes)
    assert refused.value.code == code
    assert not ServiceAccount.objects.exists()


def test_a_name_is_registered_once() -> None:
    admin = make_staff(Role.PLATFORM_ADMIN)
    create(admin)
    with pytest.raises(services.IdentityError) as refused:
        create(admin)
    assert refused.value.code == "name_taken"


def test_revoking_twice_is_refused_and_rotation_of_a_revoked_account_too() -> None:
    admin = make_staff(Role.PLATFORM_ADMIN)
    account, _secret = create(admin)
    services.revoke_service_account(actor=admin, account=account)
    assert AuditEvent.objects.filter(event="service_account.revoked").count() == 1
    for operation in (
        lambda: services.revoke_service_account(actor=admin, account=account),
        lambda: services.rotate_service_account_secret(actor=admin, account=account),
    ):
        with pytest.raises(services.IdentityError) as refused:
            operation()
        assert refused.value.code == "revoked" and refused.value.status == 409


def test_overlap_zero_ends_the_previous_secret_at_once(settings: Any) -> None:
    settings.SERVICE_ACCOUNT_SECRET_OVERLAP_HOURS = 0
    admin = make_staff(Role.PLATFORM_ADMIN)
    account, _secret = create(admin)
    services.rotate_service_account_secret(actor=admin, account=account)
    account.refresh_from_db()
    assert account.previous_secret == "" and account.previous_secret_until is None
    event = AuditEvent.objects.get(event="service_account.secret_rotated")
    assert event.detail["at_once"] is False and event.detail["previous_secret_until"] is None


def test_the_selectors_keep_to_the_administrators_departments() -> None:
    platform = make_staff(Role.PLATFORM_ADMIN)
    market_account, _ = create(platform, "market", name="市场系统")
    police_account, _ = create(platform, "police", name="公安系统")
    market_admin = make_staff(Role.DEPARTMENT_ADMIN, "market")
    assert list(selectors.service_accounts(market_admin)) == [market_account]
    assert set(selectors.service_accounts(platform)) == {market_account, police_account}
    assert not selectors.service_accounts(make_staff(Role.SUPERVISOR)).exists()


def test_the_desk_is_listed_for_administrators_only() -> None:
    def has_desk(user: Any) -> bool:
        return any(url == "/staff/service-accounts/" for url, _label in desks_for(user))

    assert has_desk(make_staff(Role.DEPARTMENT_ADMIN, "market"))
    assert has_desk(make_staff(Role.PLATFORM_ADMIN))
    assert not has_desk(make_staff(Role.REVIEWER, "market"))


def test_the_staff_pages_register_show_the_secret_once_rotate_and_revoke() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "market")
    browser = Client()
    browser.force_login(admin)
    page = browser.get("/staff/service-accounts/")
    assert page.status_code == 200
    # The department is chosen among those the administrator manages (market and the offices below it).
    offered = {code for code, _name in page.context["form"].fields["department"].choices}
    assert "market" in offered and "police" not in offered
    assert '<option value="market"' in page.content.decode() and 'value="police"' not in page.content.decode()
    created = browser.post(
        "/staff/service-accounts/",
        {"name": "示范市市场监管局登记系统", "department": "market", "scopes": ["cases:read"], "description": ""},
    )
    assert created.status_code == 200
    account = ServiceAccount.objects.get()
    secret = created.context["secret"]
    assert secret in created.content.decode() and account.application.client_id in created.content.decode()
    # The detail page never shows it again.
    detail = browser.get(f"/staff/service-accounts/{account.pk}/")
    assert detail.status_code == 200 and secret not in detail.content.decode()
    # A department the administrator does not hold is a form error, not an account.
    refused = browser.post(
        "/staff/service-accounts/", {"name": "公安系统", "department": "police", "scopes": ["cases:read"]}
    )
    assert refused.status_code == 200 and ServiceAccount.objects.count() == 1
    assert refused.context["form"].errors["department"]
    rotated = browser.post(f"/staff/service-accounts/{account.pk}/rotate/")
    assert rotated.status_code == 200 and rotated.context["secret"] != secret
    AccessToken.objects.create(application=account.application, token="t-1", expires="2099-01-01T00:00Z")
    revoked = browser.post(f"/staff/service-accounts/{account.pk}/revoke/")
    assert revoked.status_code == 302
    account.refresh_from_db()
    assert not account.is_active and not AccessToken.objects.filter(application=account.application).exists()
    assert browser.post(f"/staff/service-accounts/{account.pk}/unknown/").status_code == 404


def test_the_pages_are_closed_to_other_departments_and_other_staff() -> None:
    account, _secret = create(make_staff(Role.PLATFORM_ADMIN), "market")
    police_admin = Client()
    police_admin.force_login(make_staff(Role.DEPARTMENT_ADMIN, "police"))
    assert police_admin.get(f"/staff/service-accounts/{account.pk}/").status_code == 404
    assert police_admin.post(f"/staff/service-accounts/{account.pk}/revoke/").status_code == 404
    reviewer = Client()
    reviewer.force_login(make_staff(Role.REVIEWER, "market"))
    assert reviewer.get("/staff/service-accounts/").status_code == 404
    account.refresh_from_db()
    assert account.is_active


def test_the_admin_revokes_through_the_service() -> None:
    from yiwang.accounts.models import User

    platform = make_staff(Role.PLATFORM_ADMIN)
    User.objects.filter(pk=platform.pk).update(is_staff=True, is_superuser=True)
    account, _secret = create(platform)
    browser = Client()
    browser.force_login(User.objects.get(pk=platform.pk))
    assert browser.get("/admin/accounts/serviceaccount/").status_code == 200
    assert browser.get(f"/admin/accounts/serviceaccount/{account.pk}/change/").status_code == 200
    response = browser.post("/admin/accounts/serviceaccount/", {"action": "revoke", "_selected_action": [account.pk]})
    assert response.status_code == 302
    account.refresh_from_db()
    assert not account.is_active
    assert AuditEvent.objects.filter(event="service_account.revoked").exists()
