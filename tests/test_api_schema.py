"""Schemathesis over /api/v1/openapi.json, in-process: no generated request meets a server error or a
status the schema does not declare -- anonymous, and signed in as a citizen and as every staff role.

The examples are bounded and derandomized (the same requests every run), so the whole run stays within a
couple of minutes; the WSGI application is called directly, with no server or network.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as examples
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.accounts.factories import make_citizen, make_staff
from yiwang.accounts.constants import CITY_WIDE_ROLES, PLATFORM_WIDE_ROLES, Role

pytestmark = pytest.mark.django_db

# Who calls: nobody, and every role (a citizen as the applicant). Staff roles held within a department are
# held in one of the seed catalogue's departments, so their queues and scoped reads are not empty by accident.
ACTORS: dict[str, Role | None] = {"anonymous": None, **{role.value: role for role in Role}}
STAFF_DEPARTMENT = "market"


# Loaded when the module is collected: the schema view reads no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """Django closes a connection whose autocommit differs from its settings at the end of every request;
    the test's transaction is such a connection. Django's test client stops that for its requests; calling
    the WSGI application directly does not, so it is stopped here (on PostgreSQL the test database
    connection would otherwise be closed under the test)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def callers(settings: Any) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Cookies and headers of every actor: a session (signed in) and a matching CSRF pair, so write
    operations reach their handlers instead of stopping at the CSRF check."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    result = {}
    for actor, role in ACTORS.items():
        token = _get_new_csrf_string()
        cookies = {django_settings.CSRF_COOKIE_NAME: token}
        if role is not None:
            user = make_citizen() if role == Role.APPLICANT else _staff(role)
            client = Client()
            client.force_login(user)
            cookies[django_settings.SESSION_COOKIE_NAME] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        result[actor] = (cookies, {"X-CSRFToken": token})
    return result


def _staff(role: Role) -> Any:
    if role in PLATFORM_WIDE_ROLES or role in CITY_WIDE_ROLES:
        return make_staff(role)
    return make_staff(role, STAFF_DEPARTMENT)


@schema.parametrize()
@examples(
    max_examples=3,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_no_undocumented_status(
    case: Any, callers: dict[str, tuple[dict[str, str], dict[str, str]]]
) -> None:
    # Every generated request is sent as every actor: the same input must be handled whoever asks.
    for cookies, headers in callers.values():
        response = case.call(cookies=cookies, headers=headers)
        case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
