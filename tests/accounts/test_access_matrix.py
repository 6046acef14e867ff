"""Every identity endpoint and page as every role: deny by default, no insecure direct object references.

A forbidden object answers exactly like a missing one (404), so ids cannot be
probed. The last test fails when a route is added without a row here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from yiwang.accounts import services
from yiwang.accounts.constants import Role
from yiwang.accounts.models import User
from yiwang.core.identifiers import make_credit_code

from .factories import full_number, make_citizen, make_staff

pytestmark = pytest.mark.django_db

ACTORS = [
    "anonymous",
    "owner",
    "other_citizen",
    "counter_clerk",
    "reviewer",
    "approver",
    "market_admin",
    "police_admin",
    "hotline_operator",
    "grid_worker",
    "supervisor",
    "platform_admin",
]
CASE_STAFF = {"counter_clerk", "reviewer", "approver"}
ADMINS = {"market_admin", "platform_admin"}


@dataclass
class World:
    users: dict[str, Any]
    ids: dict[str, int]


@pytest.fixture
def world() -> World:
    owner = make_citizen("甲业主")
    users: dict[str, Any] = {
        "anonymous": None,
        "owner": owner,
        "other_citizen": make_citizen("乙路人"),
        "counter_clerk": make_staff(Role.COUNTER_CLERK, "market"),
        "reviewer": make_staff(Role.REVIEWER, "market"),
        "approver": make_staff(Role.APPROVER, "market"),
        "market_admin": make_staff(Role.DEPARTMENT_ADMIN, "market"),
        "police_admin": make_staff(Role.DEPARTMENT_ADMIN, "police"),
        "hotline_operator": make_staff(Role.HOTLINE_OPERATOR),
        "grid_worker": make_staff(Role.GRID_WORKER, "xingfu_street"),
        "supervisor": make_staff(Role.SUPERVISOR),
        "platform_admin": make_staff(Role.PLATFORM_ADMIN),
    }
    # Platform administrators also run the Django admin, as in the demo data.
    User.objects.filter(pk=users["platform_admin"].pk).update(is_staff=True, is_superuser=True)
    users["platform_admin"].refresh_from_db()
    helper = make_citizen("丙帮手")
    delegation = services.grant_delegation(
        actor=owner,
        agent_document_type="resident_id",
        agent_document_number=full_number(helper.person),
        relationship="child",
        valid_until=timezone.now() + dt.timedelta(days=10),
    )
    organisation = services.register_organisation(
        actor=owner, name="甲业主商贸有限公司", credit_code=make_credit_code("91", "990100", "MA0X1Y2W")
    )
    clerk = users["counter_clerk"]
    return World(
        users=users,
        ids={
            "person": owner.person_id,
            "delegation": delegation.pk,
            "organisation": organisation.pk,
            "market_clerk": clerk.pk,
            "market_clerk_role": clerk.role_assignments.get().pk,
        },
    )


def expect(allowed: set[str], *, ok: int = 200, anonymous: int = 401, denied: int = 404) -> dict[str, int]:
    return {a: (anonymous if a == "anonymous" else ok if a in allowed else denied) for a in ACTORS}


EVERYONE = set(ACTORS) - {"anonymous"}

# (route name, method, path template, body, expected status per actor)
MATRIX: list[tuple[str, str, str, dict | None, dict[str, int]]] = [
    ("api-v1:me", "get", "/api/v1/accounts/me", None, expect(EVERYONE)),
    ("api-v1:my_data_access", "get", "/api/v1/accounts/me/data-access", None, expect(EVERYONE)),
    ("api-v1:my_delegations", "get", "/api/v1/accounts/me/delegations", None, expect(EVERYONE)),
    (
        "api-v1:create_delegation",
        "post",
        "/api/v1/accounts/me/delegations",
        {
            "agent_document_type": "resident_id",
            "agent_document_number": "1",
            "relationship": "child",
            "valid_until": "2030-01-01",
        },
        # Everyone signed in may try; the bad agent number is refused as bad input, and staff have no person.
        expect(set(), denied=400),
    ),
    (
        "api-v1:revoke_delegation",
        "post",
        "/api/v1/accounts/me/delegations/{delegation}/revoke",
        None,
        expect({"owner"}),
    ),
    # Issue 12 item 1: a person id leads staff nowhere, whatever case they name; they read through a held case.
    ("api-v1:get_person", "get", "/api/v1/accounts/persons/{person}", None, expect({"owner"})),
    (
        "api-v1:reveal_person",
        "post",
        "/api/v1/accounts/persons/{person}/reveal",
        {"fields": ["mobile"], "purpose": "核对申请人", "case_reference": "SQ-1"},
        expect({"owner"}),
    ),
    ("api-v1:list_staff", "get", "/api/v1/accounts/staff", None, expect(ADMINS | {"police_admin"})),
    (
        "api-v1:grant_role",
        "post",
        "/api/v1/accounts/staff/{market_clerk}/roles",
        {"role": "reviewer", "department": "market"},
        expect(ADMINS, ok=201),
    ),
    (
        "api-v1:revoke_role",
        "post",
        "/api/v1/accounts/roles/{market_clerk_role}/revoke",
        None,
        expect(ADMINS, ok=204),
    ),
    ("accounts:home", "get", "/accounts/", None, expect(EVERYONE, anonymous=302)),
    ("accounts:data_access", "get", "/accounts/data-access/", None, expect(EVERYONE, anonymous=302)),
    ("accounts:delegation_new", "get", "/accounts/delegations/new/", None, expect(EVERYONE, anonymous=302)),
    (
        "accounts:delegation_revoke",
        "post",
        "/accounts/delegations/{delegation}/revoke/",
        None,
        expect({"owner"}, ok=302, anonymous=302),
    ),
    ("accounts:organisation_new", "get", "/accounts/organisations/new/", None, expect(EVERYONE, anonymous=302)),
    (
        "accounts:organisation",
        "get",
        "/accounts/organisations/{organisation}/",
        None,
        expect({"owner"}, anonymous=302),
    ),
    ("accounts:staff", "get", "/staff/", None, expect(ADMINS | {"police_admin"}, anonymous=302)),
    ("accounts:staff_detail", "get", "/staff/{market_clerk}/", None, expect(ADMINS, anonymous=302)),
    (
        "accounts:staff_role_revoke",
        "post",
        "/staff/roles/{market_clerk_role}/revoke/",
        None,
        expect(ADMINS, ok=302, anonymous=302),
    ),
]
# The public catalogue answers everyone alike; the admin is only for staff accounts (is_staff).
MATRIX += [
    ("catalog:search", "get", "/search/?q=护照", None, {a: 200 for a in ACTORS}),
    ("api-v1:search", "get", "/api/v1/catalog/search?q=护照", None, {a: 200 for a in ACTORS}),
    ("api-v1:list_items", "get", "/api/v1/catalog/items", None, {a: 200 for a in ACTORS}),
    ("admin:index", "get", "/admin/", None, expect({"platform_admin"}, anonymous=302, denied=302)),
    (
        "admin:accounts_person_changelist",
        "get",
        "/admin/accounts/person/",
        None,
        expect({"platform_admin"}, anonymous=302, denied=302),
    ),
]
# Routes anyone may open (or that only start a login): checked elsewhere.
PUBLIC_ROUTES = {
    "accounts:login",
    "accounts:login_verify",
    "accounts:login_sms",
    "accounts:totp_setup",
    "accounts:logout",
    "accounts:logout_everywhere",
    "accounts:register",
    "accounts:sms_outbox",
    "accounts:organisation_agent_revoke",  # same rule as accounts:organisation, tested in test_pages
}


@pytest.mark.parametrize(("name", "method", "path", "body", "expected"), MATRIX, ids=[row[0] for row in MATRIX])
def test_access(world: World, name: str, method: str, path: str, body: dict | None, expected: dict) -> None:
    url = path.format(**world.ids)
    outcomes = {}
    for actor in ACTORS:
        client = Client()
        user = world.users[actor]
        if user is not None:
            client.force_login(user)
        # Each actor acts on a fresh copy of the world: a revoke by one must not hide the next one's answer.
        with transaction.atomic():
            if method == "get":
                response = client.get(url)
            elif url.startswith("/api/"):
                response = client.post(url, body or {}, content_type="application/json")
            else:
                response = client.post(url, body or {})
            outcomes[actor] = response.status_code
            transaction.set_rollback(True)
    assert outcomes == expected, url


# --- case handling pages (yiwang.cases.urls, yiwang.cases.staff_urls) -----------------------------------

OPENERS = CASE_STAFF | {"supervisor", "platform_admin"}  # who may open a market case on the workbench
PERSONS = {"owner", "other_citizen"}  # accounts with a person: staff accounts apply for nobody
DESK_HOLDERS = {"market_admin", "police_admin", "hotline_operator", "grid_worker"}  # desks outside case handling


@pytest.fixture
def case_world(world: World, settings: Any, tmp_path: Any) -> World:
    """The world, plus the owner's draft with a file and the owner's submitted 食品经营许可 case."""
    from tests.cases import builders
    from tests.cases.conftest import FOOD_LICENCE, item_code
    from yiwang.cases import services as case_services

    settings.STORAGES = {
        **settings.STORAGES,
        "materials": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "materials")},
        },
    }
    owner = world.users["owner"]
    code = item_code(FOOD_LICENCE, "market")
    (case,) = builders.apply(owner, item_code=code)
    draft = case_services.start_application(actor=owner, applicant=case_services.applicant_for(owner), item_code=code)
    builders.fill(draft, owner)
    world.ids.update(
        {
            "food": code,
            "application": draft.pk,
            "draft_file": draft.files.first().pk,
            "submitted_application": case.application_id,
            "case": case.number,
            "case_file": case.application.files.first().pk,
        }
    )
    return world


CASE_MATRIX: list[tuple[str, str, str, dict | None, dict[str, int]]] = [
    ("cases:apply_item", "get", "/apply/item/{food}/", None, expect(PERSONS, anonymous=302, denied=403)),
    ("cases:apply_bundle", "get", "/apply/bundle/open-restaurant/", None, expect(PERSONS, anonymous=302, denied=403)),
    ("cases:application", "get", "/applications/{application}/", None, expect({"owner"}, anonymous=302)),
    (
        "cases:application_upload",
        "post",
        "/applications/{application}/files/",
        None,
        expect({"owner"}, ok=302, anonymous=302),
    ),
    (
        "cases:application_remove_file",
        "post",
        "/applications/{application}/files/{draft_file}/remove/",
        None,
        expect({"owner"}, ok=302, anonymous=302),
    ),
    (
        "cases:application_submit",
        "post",
        "/applications/{application}/submit/",
        None,
        expect({"owner"}, ok=302, anonymous=302),
    ),
    (
        "cases:application_submitted",
        "get",
        "/applications/{submitted_application}/submitted/",
        None,
        expect({"owner"}, anonymous=302),
    ),
    (
        "cases:application_abandon",
        "post",
        "/applications/{application}/abandon/",
        None,
        expect({"owner"}, ok=302, anonymous=302),
    ),
    ("cases:my_cases", "get", "/cases/", None, expect(EVERYONE, anonymous=302)),
    # Staff who may see the case are sent on to the workbench page.
    (
        "cases:case",
        "get",
        "/cases/{case}/",
        None,
        {**expect({"owner"} | OPENERS, anonymous=302), **dict.fromkeys(OPENERS, 302)},
    ),
    ("cases:case_resubmit", "post", "/cases/{case}/resubmit/", None, expect({"owner"}, ok=302, anonymous=302)),
    ("cases:case_withdraw", "post", "/cases/{case}/withdraw/", None, expect({"owner"}, ok=400, anonymous=302)),
    ("cases:case_print", "get", "/cases/{case}/print/receipt/", None, expect({"owner"} | OPENERS, anonymous=302)),
    # Hotline and 好差评 staff find their desks on the workbench (with an empty case queue).
    (
        "workbench:home",
        "get",
        "/workbench/",
        None,
        expect(OPENERS | DESK_HOLDERS, anonymous=302, denied=403),
    ),
    ("workbench:case", "get", "/workbench/cases/{case}/", None, expect(OPENERS, anonymous=302)),
    # An empty form is bad input for those who may open the case; the others never learn it exists.
    ("workbench:act", "post", "/workbench/cases/{case}/actions/accept/", None, expect(OPENERS, ok=400, anonymous=302)),
    (
        "workbench:file",
        "get",
        "/workbench/cases/{case}/files/{case_file}/",
        None,
        expect({"owner"} | OPENERS, anonymous=302),
    ),
    # 查看完整信息: only the holder of the case's open task (the market clerk, at acceptance) reads; others 404.
    (
        "workbench:reveal",
        "post",
        "/workbench/cases/{case}/reveal/",
        {"which": ["mobile"], "purpose": "contact_applicant"},
        expect({"counter_clerk"}, anonymous=302),
    ),
    ("workbench:counter", "get", "/counter/", None, expect({"counter_clerk"}, anonymous=302, denied=403)),
    (
        "workbench:counter_start",
        "post",
        "/counter/start/",
        None,
        expect({"counter_clerk"}, ok=302, anonymous=302, denied=403),
    ),
    (
        "workbench:counter_finish",
        "post",
        "/counter/finish/",
        None,
        expect({"counter_clerk"}, ok=302, anonymous=302, denied=403),
    ),
]
# 办件查询 answers everyone alike; its wrong-pair message and throttle are tested in tests/cases/test_views.py.
PUBLIC_ROUTES |= {"cases:lookup"}


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "expected"), CASE_MATRIX, ids=[row[0] for row in CASE_MATRIX]
)
def test_case_page_access(
    case_world: World, name: str, method: str, path: str, body: dict | None, expected: dict
) -> None:
    test_access(case_world, name, method, path, body, expected)


def _named_routes(patterns: list[Any], namespace: str = "") -> set[str]:
    names: set[str] = set()
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= _named_routes(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}{entry.name}")
    return names


def test_every_identity_route_has_an_access_rule() -> None:
    from yiwang.accounts.api import router

    api_routes = {
        f"api-v1:{operation.view_func.__name__}"
        for path_view in router.path_operations.values()
        for operation in path_view.operations
    }
    page_routes = {
        name
        for name in _named_routes(get_resolver().url_patterns)
        if name.startswith(("accounts:", "cases:", "workbench:"))
    }
    assert api_routes, "the identity API has routes"
    covered = {row[0] for row in MATRIX} | {row[0] for row in CASE_MATRIX} | PUBLIC_ROUTES
    assert (api_routes | page_routes) - covered == set(), "add these routes to MATRIX or PUBLIC_ROUTES"
