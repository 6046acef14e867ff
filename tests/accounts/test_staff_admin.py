"""Staff administration as department administrators use it (issue 12 item 7)."""

from __future__ import annotations

import pytest
from django.test import Client

from yiwang.accounts import selectors, services
from yiwang.accounts.constants import Role
from yiwang.accounts.models import RoleAssignment
from yiwang.directory.models import Department

from .factories import make_citizen, make_staff

pytestmark = pytest.mark.django_db


def test_a_department_administrator_cannot_create_or_grant_a_city_wide_operator() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    police = Department.objects.get(code="police")
    with pytest.raises(services.IdentityError):
        services.create_staff(
            actor=admin,
            username="op1",
            display_name="话务员",
            department=police,
            roles=[Role.HOTLINE_OPERATOR],
            password="Correct-Horse-42",
        )
    with pytest.raises(services.IdentityError):
        services.grant_role(actor=admin, user=clerk, role=Role.HOTLINE_OPERATOR, department=police)
    assert not RoleAssignment.objects.filter(role=Role.HOTLINE_OPERATOR).exists()
    # The platform administrator still can.
    platform = make_staff(Role.PLATFORM_ADMIN)
    services.grant_role(actor=platform, user=clerk, role=Role.HOTLINE_OPERATOR, department=police)


def test_the_grant_api_refuses_an_operator_role_from_a_department_administrator() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    client = Client()
    client.force_login(admin)
    response = client.post(
        f"/api/v1/accounts/staff/{clerk.pk}/roles",
        {"role": Role.HOTLINE_OPERATOR, "department": "police"},
        content_type="application/json",
    )
    assert response.status_code in {403, 404, 422, 400}
    assert not RoleAssignment.objects.filter(role=Role.HOTLINE_OPERATOR).exists()


def test_revoking_the_last_role_returns_to_the_staff_list_with_a_message() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    assignment = clerk.role_assignments.get()
    client = Client()
    client.force_login(admin)
    response = client.post(f"/staff/roles/{assignment.pk}/revoke/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/staff/"
    assert "最后一个角色" in response.content.decode()
    assert not RoleAssignment.objects.active().filter(pk=assignment.pk).exists()


def test_citizens_are_not_listed_as_staff() -> None:
    platform = make_staff(Role.PLATFORM_ADMIN)
    admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    citizen = make_citizen()
    RoleAssignment.objects.create(user=citizen, role=Role.APPLICANT, department=Department.objects.get(code="police"))
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    for actor in (platform, admin):
        listed = set(selectors.staff_list(actor))
        assert clerk in listed
        assert citizen not in listed
    client = Client()
    client.force_login(platform)
    usernames = {row["username"] for row in client.get("/api/v1/accounts/staff").json()}
    assert clerk.username in usernames and citizen.username not in usernames
    assert citizen.username not in client.get("/staff/").content.decode()


def test_the_staff_pages_offer_a_department_administrator_only_roles_they_may_grant() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    client = Client()
    client.force_login(admin)
    for url in ("/staff/", f"/staff/{clerk.pk}/"):
        page = client.get(url).content.decode()
        assert f'value="{Role.REVIEWER}"' in page
        for role in (Role.HOTLINE_OPERATOR, Role.SUPERVISOR, Role.PLATFORM_ADMIN, Role.DEPARTMENT_ADMIN):
            assert f'value="{role}"' not in page, (url, role)
    response = client.post(f"/staff/{clerk.pk}/", {"role": Role.HOTLINE_OPERATOR, "department": "police"})
    assert response.status_code == 200
    assert not RoleAssignment.objects.filter(role=Role.HOTLINE_OPERATOR).exists()
