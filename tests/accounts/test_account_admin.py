"""A department administrator resets a staff member's authenticator and password and disables the account
(issue 12 item 7): audited, only for staff of their own department tree, never for platform admins or themselves."""

from __future__ import annotations

import pytest
from django.test import Client

from yiwang.accounts import services
from yiwang.accounts.constants import Role
from yiwang.accounts.models import RecoveryCode, TotpDevice
from yiwang.core.audit import AuditEvent

from .factories import PASSWORD, enrol_totp, make_staff

pytestmark = pytest.mark.django_db


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_the_administrator_resets_the_authenticator_and_ends_the_sessions() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    clerk = make_staff(Role.COUNTER_CLERK, "traffic_police")
    enrol_totp(clerk)
    RecoveryCode.objects.create(user=clerk, code_hash="x" * 64)
    session = _client(clerk)
    assert session.get("/accounts/").status_code == 200
    response = _client(admin).post(f"/staff/{clerk.pk}/account/reset_second_factor/")
    assert response.status_code == 302
    assert not TotpDevice.objects.filter(user=clerk).exists()
    assert not RecoveryCode.objects.filter(user=clerk).exists()
    assert session.get("/accounts/").status_code == 302  # signed out
    assert AuditEvent.objects.filter(event="account.second_factor_reset", target=f"accounts.User:{clerk.pk}").exists()


def test_the_administrator_resets_the_password_shown_once() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    response = _client(admin).post(f"/staff/{clerk.pk}/account/reset_password/")
    assert response.status_code == 200
    password = response.context["temporary_password"]
    assert password in response.content.decode()
    clerk.refresh_from_db()
    assert clerk.check_password(password) and not clerk.check_password(PASSWORD)
    event = AuditEvent.objects.get(event="account.password_reset", target=f"accounts.User:{clerk.pk}")
    assert password not in str(event.detail)


def test_a_disabled_account_cannot_sign_in_until_enabled() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    client = _client(admin)
    page = client.get(f"/staff/{clerk.pk}/").content.decode()
    assert "重置动态口令" in page and "重置密码" in page and "停用账户" in page
    assert client.post(f"/staff/{clerk.pk}/account/disable/").status_code == 302
    clerk.refresh_from_db()
    assert not clerk.is_active
    with pytest.raises(services.IdentityError):
        services.authenticate_password(clerk.username, PASSWORD)
    assert "启用账户" in client.get(f"/staff/{clerk.pk}/").content.decode()
    client.post(f"/staff/{clerk.pk}/account/enable/")
    clerk.refresh_from_db()
    assert clerk.is_active
    assert AuditEvent.objects.filter(event="account.disabled").count() == 1
    assert AuditEvent.objects.filter(event="account.enabled").count() == 1
    assert client.post(f"/staff/{clerk.pk}/account/explode/").status_code == 404


def test_never_outside_the_tree_for_platform_admins_or_oneself() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    market_clerk = make_staff(Role.COUNTER_CLERK, "market")
    platform = make_staff(Role.PLATFORM_ADMIN)
    for target in (market_clerk, platform, admin):
        for call in (services.reset_second_factor, services.reset_password):
            with pytest.raises(services.IdentityError):
                call(actor=admin, user=target)
        with pytest.raises(services.IdentityError):
            services.set_account_active(actor=admin, user=target, active=False)
    # A platform administrator may not take over another platform administrator either.
    other_platform = make_staff(Role.PLATFORM_ADMIN)
    with pytest.raises(services.IdentityError):
        services.reset_password(actor=platform, user=other_platform)
    assert market_clerk.is_active and platform.is_active
    assert _client(admin).post(f"/staff/{market_clerk.pk}/account/disable/").status_code == 404
    assert AuditEvent.objects.filter(event="permission.denied").count() >= 9
    # A clerk is no administrator at all.
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    assert _client(clerk).post(f"/staff/{admin.pk}/account/disable/").status_code == 404
